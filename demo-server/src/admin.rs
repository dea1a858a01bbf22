//! The admin API: `GET /plugins` and `POST /plugins/{id}/{disable,enable,reload}`; the
//! changes need an admin credential from this server's own origin ([`crate::auth`]).
//!
//! Lifecycle changes wait for the calls in flight (that is the point of them), so they
//! run on tokio's blocking pool, never on a worker thread that serves requests.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use patchpanel::DependentsPolicy;
use serde::Deserialize;

use crate::AppState;
use crate::errors::ApiError;

/// The admin routes; the lifecycle changes behind [`crate::auth::require_admin`].
pub fn router(state: &AppState) -> Router<AppState> {
    let changes = Router::new()
        .route("/plugins/{id}/disable", post(disable))
        .route("/plugins/{id}/enable", post(enable))
        .route("/plugins/{id}/reload", post(reload))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::auth::require_admin,
        ));
    Router::new()
        .route("/plugins", get(list))
        .route("/healthz", get(liveness))
        .route("/readyz", get(readiness))
        .merge(changes)
}

/// `?cascade=true`: take the plugin's active dependents down (or back up) with it.
#[derive(Debug, Default, Deserialize)]
pub struct Cascade {
    /// Whether to cascade.
    #[serde(default)]
    pub cascade: bool,
}

async fn list(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(demo_app::list_json(&state.host))
}

/// `GET /healthz`: liveness. The process answers; nothing else is checked.
async fn liveness() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "alive" }))
}

/// `GET /readyz`: readiness, the host's health verdict (200 when healthy, 503 when
/// not), with every plugin's health. The checks run on the blocking pool: they are
/// plugin code, bounded in time but not pre-emptible.
async fn readiness(State(state): State<AppState>) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let host = state.host.clone();
    let report = blocking(move || host.health()).await?;
    let status = if report.is_healthy() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    Ok((status, Json(demo_app::health_json(&report))))
}

/// The plugin's entry in `GET /plugins`, after a change.
fn plugin_json(state: &AppState, id: &str) -> serde_json::Value {
    demo_app::list_json(&state.host)
        .as_array()
        .and_then(|plugins| plugins.iter().find(|plugin| plugin["id"] == id).cloned())
        .unwrap_or(serde_json::Value::Null)
}

async fn disable(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(cascade): Query<Cascade>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let policy = if cascade.cascade {
        DependentsPolicy::Cascade
    } else {
        DependentsPolicy::Refuse
    };
    let host = state.host.clone();
    let target = id.clone();
    let disabled = blocking(move || host.disable_with(&target, policy)).await??;
    Ok(Json(
        serde_json::json!({ "plugin": plugin_json(&state, &id), "disabled": disabled }),
    ))
}

async fn enable(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<serde_json::Value>, ApiError> {
    let host = state.host.clone();
    let target = id.clone();
    blocking(move || host.enable(&target)).await??;
    Ok(Json(serde_json::json!({ "plugin": plugin_json(&state, &id) })))
}

async fn reload(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<serde_json::Value>, ApiError> {
    let host = state.host.clone();
    let target = id.clone();
    let report = blocking(move || host.reload(&target)).await??;
    Ok(Json(serde_json::json!({
        "plugin": plugin_json(&state, &id),
        "generation": report.generation,
        "oldDeactivate": report.old_deactivate.err().map(|failure| failure.to_string()),
    })))
}

/// Runs a lifecycle change on the blocking pool.
async fn blocking<T: Send + 'static>(run: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(run).await.map_err(|error| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("the lifecycle change did not finish: {error}"),
        )
    })
}
