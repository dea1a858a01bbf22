//! The admin API: `GET /plugins` and `POST /plugins/{id}/{disable,enable,reload}`; the
//! changes need an admin credential from this server's own origin ([`crate::auth`]).
//!
//! Lifecycle changes wait for the calls in flight (that is the point of them), so they
//! run on tokio's blocking pool, never on a worker thread that serves requests.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use patchpanel::host::DependentsPolicy;
use serde::Deserialize;

use crate::AppState;
use crate::errors::ApiError;

/// The admin routes; the lifecycle changes behind [`crate::auth::require_admin`].
pub fn router(state: &AppState) -> Router<AppState> {
    // The lifecycle changes, and the detail view, which shows configuration and audit.
    let changes = Router::new()
        .route("/plugins/{id}", get(detail))
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

/// How many audit records the detail view shows, newest last.
const DETAIL_AUDIT_RECORDS: usize = 20;

/// `GET /plugins/{id}` (admin): the plugin's entry in `GET /plugins`, and what an
/// operator checks before acting on it: its description, its permissions with their
/// scopes and what the application grants it, what it contributes (commands, services,
/// hooks, subscriptions, routes), which running plugins depend on it, and its most
/// recent audit records.
async fn detail(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<serde_json::Value>, ApiError> {
    let plugin = state.host.plugin(&id)?;
    let manifest = plugin.manifest();
    let permissions: Vec<serde_json::Value> = manifest
        .permissions
        .iter()
        .map(|permission| {
            serde_json::json!({
                "permission": format!("{}.{}", permission.resource, permission.action),
                "scope": permission.scope.as_str(),
            })
        })
        .collect();
    let granted = demo_app::linked_grants()
        .into_iter()
        .find(|(granted_to, _)| *granted_to == id)
        .map(|(_, grants)| grants);
    let capabilities: Vec<serde_json::Value> = plugin
        .capabilities()
        .into_iter()
        .map(|capability| serde_json::json!({ "kind": capability.kind, "name": capability.name }))
        .collect();
    let dependents: Vec<&str> = state
        .host
        .plugins()
        .filter(|other| other.dependencies().contains(&id.as_str()))
        .map(|other| other.id())
        .collect();
    let records = state.host.audit().records_for(&id);
    let recent = &records[records.len().saturating_sub(DETAIL_AUDIT_RECORDS)..];
    Ok(Json(serde_json::json!({
        "plugin": plugin_json(&state, &id),
        "description": manifest.description,
        "type": plugin.type_name(),
        "permissions": permissions,
        "granted": granted,
        "capabilities": capabilities,
        "dependents": dependents,
        "audit": recent,
    })))
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
