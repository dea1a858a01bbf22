//! # Failure handling
//!
//! Every call from the host into plugin code is guarded: creation, `configure`,
//! `activate`, `deactivate`, `get_state`, `restore_state`, `capabilities`, `Drop` of an
//! instance, and every command handler, event subscriber, middleware, hook
//! implementation, service method and message handler, and at the JSON boundary the
//! `Deserialize` of a command's request and the `Serialize` of its response (the
//! plugin's types, so the plugin's code: a panic there is the command's). An error or a
//! panic there is
//! caught at that boundary and turned into an exact, typed outcome, with the cause chain
//! kept:
//!
//! - at start-up, the plugin is failed with its reason
//!   ([`Failure`](crate::lifecycle::Failure)), its dependents are failed with
//!   `DependencyFailed`, nothing it registered is left in the tables, and the others
//!   start;
//! - in a reload, the error names the step and the old instance keeps serving;
//! - at shutdown, the failure is in [`ShutdownReport::errors`](crate::host::ShutdownReport)
//!   and every other plugin is still deactivated, once;
//! - in dispatch, the caller gets the error, or, where nobody waits for the result
//!   (events, hooks, sent messages), an [`Incident`](crate::host::Incident); the plugin
//!   stays active.
//!
//! ```
//! use patchpanel::commands::DispatchErrorKind;
//! use patchpanel::testing::{fn_plugin, with_every_permission};
//! use patchpanel::{Host, Manifest, State};
//!
//! struct Ping;
//!
//! let flaky = fn_plugin(with_every_permission(Manifest::builder("flaky", "1.0.0")).build()?, |context| {
//!     context.command("explode", |_, (): ()| -> Result<(), _> { panic!("handler exploded") })?;
//!     context.subscribe(|_, _: &Ping| panic!("subscriber exploded"));
//!     Ok(())
//! });
//! let steady = fn_plugin(with_every_permission(Manifest::builder("steady", "1.0.0")).build()?, |context| {
//!     context.subscribe(|_, _: &Ping| Ok(()));
//!     Ok(())
//! });
//! let host = Host::builder().plugins(vec![flaky, steady]).build()?;
//!
//! let error = host.execute::<(), ()>("flaky:explode", ()).unwrap_err();
//! assert!(matches!(error.kind(), DispatchErrorKind::Panicked { .. }));
//! assert_eq!(error.to_string(), "command `flaky:explode` panicked in plugin `flaky`: handler exploded");
//!
//! // The panicking subscriber is contained and recorded; the next one still runs.
//! let delivery = host.publish(&Ping);
//! assert_eq!((delivery.reached, delivery.failed), (2, 1));
//! assert_eq!(host.incidents().len(), 1);
//! assert_eq!(host.incidents()[0].plugin, "flaky");
//! assert_eq!(host.state("flaky"), Some(State::Active));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! In a middleware chain the panic is the plugin's whose code panicked: a layer's, before
//! its `next.run` or after it returned, or the command's handler's. A layer may contain
//! its `next`'s panic itself (`catch_unwind` around `next.run`, answering with an error):
//! then nobody is blamed for it, and a layer above that panics later is blamed for its
//! own (`tests/tests/dispatch.rs` pins both, behind the armed and the disarmed dispatch
//! gate).
//!
//! Calls nest at most 64 deep per thread: a handler that calls itself gets
//! [`DispatchErrorKind::TooDeep`](crate::commands::DispatchErrorKind::TooDeep) instead of a
//! stack overflow.
//!
//! ```
//! use patchpanel::testing::{fn_plugin, with_every_permission};
//! use patchpanel::{Host, Manifest};
//!
//! let echo = fn_plugin(with_every_permission(Manifest::builder("loop", "1.0.0")).build()?, |context| {
//!     context.command("again", |call, n: u32| Ok(call.execute::<u32, u32>("loop:again", n + 1)?))?;
//!     Ok(())
//! });
//! let host = Host::builder().plugins(vec![echo]).build()?;
//! let error = host.execute::<u32, u32>("loop:again", 0).unwrap_err();
//! assert!(error.to_string().contains("calls nest deeper than 64 on this thread"), "{error}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## What cannot be caught
//!
//! - **`panic = "abort"`.** With it in the application's profile, a panic anywhere ends
//!   the process at once: nothing above can be caught and no `deactivate` runs; only
//!   writes that had returned `Ok` survive. Keep the default `panic = "unwind"`.
//! - A panic while a panic unwinds (a `Drop` that panics during unwinding) aborts, as
//!   Rust always does.
//! - Code that never returns holds its thread, and a `disable` or `reload` of that plugin
//!   waits for it; stack overflow inside one handler, `std::process::exit`, running out
//!   of memory, and undefined behaviour in `unsafe` code are beyond any in-process host.
//!
//! Next: [the error catalogue](super::errors).
