//! The load benchmark's baseline: greeter's route written straight into a plain axum
//! app, with no plugin host. It does the work the plugin's route does, by hand: counts
//! the greeting per name (under a lock, as the in-memory store does), remembers the last
//! name, counts greetings, appends the `[audited]` decoration, and answers the same
//! JSON, behind the same limits layer. `demo-server/bench/load.sh` runs it beside
//! `demo-server` and compares the two.
//!
//! `cargo run --release -p demo-server --example plain_greeter -- --port 8081`

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};

#[derive(Default)]
struct Greeter {
    counts: Mutex<HashMap<String, u64>>,
    last: Mutex<Option<String>>,
    greeted: AtomicU64,
}

async fn hello(State(greeter): State<Arc<Greeter>>, Path(name): Path<String>) -> Json<serde_json::Value> {
    let count = {
        let mut counts = greeter.counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = counts.entry(format!("greeter/count/{name}")).or_insert(0);
        *count += 1;
        *count
    };
    greeter.greeted.fetch_add(1, Ordering::Relaxed);
    let mut message = format!("Hello, {name}!");
    message.push_str(" [audited]");
    *greeter.last.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(name);
    Json(serde_json::json!({ "message": message, "count": count }))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .skip_while(|arg| arg != "--port")
        .nth(1)
        .map_or(8081, |port| port.parse().expect("a port number"));
    let app = Router::new()
        .route("/greeter/hello/{name}", get(hello))
        .with_state(Arc::new(Greeter::default()));
    // The same timeout, concurrency limit and load shedding as demo-server, so that
    // the comparison isolates the plugin host.
    let app = demo_server::Limits::default().apply(app);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    eprintln!("plain_greeter listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await
}
