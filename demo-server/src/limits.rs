//! What a misbehaving client meets: a body limit (413), a request timeout (408) and a
//! limit on requests served at once (503 beyond it, rather than an unbounded queue).
//!
//! The timeout covers the whole request, reading the body included, so a client that
//! sends its body slowly is cut off. A client that is slow to send its headers is not
//! covered: axum's `serve` reads them before any layer runs.

use std::time::Duration;

use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use tower::ServiceBuilder;

use crate::errors::ApiError;

/// The server's limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The largest command request body, in bytes.
    pub body_bytes: usize,
    /// How long a request may take, from its first byte to its response.
    pub request_timeout: Duration,
    /// How many requests are served at once; more are refused with 503.
    pub concurrent_requests: usize,
}

impl Default for Limits {
    /// 64 KiB, 10 s, 256 at once.
    fn default() -> Limits {
        Limits {
            body_bytes: 64 * 1024,
            request_timeout: Duration::from_secs(10),
            concurrent_requests: 256,
        }
    }
}

impl Limits {
    /// `router` with the timeout and the concurrency limit around it. The limit counts
    /// every request of the server together: `Router::layer` would give each route a
    /// limit of its own, so the whole router is wrapped as one service.
    pub fn apply(&self, router: Router) -> Router {
        let timeout = self.request_timeout;
        Router::new().fallback_service(router).layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(move |error: tower::BoxError| async move {
                    overloaded_or_timed_out(error, timeout)
                }))
                .load_shed()
                .concurrency_limit(self.concurrent_requests)
                .timeout(timeout),
        )
    }
}

fn overloaded_or_timed_out(error: tower::BoxError, timeout: Duration) -> axum::response::Response {
    if error.is::<tower::timeout::error::Elapsed>() {
        ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "timeout",
            format!("the request took longer than {} ms", timeout.as_millis()),
        )
        .into_response()
    } else if error.is::<tower::load_shed::error::Overloaded>() {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            "the server is serving as many requests as it allows; retry shortly",
        )
        .into_response()
    } else {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", error.to_string()).into_response()
    }
}
