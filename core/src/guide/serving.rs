//! # Serving over HTTP
//!
//! The core knows no HTTP framework. A server puts a host behind HTTP with four things
//! the host already offers:
//!
//! - the JSON boundary: [`Host::execute_json_async_with`](crate::Host::execute_json_async_with)
//!   runs any command, sync or async, from a JSON value and request metadata (headers);
//! - the plugin list and lifecycle changes for an admin API: [`Host::plugins`](crate::Host::plugins),
//!   [`Host::disable`](crate::Host::disable), [`enable`](crate::Host::enable),
//!   [`reload`](crate::Host::reload), all through `&Host`;
//! - health for `/healthz` and `/readyz` ([health](super::health));
//! - metrics through the `metrics` facade ([`metrics`](crate::metrics)).
//!
//! ```
//! use patchpanel::blocking::block_on;
//! use patchpanel::commands::DispatchErrorKind;
//! use patchpanel::testing::{fn_plugin, with_every_permission};
//! use patchpanel::{Host, Manifest};
//!
//! let greeter = fn_plugin(with_every_permission(Manifest::builder("greeter", "1.0.0")).build()?, |context| {
//!     context.command("hello", |_, name: String| Ok(format!("Hello, {name}!")))?;
//!     Ok(())
//! });
//! let host = Host::builder().plugins(vec![greeter]).build()?;
//!
//! // What a `POST /commands/{id}` handler does with the body and the headers:
//! let metadata = [("token", "demo-token")];
//! let answer = block_on(host.execute_json_async_with("greeter:hello", serde_json::json!("ada"), &metadata))?;
//! assert_eq!(answer, "Hello, ada!");
//!
//! // A bad body is a typed error that maps onto 400, naming the type it expected.
//! let error = block_on(host.execute_json_async_with("greeter:hello", serde_json::json!(7), &metadata)).unwrap_err();
//! assert!(matches!(error.kind(), DispatchErrorKind::Json { .. }));
//! assert_eq!(
//!     error.to_string(),
//!     "command `greeter:hello`: the request is not a valid `alloc::string::String`: invalid type: integer `7`, expected a string"
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! An admin API lists what runs, and changes it:
//!
//! ```
//! use patchpanel::testing::fn_plugin;
//! use patchpanel::{Host, Manifest, State};
//!
//! let host = Host::builder()
//!     .plugins(vec![fn_plugin(Manifest::builder("feed", "2.1.0").build()?, |_| Ok(()))])
//!     .build()?;
//! let listing: Vec<String> =
//!     host.plugins().map(|p| format!("{} {} {}", p.id(), p.manifest().version, p.state())).collect();
//! assert_eq!(listing, ["feed 2.1.0 active"]);
//! host.disable("feed")?; // `POST /plugins/feed/disable`
//! assert_eq!(host.state("feed"), Some(State::Disabled));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## patchpanel-web and demo-server
//!
//! The `patchpanel-web` crate lets a plugin contribute HTTP routes without naming a
//! framework (`WebRoutes`, a service the server looks up per request, so a reload drops
//! none). This repository's `demo-server` (axum and tokio) serves the demo plugins with:
//!
//! - `POST /commands/{id}`: the JSON boundary; headers `x-patchpanel-<name>` become
//!   metadata `<name>`;
//! - `GET /plugins`, `GET /healthz`, `GET /readyz`, `GET /metrics` (Prometheus);
//! - `POST /plugins/{id}/disable|enable|reload`, which need the admin token
//!   (`Authorization: Bearer`, or the admin page's session with its CSRF token), and are
//!   refused with 403 from another origin;
//! - the admin page at `GET /`;
//! - one JSON error shape, `{"error": {"kind", "message"}}`, with a status per error
//!   kind (400 bad request, 401 no credential, 403 rejected, 404 unknown, 409 refused,
//!   413 too large, 415 not JSON, 500 handler error or panic, 503 not active or busy);
//! - group commit for durable storage, so a write never blocks an async worker;
//! - graceful shutdown on SIGTERM.
//!
//! ```console
//! $ cargo run -p demo-server -- --in-memory
//! $ curl -s localhost:8080/commands/greeter:hello -H 'content-type: application/json' \
//!     -H 'x-patchpanel-token: demo-token' -d '{"name":"ada"}'
//! {"count":1,"message":"Hello, ada! [audited]"}
//! ```
//!
//! Next: [health and search](super::health).
