//! `POST /commands/{id}`: the JSON command boundary over HTTP.
//!
//! The body is the command's JSON request (`content-type: application/json`). Request
//! headers `x-patchpanel-<name>: <value>` become command metadata `<name>`, which is how
//! a token reaches auth-guard: `x-patchpanel-token: demo-token`. The command runs the
//! async way ([`patchpanel::Host::execute_json_async_with`]), so an async command's
//! future is awaited on this server's executor and a synchronous one answers at once.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::post;
use axum::{Json, Router};

use crate::errors::ApiError;
use crate::{AppState, Limits};

/// The prefix of headers that become command metadata.
pub const METADATA_PREFIX: &str = "x-patchpanel-";

/// The command route, with the body limit.
pub fn router(limits: &Limits) -> Router<AppState> {
    Router::new()
        .route("/commands/{id}", post(execute))
        .layer(DefaultBodyLimit::max(limits.body_bytes))
}

/// The metadata carried by `headers`: each `x-patchpanel-<name>` as `(<name>, value)`.
/// Values that are not visible ASCII are left out.
pub fn metadata(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter_map(|(name, value)| {
            let key = name.as_str().strip_prefix(METADATA_PREFIX)?;
            Some((key.to_owned(), value.to_str().ok()?.to_owned()))
        })
        .collect()
}

async fn execute(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("the request body of `{id}` is over the server's limit; send a smaller request"),
            )
        } else {
            ApiError::new(StatusCode::BAD_REQUEST, "bad_request", rejection.body_text())
        }
    })?;
    let json_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value
                .split(';')
                .next()
                .is_some_and(|kind| kind.trim() == "application/json")
        });
    if !json_type {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("a command request is JSON: send `{id}` with `content-type: application/json`"),
        ));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("no request body: send `{id}` its request as JSON (`null` for a command that takes `()`)"),
        ));
    }
    let request: serde_json::Value = serde_json::from_slice(&body).map_err(|error| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("the request body of `{id}` is not JSON: {error}"),
        )
    })?;
    let metadata = metadata(&headers);
    let borrowed: Vec<(&str, &str)> = metadata.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    // The dispatch runs here; what is awaited owns everything it needs.
    let pending = state.host.execute_json_async_with(&id, request, &borrowed);
    Ok(Json(pending.await?))
}
