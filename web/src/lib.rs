//! HTTP routes that patchpanel plugins contribute, in types that name no web framework.
//!
//! A plugin provides the service [`WebRoutes`] (`context.provide::<dyn WebRoutes>(..)`,
//! which needs `services.provide`); a server finds every active provider and mounts
//! each route under the provider's id: the route `GET /hello/{name}` of plugin
//! `greeter` answers at `GET /greeter/hello/{name}`. Each request reaches whichever
//! instance of the plugin serves at that moment (the server looks the provider up per
//! request), so a reload swaps the handler without dropping requests.
//!
//! The core knows nothing of HTTP; `demo-server` mounts these on axum.
//!
//! ```
//! use patchpanel_web::{Method, Route, WebRequest, WebResponse, WebRoutes};
//! use patchpanel::commands::BoxFuture;
//!
//! struct Hello;
//!
//! impl WebRoutes for Hello {
//!     fn routes(&self) -> Vec<Route> {
//!         vec![Route::new(Method::Get, "/hello/{name}")]
//!     }
//!     fn handle(&self, _route: &Route, request: WebRequest) -> BoxFuture<'static, WebResponse> {
//!         let name = request.param("name").unwrap_or("world").to_owned();
//!         Box::pin(async move { WebResponse::text(200, format!("Hello, {name}!")) })
//!     }
//! }
//!
//! let request = WebRequest::new(vec![("name".into(), "ada".into())], Vec::new(), Vec::new());
//! let response = patchpanel::blocking::block_on(Hello.handle(&Hello.routes()[0], request));
//! assert_eq!((response.status, response.body), (200, b"Hello, ada!".to_vec()));
//! ```

use patchpanel::commands::BoxFuture;

/// An HTTP method a route answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
    /// `PUT`.
    Put,
    /// `DELETE`.
    Delete,
}

impl Method {
    /// The method's name, upper case.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }
}

/// One route: a method and a path relative to the plugin's prefix, with `{name}`
/// segments for parameters (`/hello/{name}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// The method it answers.
    pub method: Method,
    /// The path under the plugin's prefix; starts with `/`.
    pub path: String,
}

impl Route {
    /// A route for `method` at `path` (relative to the plugin's prefix, starting with `/`).
    pub fn new(method: Method, path: impl Into<String>) -> Route {
        Route {
            method,
            path: path.into(),
        }
    }
}

/// A request as a route handler sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WebRequest {
    /// The path parameters, by name.
    pub params: Vec<(String, String)>,
    /// The request headers, names lower case.
    pub headers: Vec<(String, String)>,
    /// The body, as received.
    pub body: Vec<u8>,
}

impl WebRequest {
    /// A request with these parameters, headers and body.
    pub fn new(params: Vec<(String, String)>, headers: Vec<(String, String)>, body: Vec<u8>) -> WebRequest {
        WebRequest { params, headers, body }
    }

    /// The path parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The header `name` (give it lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// A response from a route handler.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebResponse {
    /// The HTTP status code.
    pub status: u16,
    /// The `content-type` header.
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
}

impl WebResponse {
    /// A `text/plain` response.
    pub fn text(status: u16, body: impl Into<String>) -> WebResponse {
        WebResponse {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.into().into_bytes(),
        }
    }

    /// An `application/json` response with `value` serialized (a 500 naming the type if
    /// it does not serialize).
    pub fn json<T: serde::Serialize>(status: u16, value: &T) -> WebResponse {
        match serde_json::to_vec(value) {
            Ok(body) => WebResponse {
                status,
                content_type: "application/json",
                body,
            },
            Err(error) => WebResponse::text(
                500,
                format!(
                    "the response `{}` does not serialize: {error}",
                    std::any::type_name::<T>()
                ),
            ),
        }
    }
}

/// The routes a plugin contributes, provided as a service (`dyn WebRoutes`).
pub trait WebRoutes: Send + Sync {
    /// The routes, relative to the plugin's prefix. A server reads them when it starts.
    fn routes(&self) -> Vec<Route>;

    /// Answers a request for `route` (one of [`WebRoutes::routes`]). The server calls it
    /// inside the plugin (a disable or reload waits for the call to return) and awaits
    /// the future it returns on its own executor.
    fn handle(&self, route: &Route, request: WebRequest) -> BoxFuture<'static, WebResponse>;
}
