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

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use patchpanel::{DispatchError, DispatchErrorKind, LifecycleError};

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
