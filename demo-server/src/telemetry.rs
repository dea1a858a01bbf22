//! `GET /metrics`: the plugin metrics (`patchpanel_commands_total`,
//! `patchpanel_command_seconds`, the health gauge...) and the server's own HTTP metrics
//! in Prometheus text format, from `metrics-exporter-prometheus`, each family with its
//! `# HELP` line:
//!
//! | name | kind | labels |
//! |---|---|---|
//! | `http_requests_total` | counter | `method`, `route` (the route template, or `unmatched`), `status` |
//! | `http_request_duration_seconds` | histogram | `method`, `route`, `status` |
//! | `patchpanel_plugin_state` | gauge: 1 for the plugin's current state, 0 for every other | `plugin`, `state` (`discovered` ... `failed`, as `GET /plugins` spells it) |
//! | `patchpanel_build_info` | gauge, always 1 | `version` (patchpanel), `backend` (`linkme` or `inventory`), `server` (demo-server's version) |
//!
//! The state gauges are read from the host when `/metrics` is scraped, so they are
//! never stale.

use std::sync::OnceLock;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::AppState;
use crate::errors::ApiError;

/// The `/metrics` route.
pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(render))
}

/// The process's Prometheus recorder, installed on first use. A process has one global
/// metrics recorder, so every server in it (the tests start several) shares this one.
pub fn prometheus() -> Result<PrometheusHandle, String> {
    static HANDLE: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .install_recorder()
                .map_err(|error| format!("cannot install the Prometheus recorder: {error}"))?;
            metrics::describe_counter!(
                "http_requests_total",
                "HTTP requests answered, by method, route template and status"
            );
            metrics::describe_histogram!(
                "http_request_duration_seconds",
                metrics::Unit::Seconds,
                "How long HTTP requests took to answer, by method, route template and status"
            );
            metrics::describe_gauge!(
                "patchpanel_plugin_state",
                "Each plugin's lifecycle state: 1 on the series of its current state, 0 on the others"
            );
            metrics::describe_gauge!(
                "patchpanel_build_info",
                "Always 1; the labels say which patchpanel, registry backend and demo-server this is"
            );
            metrics::gauge!(
                "patchpanel_build_info",
                "version" => patchpanel::manifest::HOST_VERSION,
                "backend" => patchpanel::registry::BACKEND,
                "server" => env!("CARGO_PKG_VERSION")
            )
            .set(1.0);
            Ok(handle)
        })
        .clone()
}

/// Counts each request and times it, by method, route template (so `/greeter/hello/ada`
/// and `/greeter/hello/bob` are one route) and status.
pub async fn http_metrics(request: Request, next: Next) -> axum::response::Response {
    let started = std::time::Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let response = next.run(request).await;
    let labels = [
        ("method", method),
        ("route", route),
        ("status", response.status().as_u16().to_string()),
    ];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels).record(started.elapsed().as_secs_f64());
    response
}

async fn render(State(state): State<AppState>) -> axum::response::Response {
    match &state.metrics {
        Some(handle) => {
            for plugin in state.host.plugins() {
                let current = plugin.state();
                for each in patchpanel::State::ALL {
                    metrics::gauge!(
                        "patchpanel_plugin_state",
                        "plugin" => plugin.id().to_owned(),
                        "state" => each.as_str()
                    )
                    .set(if each == current { 1.0 } else { 0.0 });
                }
            }
            // Always some text, so a scraper sees a valid (if empty) exposition.
            let mut text = handle.render();
            if text.is_empty() {
                text.push_str("# no metrics recorded yet\n");
            }
            ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
        }
        None => ApiError::new(StatusCode::NOT_FOUND, "not_found", "metrics are off in this server").into_response(),
    }
}
