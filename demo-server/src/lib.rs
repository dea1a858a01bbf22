//! `demo-server`: the demo plugins behind HTTP.
//!
//! The same plugin set as `demo-app` (switched by the same Cargo features), served by
//! axum on tokio:
//!
//! - `GET /plugins`: the plugins, as `demo-app list --json` prints them;
//! - `POST /plugins/{id}/disable`, `/enable`, `/reload` (`?cascade=true`): the
//!   resulting state, or an error naming the reason (404 unknown id, 409 refused). These
//!   need the admin token (`Authorization: Bearer <token>`) or the admin page's session,
//!   and refuse other origins ([`auth`]);
//! - `POST /commands/{id}`: the JSON command boundary, with request headers
//!   `x-patchpanel-<name>` as command metadata `<name>`;
//! - the routes plugins contribute ([`patchpanel_web::WebRoutes`]), each under its
//!   plugin's id: greeter's `GET /greeter/hello/{name}`;
//! - `GET /metrics`: the plugin metrics in Prometheus text format;
//! - `GET /`: an HTML admin page with the plugins, their dependency graph and
//!   disable, enable and reload buttons, behind a login with the admin token
//!   (`POST /login`).
//!
//! Errors are JSON, `{"error": {"kind": ..., "message": ...}}`, with the status the
//! kind calls for ([`errors`]). The limits ([`Limits`]) bound the body size, the time a
//! request may take and how many run at once.

pub mod admin;
pub mod auth;
pub mod commands;
pub mod errors;
pub mod limits;
pub mod page;
pub mod plugin_routes;
pub mod serve;
pub mod telemetry;

use std::sync::Arc;

use axum::Router;
use patchpanel::Host;

pub use limits::Limits;

/// What every handler shares: the host, the Prometheus handle that renders metrics, and
/// the admin credential.
#[derive(Clone)]
pub struct AppState {
    /// The plugin host.
    pub host: Arc<Host>,
    /// Renders `/metrics`; `None` when metrics are off.
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// Who may run the admin API.
    pub auth: Arc<auth::AdminAuth>,
}

/// Locks `mutex`, recovering it if a panic poisoned it (the data it guards is written
/// whole under the lock).
pub(crate) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The whole application: the admin API, the command boundary, the plugins' routes,
/// metrics and the admin page, under `limits`.
pub fn app(state: AppState, limits: &Limits) -> Router {
    let routes = Router::new()
        .merge(admin::router(&state))
        .merge(commands::router(limits))
        .merge(page::router())
        .merge(telemetry::router())
        .with_state(state.clone())
        .merge(plugin_routes::router(&state.host))
        .layer(axum::middleware::from_fn(telemetry::http_metrics));
    limits
        .apply(routes)
        .layer(axum::middleware::from_fn(errors::json_errors))
}
