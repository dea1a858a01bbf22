//! HTTP errors: every failure is a JSON body `{"error": {"kind", "message"}}` with the
//! status its kind calls for.
//!
//! | kind | status |
//! |---|---|
//! | `bad_request` (malformed JSON, no body, a request that does not fit the command) | 400 |
//! | `rejected` (a guard or middleware refused), `denied` | 403 |
//! | `unknown_command`, `unknown_plugin`, `not_found` | 404 |
//! | `timeout` (the request took longer than the limit) | 408 |
//! | `refused` (a lifecycle change the policy refuses) | 409 |
//! | `too_large` (the body is over the limit) | 413 |
//! | `unsupported_media_type` (no `content-type: application/json`) | 415 |
//! | `handler` (the handler failed or panicked), `internal` | 500 |
//! | `not_active` (the plugin is not serving), `overloaded` | 503 |
//! | `unauthorized` (no admin credential) | 401 |
//! | `forbidden` (an admin request from another origin) | 403 |
//! | `method_not_allowed` | 405 |
//!
//! [`json_errors`] wraps the whole server, so the answers the router and the limits
//! layers make themselves (404 for an unknown path, 405, a body limit's 413) have the
//! same shape. Two answers are made by the HTTP server before any layer runs and keep
//! hyper's empty body: 414 (request line too long) and 431 (headers too large).

use axum::Json;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use patchpanel::{
    commands::{DispatchError, DispatchErrorKind},
    lifecycle::LifecycleError,
};

/// An error answered over HTTP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable, machine-readable kind (see the table above).
    pub kind: &'static str,
    /// The host's message: what went wrong and how to fix it.
    pub message: String,
}

impl ApiError {
    /// An error of `kind` with `status` and `message`.
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            kind,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": { "kind": self.kind, "message": self.message } });
        (self.status, Json(body)).into_response()
    }
}

impl From<DispatchError> for ApiError {
    fn from(error: DispatchError) -> ApiError {
        let message = error.to_string();
        let (status, kind) = match error.kind() {
            DispatchErrorKind::UnknownCommand { .. } => (StatusCode::NOT_FOUND, "unknown_command"),
            DispatchErrorKind::Json { .. } | DispatchErrorKind::WrongType { .. } => {
                (StatusCode::BAD_REQUEST, "bad_request")
            }
            DispatchErrorKind::Rejected { .. } => (StatusCode::FORBIDDEN, "rejected"),
            DispatchErrorKind::Denied(_) => (StatusCode::FORBIDDEN, "denied"),
            DispatchErrorKind::NotActive { .. } | DispatchErrorKind::GuardDown { .. } => {
                (StatusCode::SERVICE_UNAVAILABLE, "not_active")
            }
            DispatchErrorKind::Handler { .. } | DispatchErrorKind::Panicked { .. } => {
                (StatusCode::INTERNAL_SERVER_ERROR, "handler")
            }
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        ApiError::new(status, kind, message)
    }
}

impl From<LifecycleError> for ApiError {
    fn from(error: LifecycleError) -> ApiError {
        let message = error.to_string();
        let (status, kind) = match &error {
            LifecycleError::UnknownPlugin { .. } => (StatusCode::NOT_FOUND, "unknown_plugin"),
            LifecycleError::DependentsActive { .. }
            | LifecycleError::DependencyInactive { .. }
            | LifecycleError::InvalidTransition { .. } => (StatusCode::CONFLICT, "refused"),
            LifecycleError::ReloadFailed { .. } | LifecycleError::Failed { .. } => {
                (StatusCode::INTERNAL_SERVER_ERROR, "handler")
            }
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        ApiError::new(status, kind, message)
    }
}

/// Gives every error answer the JSON shape: one the handlers made is passed through; a
/// plain one (the router's 404 and 405, a limit's 413) is rewritten, keeping its status
/// and its text as the message.
pub async fn json_errors(request: Request, next: Next) -> Response {
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_owned())
        .unwrap_or_default();
    let (kind, message) = match status {
        StatusCode::NOT_FOUND => ("not_found", format!("no route answers `{method} {path}`")),
        StatusCode::METHOD_NOT_ALLOWED => {
            let allowed = parts
                .headers
                .get(header::ALLOW)
                .and_then(|value| value.to_str().ok())
                .unwrap_or("another method");
            (
                "method_not_allowed",
                format!("`{path}` does not take {method}; it takes {allowed}"),
            )
        }
        StatusCode::PAYLOAD_TOO_LARGE => ("too_large", non_empty(text, "the body is over the limit")),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            non_empty(text, "send the body as `content-type: application/json`"),
        ),
        status if status.is_server_error() => ("internal", non_empty(text, status.as_str())),
        _ => (
            "bad_request",
            non_empty(text, status.canonical_reason().unwrap_or("bad request")),
        ),
    };
    let mut rewritten = ApiError::new(status, kind, message).into_response();
    if let Some(allow) = parts.headers.get(header::ALLOW) {
        rewritten.headers_mut().insert(header::ALLOW, allow.clone());
    }
    rewritten
}

fn non_empty(text: String, otherwise: &str) -> String {
    if text.is_empty() { otherwise.to_owned() } else { text }
}
