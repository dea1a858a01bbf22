//! # Async plugins
//!
//! A plugin that must await something to start (open a pool, read a file, call another
//! service) implements [`activate_async`](crate::Plugin::activate_async) (and
//! `configure_async`, `deactivate_async`) as an `async fn`; a handler that awaits I/O
//! registers with [`command_async`](crate::Context::command_async) and returns a future.
//! The core runs no executor and depends on none: handler futures run on the caller's
//! executor, lifecycle futures are driven by the host on the thread that starts the
//! plugin, and [`blocking::block_on`](crate::blocking::block_on) is the bridge for code
//! outside any runtime (a CLI, a test).
//!
//! ```
//! use patchpanel::blocking::{block_on, unblock};
//! use patchpanel::{AsyncCall, Context, Host, Plugin, PluginError, PluginSpec};
//!
//! #[patchpanel::register_plugin(id = "wall-clock", version = "1.0.0", permissions = { commands = ["register"] })]
//! #[derive(Default)]
//! struct Clock {
//!     zone: String,
//! }
//!
//! impl Plugin for Clock {
//!     async fn activate_async(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
//!         // Blocking I/O runs on a thread of its own while this future waits for it.
//!         self.zone = unblock(|| "UTC".to_owned()).await;
//!         let zone = self.zone.clone();
//!         context.command_async("now", move |call: AsyncCall<Self>, (): ()| {
//!             let zone = zone.clone();
//!             async move {
//!                 // Await a database, an HTTP call... `call.with(|call| ..)` runs sync
//!                 // code as the plugin (publish, services, other commands) between awaits.
//!                 Ok(format!("{} says noon {zone}", call.plugin()))
//!             }
//!         })?;
//!         Ok(())
//!     }
//! }
//!
//! // From async code: `Host::builder()...build_async().await` (and `shutdown_async`).
//! let host = Host::builder().plugins(vec![PluginSpec::registered::<Clock>()?]).build()?;
//! // `execute_async` dispatches now and returns a `Pending` that owns what it needs.
//! let answer = block_on(host.execute_async::<(), String>("wall-clock:now", ()))?;
//! assert_eq!(answer, "wall-clock says noon UTC");
//! // Any command, sync or async, through JSON, with metadata: what a server calls.
//! let json = block_on(host.execute_json_async_with("wall-clock:now", serde_json::json!(null), &[]))?;
//! assert_eq!(json, "wall-clock says noon UTC");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A synchronous `execute` of an async command is an error that names the way in:
//!
//! ```
//! use patchpanel::commands::DispatchErrorKind;
//! use patchpanel::testing::{fn_plugin, with_every_permission};
//! use patchpanel::{AsyncCall, Host, Manifest};
//!
//! let echo = fn_plugin(with_every_permission(Manifest::builder("echo", "1.0.0")).build()?, |context| {
//!     context.command_async("say", |_: AsyncCall<_>, text: String| async move { Ok(text) })?;
//!     Ok(())
//! });
//! let host = Host::builder().plugins(vec![echo]).build()?;
//! let error = host.execute::<String, String>("echo:say", "hi".into()).unwrap_err();
//! assert!(matches!(error.kind(), DispatchErrorKind::Asynchronous { .. }));
//! assert_eq!(patchpanel::blocking::block_on(host.execute_async::<String, String>("echo:say", "hi".into()))?, "hi");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! - **The async lifecycle.** [`build_async`](crate::host::HostBuilder::build_async) and
//!   [`shutdown_async`](crate::Host::shutdown_async) run the start-up and the shutdown on
//!   a thread of their own; with the `tokio` feature that thread enters the caller's
//!   tokio runtime, so `activate_async` may use tokio sockets and timers. At a plugin's
//!   activation deadline its future is dropped, which cancels it.
//! - **Async hooks, inboxes and services.** `implement_hook_async` (a hook declared as
//!   [`HookFuture<Out>`](crate::hooks::HookFuture)), `on_message_async` with
//!   `request_async(..).await`, and `Service::with_async`. Their answers are
//!   [`Deferred`](crate::hooks::Deferred) futures.
//! - **Quiescence across `.await`.** An async call is counted in its plugin instance from
//!   the state check until its future completes: `disable` and shutdown wait for the
//!   count to drain; `reload` deactivates the old instance when the calls it was serving
//!   have finished.
//! - **Middleware and guards** run before an async command's future starts.
//! - **No allocation for a small future.** A handler's future of up to 72 bytes (an
//!   `AsyncCall`, a `String` request and a short `async` block's state) is kept in the
//!   [`Pending`](crate::commands::Pending) itself; a larger one is boxed, one allocation
//!   a call. A `Pending` is therefore `!Unpin`, as most futures are: `.await` it, or pin
//!   it (`std::pin::pin!`, `Box::pin`) to poll it by hand.
//!
//! Next: [serving over HTTP](super::serving).
