//! `GET /metrics`: the plugin metrics (`patchpanel_commands_total`,
//! `patchpanel_command_seconds`, lifecycle gauges...) in Prometheus text format, from
//! `metrics-exporter-prometheus`.

use std::sync::OnceLock;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
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
            PrometheusBuilder::new()
                .install_recorder()
                .map_err(|error| format!("cannot install the Prometheus recorder: {error}"))
        })
        .clone()
}

async fn render(State(state): State<AppState>) -> axum::response::Response {
    match &state.metrics {
        Some(handle) => {
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
