//! `demo-server`: the demo plugins behind HTTP.
//!
//! The same plugin set as `demo-app` (switched by the same Cargo features), served by
//! axum on tokio:
//!
//! - `GET /plugins`: the plugins, as `demo-app list --json` prints them;
//! - `POST /plugins/{id}/disable`, `/enable`, `/reload` (`?cascade=true`): the
//!   resulting state, or an error naming the reason (404 unknown id, 409 refused);
//! - `POST /commands/{id}`: the JSON command boundary, with request headers
//!   `x-patchpanel-<name>` as command metadata `<name>`;
//! - the routes plugins contribute ([`patchpanel_web::WebRoutes`]), each under its
//!   plugin's id: greeter's `GET /greeter/hello/{name}`;
//! - `GET /metrics`: the plugin metrics in Prometheus text format;
//! - `GET /`: an HTML admin page with the plugins, their dependency graph and
//!   disable, enable and reload buttons.
//!
//! Errors are JSON, `{"error": {"kind": ..., "message": ...}}`, with the status the
//! kind calls for ([`errors`]). The limits ([`Limits`]) bound the body size, the time a
//! request may take and how many run at once.

pub mod admin;
pub mod commands;
pub mod errors;
pub mod limits;
pub mod page;
pub mod plugin_routes;
pub mod telemetry;

use std::sync::Arc;

use axum::Router;
use patchpanel::Host;

pub use limits::Limits;

/// What every handler shares: the host, and the Prometheus handle that renders metrics.
#[derive(Clone)]
pub struct AppState {
    /// The plugin host.
    pub host: Arc<Host>,
    /// Renders `/metrics`; `None` when metrics are off.
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
}

/// The whole application: the admin API, the command boundary, the plugins' routes,
/// metrics and the admin page, under `limits`.
pub fn app(state: AppState, limits: &Limits) -> Router {
    let routes = Router::new()
        .merge(admin::router())
        .merge(commands::router(limits))
        .merge(page::router())
        .merge(telemetry::router())
        .with_state(state.clone())
        .merge(plugin_routes::router(&state.host));
    limits.apply(routes)
}
