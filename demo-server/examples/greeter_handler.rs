//! The load benchmark's second baseline: greeter's own route handler (the one it
//! contributes through `patchpanel_web::WebRoutes`), mounted by hand in a plain axum app
//! at a fixed path, behind the same limits layer, with the same plugin host behind it.
//! Against demo-server's contributed route, this isolates what demo-server's generic
//! mounting of plugin routes costs (the route table built from every provider, the
//! request's headers and parameters handed over, the per-request provider lookup), since
//! the handler and the host work it does are the same. `plain_greeter` is the other
//! baseline: the same work written by hand, with no plugin host at all.
//!
//! `cargo run --release -p demo-server --example greeter_handler -- --port 8082`

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use patchpanel::services::Service;
use patchpanel_web::{Method, Route, WebRequest, WebRoutes};

struct Mounted {
    service: Service<dyn WebRoutes>,
    route: Route,
}

async fn hello(State(mounted): State<Arc<Mounted>>, Path(name): Path<String>) -> Response {
    let request = WebRequest::new(vec![("name".to_owned(), name)], Vec::new(), Vec::new());
    let answered = mounted
        .service
        .with_provider_async("greeter", |greeter| greeter.handle(&mounted.route, request))
        .await;
    match answered {
        Ok(response) => demo_server::plugin_routes::http_response(response),
        Err(error) => (StatusCode::SERVICE_UNAVAILABLE, error.to_string()).into_response(),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let port: u16 = std::env::args()
        .skip_while(|arg| arg != "--port")
        .nth(1)
        .map_or(8082, |port| port.parse().expect("a port number"));
    // Set up as demo-server is for the load benchmark: in memory, metrics on and
    // exported to Prometheus.
    let _metrics = demo_server::telemetry::prometheus().map_err(anyhow::Error::msg)?;
    let setup = demo_app::Setup {
        metrics: true,
        ..demo_app::Setup::default()
    };
    let host = patchpanel::blocking::unblock(move || demo_app::start_with(setup)).await?;
    let service = host.service::<dyn WebRoutes>()?;
    let route = service
        .with_provider("greeter", |greeter| greeter.routes())?
        .into_iter()
        .find(|route| route.method == Method::Get && route.path == "/hello/{name}")
        .ok_or_else(|| anyhow::anyhow!("greeter contributes no GET /hello/{{name}}"))?;
    let app = Router::new()
        .route("/greeter/hello/{name}", get(hello))
        .with_state(Arc::new(Mounted { service, route }));
    let app = demo_server::Limits::default().apply(app);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    eprintln!("greeter_handler listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    drop(host);
    Ok(())
}
