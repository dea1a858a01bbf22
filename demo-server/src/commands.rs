//! `POST /commands/{id}`: the JSON command boundary over HTTP.
//!
//! The body is the command's JSON request (`content-type: application/json`). Request
//! headers `x-patchpanel-<name>: <value>` become command metadata `<name>`, which is how
//! a token reaches auth-guard: `x-patchpanel-token: demo-token`. The command runs the
//! async way ([`patchpanel::Host::execute_json_async_with`]), so an async command's
//! future is awaited on this server's executor and a synchronous one answers at once.
//!
//! A body over the limit is answered 413 after the server has read (and dropped) what
//! the client sends, up to [`DRAIN_BYTES`]: a client that writes its whole request
//! before reading the answer then reads the 413 instead of a reset connection. Beyond
//! that the connection is closed; the request timeout bounds the time either way.

use axum::body::{Body, Bytes};
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::post;
use axum::{Json, Router};
use http_body_util::BodyExt as _;

use crate::errors::ApiError;
use crate::{AppState, Limits};

/// The prefix of headers that become command metadata.
pub const METADATA_PREFIX: &str = "x-patchpanel-";

/// How much of an over-limit body the server reads and drops before it answers 413.
pub const DRAIN_BYTES: usize = 16 << 20;

/// The largest command request body, for the handler.
#[derive(Clone, Copy, Debug)]
struct BodyLimit(usize);

/// The command route, with the body limit.
pub fn router(limits: &Limits) -> Router<AppState> {
    Router::new()
        .route("/commands/{id}", post(execute))
        .layer(Extension(BodyLimit(limits.body_bytes)))
}

/// The body, if it is at most `limit` bytes; otherwise `None`, after reading and
/// dropping the rest of it up to [`DRAIN_BYTES`].
async fn read_limited(mut body: Body, limit: usize) -> Result<Option<Bytes>, axum::Error> {
    let mut collected = Vec::new();
    let mut total = 0_usize;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else { continue };
        total = total.saturating_add(data.len());
        if total <= limit {
            collected.extend_from_slice(&data);
        } else if total > DRAIN_BYTES {
            break;
        }
    }
    Ok((total <= limit).then(|| Bytes::from(collected)))
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
    Extension(BodyLimit(limit)): Extension<BodyLimit>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<serde_json::Value>, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the request body of `{id}` is over the server's limit ({limit} bytes); send a smaller request"),
        )
    };
    let body = read_limited(body, limit)
        .await
        .map_err(|error| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("the request body could not be read: {error}"),
            )
        })?
        .ok_or_else(too_large)?;
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
    // The dispatch (and a synchronous handler, which may wait on a durable write's
    // commit) runs on the blocking pool, not on a worker; what is awaited here owns
    // everything it needs.
    let host = state.host.clone();
    let pending = tokio::task::spawn_blocking(move || {
        let borrowed: Vec<(&str, &str)> = metadata.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        host.execute_json_async_with(&id, request, &borrowed)
    })
    .await
    .map_err(|error| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("the command did not run: {error}"),
        )
    })?;
    Ok(Json(pending.await?))
}
