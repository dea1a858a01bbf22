//! The routes plugins contribute: every active provider of
//! [`patchpanel_web::WebRoutes`] has its routes mounted under its id.
//!
//! The route table is read once, when the server starts. Each request then reaches the
//! instance serving at that moment: the handler is looked up per request and its future
//! counted in flight in the plugin ([`patchpanel::services::Service::with_provider_async`]), so a
//! reload lets the request finish on the instance that started it and drops no request,
//! and `disable` waits for it. While the plugin is disabled its routes answer 503.

use std::sync::Arc;

use axum::Router;
use axum::extract::{RawPathParams, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, on};
use patchpanel::{Host, services::Service};
use patchpanel_web::{Method, Route, WebRequest, WebRoutes};

use crate::errors::ApiError;

/// One route per contributed route, `/<plugin-id><path>`.
pub fn router(host: &Host) -> Router {
    let mut router = Router::new();
    let Ok(service) = host.service::<dyn WebRoutes>() else {
        return router;
    };
    let service = Arc::new(service);
    for plugin in service.active_providers() {
        let Ok(routes) = service.with_provider(&plugin, |provided| provided.routes()) else {
            continue;
        };
        for route in routes {
            let path = format!("/{plugin}{}", route.path);
            let filter = match route.method {
                Method::Get => MethodFilter::GET,
                Method::Post => MethodFilter::POST,
                Method::Put => MethodFilter::PUT,
                Method::Delete => MethodFilter::DELETE,
            };
            // One allocation per route, shared by its requests: a request clones an
            // `Arc`, not the plugin id and the route.
            let mount = Arc::new(Mount {
                service: Arc::clone(&service),
                plugin: plugin.clone(),
                route,
            });
            let handler = move |request: Request| serve(Arc::clone(&mount), request);
            router = router.route(&path, on(filter, handler));
        }
    }
    router
}

/// What a contributed route's requests share: the service, the providing plugin and
/// the route.
struct Mount {
    service: Arc<Service<dyn WebRoutes>>,
    plugin: String,
    route: Route,
}

/// The largest body a contributed route accepts, as axum's own `Bytes` extractor.
const BODY_LIMIT: usize = 2 << 20;

async fn serve(mount: Arc<Mount>, request: Request) -> Response {
    // The request taken whole, so that its headers move instead of being cloned, and a
    // GET's (empty) body is not read.
    let (mut parts, body) = request.into_parts();
    // The raw (percent-decoded) parameters, copied once: deserializing them as
    // `Path<Vec<(String, String)>>` went through serde for the same strings.
    let params: Vec<(String, String)> = match axum::RequestPartsExt::extract::<RawPathParams>(&mut parts).await {
        Ok(raw) => raw
            .iter()
            .map(|(key, value)| (key.to_owned(), value.to_owned()))
            .collect(),
        Err(rejection) => return rejection.into_response(),
    };
    let body = if mount.route.method == Method::Get {
        Vec::new()
    } else {
        match axum::body::to_bytes(body, BODY_LIMIT).await {
            Ok(bytes) => bytes.to_vec(),
            Err(_) => {
                return ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too_large",
                    format!("the body is over {BODY_LIMIT} bytes, or could not be read"),
                )
                .into_response();
            }
        }
    };
    let headers = parts
        .headers
        .iter()
        .filter_map(|(name, value)| Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned())))
        .collect();
    let request = WebRequest::new(params, headers, body);
    // Counted in flight in the plugin until the response is made: a reload lets this
    // request finish on the instance that started it, and `disable` waits for it. The
    // handler's synchronous part is plugin code that may wait on storage (a durable
    // write waits for its group's commit), so it runs on the blocking pool, never on a
    // worker that serves other requests; its future is awaited here.
    let plugin = mount.plugin.clone();
    let started = tokio::task::spawn_blocking(move || {
        let Mount { service, plugin, route } = &*mount;
        service.with_provider_async(plugin, |provided| provided.handle(route, request))
    })
    .await;
    let answered = match started {
        Ok(future) => future.await,
        Err(error) => {
            return ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                format!("the route of `{plugin}` did not run: {error}"),
            )
            .into_response();
        }
    };
    let response = match answered {
        Ok(response) => response,
        Err(error) => {
            return ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "not_active",
                format!("the routes of `{plugin}` are not served now: {error}"),
            )
            .into_response();
        }
    };
    http_response(response)
}

/// A plugin's [`patchpanel_web::WebResponse`] as an HTTP response: its status (500 if it
/// is not a valid one), body and content type.
pub fn http_response(response: patchpanel_web::WebResponse) -> Response {
    let status = StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut answer = (status, response.body).into_response();
    answer
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(response.content_type));
    answer
}
