//! # Talking between plugins
//!
//! Plugins register handlers through their [`Context`](crate::Context) while they
//! activate. When every plugin has activated, the host freezes the registrations into
//! immutable tables: a dispatch takes no lock and makes no heap allocation. Disabled and
//! failed plugins receive nothing.
//!
//! | channel | register (in `activate`) | use | module |
//! |---|---|---|---|
//! | commands | `context.command("name", \|call, req: Req\| ..)` registers `<plugin-id>:name` | `host.command::<Req, Resp>(id)?.call(req)`, `execute`, `execute_json` | [`commands`](crate::commands) |
//! | events | `context.subscribe(\|call, e: &E\| ..)`, or `#[subscribe(MyPlugin)]` on a function | `host.publish(&e)`, `call.publish(&e)`, `host.channel::<E>()` | [`events`](crate::events) |
//! | middleware | `context.middleware(pattern, priority, \|invocation, next\| ..)`, `typed_middleware(id, priority, \|req, next\| ..)`, or `layer(id, priority, MyLayer)` | runs around matching commands | [`commands`](crate::commands) |
//! | hooks | `context.declare_hook::<Args, Out>("name")`; others `implement_hook` | `host.hook::<Args, Out>(id)?.call_all(&args)` or `.first(&args)` | [`hooks`](crate::hooks) |
//! | services | `context.provide::<dyn Trait>(arc)` or `provide_ranked` | `context.service::<dyn Trait>()?` then `.with(\|t\| ..)` | [`services`](crate::services) |
//! | messaging | `context.on_message(\|call, m: M\| -> Result<R, _>)` | `call.request::<M, R>("plugin-id", m)`, `call.send(..)` | [`messaging`](crate::messaging) |
//!
//! Handlers receive a [`Call`](crate::Call): [`Call::invoker`](crate::Call::invoker) is
//! the plugin that invoked them (`None` for the application), and anything they
//! dispatch through `call` is made on behalf of their own plugin, with its
//! permissions.
//!
//! ## Commands
//!
//! A command is a typed request and response. Three ways to call one: a typed
//! [`CommandHandle`](crate::commands::CommandHandle) resolved once (the fastest), a
//! string id, and JSON (what a server or a CLI uses).
//!
//! ```
//! use patchpanel::Host;
//! use patchpanel::testing::{fn_plugin, with_every_permission};
//!
//! let math = fn_plugin(with_every_permission(patchpanel::Manifest::builder("math", "1.0.0")).build()?, |context| {
//!     context.command("double", |_, n: u64| Ok(n * 2))?; // command `math:double`
//!     Ok(())
//! });
//! let host = Host::builder().plugins(vec![math]).build()?;
//!
//! let double = host.command::<u64, u64>("math:double")?; // 1. a handle, resolved once
//! assert_eq!(double.call(21)?, 42);
//! assert_eq!(host.execute::<u64, u64>("math:double", 4)?, 8); // 2. a string id
//! let json = host.execute_json("math:double", serde_json::json!(5))?; // 3. JSON
//! assert_eq!(json, serde_json::json!(10));
//!
//! // A typo is an error that says what was meant.
//! let error = host.execute::<u64, u64>("math:doubel", 1).unwrap_err();
//! assert_eq!(error.to_string(), "unknown command `math:doubel`; did you mean `math:double`?");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A plugin registers only in its own namespace. Errors are typed
//! ([`DispatchErrorKind`](crate::commands::DispatchErrorKind)): unknown (with a
//! did-you-mean), wrong type, not active, handler error, handler panic, rejected, bad
//! JSON, too deep, denied. Metadata (`execute_with`, `execute_json_with`) travels with a
//! call for middleware to read.
//!
//! ## Middleware
//!
//! Middleware wraps commands that match a pattern (`"*"`, `"prefix*"`, an exact id).
//! Higher priority is outermost, then activation order. It can read metadata, change
//! the request, answer early, reject, and post-process the response. Wrapping another
//! plugin's commands needs `commands.intercept` at scope `all`
//! ([permissions](super::permissions)).
//!
//! ```
//! use patchpanel::Host;
//! use patchpanel::manifest::Scope;
//! use patchpanel::testing::{fn_plugin, with_every_permission};
//!
//! let clock = fn_plugin(with_every_permission(patchpanel::Manifest::builder("clock", "1.0.0")).build()?, |context| {
//!     context.command("now", |_, (): ()| Ok(42_u64))?;
//!     Ok(())
//! });
//! let manifest = with_every_permission(patchpanel::Manifest::builder("gate", "1.0.0"))
//!     .permission("commands", "intercept", Scope::All)
//!     .build()?;
//! let gate = fn_plugin(manifest, |context| {
//!     context.middleware("clock:*", 0, |invocation, next| {
//!         if invocation.metadata("token") != Some("secret") {
//!             return Err(invocation.reject("missing or wrong token"));
//!         }
//!         next.run(invocation)
//!     })?;
//!     Ok(())
//! });
//! let host = Host::builder().plugins(vec![clock, gate]).build()?;
//!
//! assert_eq!(host.execute_with::<(), u64>("clock:now", (), &[("token", "secret")])?, 42);
//! let refused = host.execute::<(), u64>("clock:now", ()).unwrap_err();
//! assert_eq!(refused.to_string(), "command `clock:now` was rejected: missing or wrong token");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Middleware written for one command can be typed instead:
//! [`Context::typed_middleware`](crate::Context::typed_middleware) takes the request by
//! value and returns the response, with the rest of the chain as a
//! [`TypedNext`](crate::commands::TypedNext): no `Option` from a downcast, no guard to
//! drop before `next.run`, and the types checked by the compiler. It is ordered, entered,
//! attributed and audited as pattern middleware is, and the two mix in one chain. A
//! chain of typed middleware alone is walked by a typed handle (and by id) as a flat
//! array of typed functions, cheaper than a pattern chain (BENCHMARKS.md). A layer of the
//! wrong types fails its command closed, naming the plugin and both sets of types.
//!
//! ```
//! use patchpanel::Host;
//! use patchpanel::commands::TypedNext;
//! use patchpanel::testing::{fn_plugin, with_every_permission};
//!
//! let clock = fn_plugin(with_every_permission(patchpanel::Manifest::builder("clock", "1.0.0")).build()?, |context| {
//!     context.command("after", |_, minutes: u64| Ok(minutes + 1))?;
//!     // Its own command: `commands.intercept` at the default scope is enough.
//!     context.typed_middleware("clock:after", 0, |minutes: u64, next: TypedNext<'_, u64, u64>| {
//!         Ok(next.run(minutes % 60)? % 60)
//!     })?;
//!     Ok(())
//! });
//! let host = Host::builder().plugins(vec![clock]).build()?;
//! let after = host.command::<u64, u64>("clock:after")?;
//! assert_eq!(after.call(59)?, 0);
//! assert_eq!(after.call(75)?, 16);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The cheapest middleware is a layer declared as a type: a
//! [`Layer`](crate::commands::Layer), registered with
//! [`Context::layer`](crate::Context::layer), whose `call` is generic over what follows it
//! (a [`Downstream`](crate::commands::Downstream)), as a tower layer is over its inner
//! service. It runs wherever its command is called, as typed middleware does. An
//! application that knows the command's layers when it compiles names them, in the order
//! they run, with [`Host::command_with_layers`](crate::Host::command_with_layers): the
//! [`LayeredHandle`](crate::commands::LayeredHandle) calls them as one function the
//! compiler built for those types, each layer inlined into the one before, at about the
//! cost of the same closures nested by hand (BENCHMARKS.md). The names are checked against
//! the chain when the handle resolves: names that do not match (another order, a layer
//! missing or added, a layer registered as a closure) give a handle that runs the chain
//! as registered, and [`LayeredHandle::is_static`](crate::commands::LayeredHandle::is_static)
//! says which. Disables, reloads and changed chains are handled as for any handle. Called
//! any other way (by id, as JSON, through a plain `CommandHandle`), a layer declared as a
//! type costs what typed middleware costs.
//!
//! ```
//! use patchpanel::Host;
//! use patchpanel::commands::{DispatchError, Downstream, Layer};
//! use patchpanel::testing::{fn_plugin, with_every_permission};
//!
//! /// Keeps minutes within the hour, on the way in and on the way out.
//! struct WithinHour;
//!
//! impl Layer<u64, u64> for WithinHour {
//!     fn call(&self, minutes: u64, next: impl Downstream<u64, u64>) -> Result<u64, DispatchError> {
//!         Ok(next.run(minutes % 60)? % 60)
//!     }
//! }
//!
//! let clock = fn_plugin(with_every_permission(patchpanel::Manifest::builder("clock", "1.0.0")).build()?, |context| {
//!     context.command("after", |_, minutes: u64| Ok(minutes + 1))?;
//!     context.layer("clock:after", 0, WithinHour)?;
//!     Ok(())
//! });
//! let host = Host::builder().plugins(vec![clock]).build()?;
//! let after = host.command_with_layers::<u64, u64, (WithinHour,)>("clock:after")?;
//! assert!(after.is_static());
//! assert_eq!(after.call(59)?, 0);
//! assert_eq!(after.call(75)?, 16);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Events
//!
//! Any `T: 'static + Send + Sync` is an event type. Subscribers run in activation
//! order, then registration order; an error or a panic in one is contained, recorded in
//! [`Host::incidents`](crate::Host::incidents), and the others still run. A publish
//! returns a [`Delivery`](crate::events::Delivery).
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicU64, Ordering};
//!
//! use patchpanel::Host;
//! use patchpanel::testing::{fn_plugin, with_every_permission};
//!
//! struct Tick(u64);
//!
//! let seen = Arc::new(AtomicU64::new(0));
//! let counter = Arc::clone(&seen);
//! let listener = fn_plugin(with_every_permission(patchpanel::Manifest::builder("listener", "1.0.0")).build()?, move |context| {
//!     let counter = Arc::clone(&counter);
//!     context.subscribe(move |_, tick: &Tick| {
//!         counter.fetch_add(tick.0, Ordering::Relaxed);
//!         Ok(())
//!     });
//!     Ok(())
//! });
//! let host = Host::builder().plugins(vec![listener]).build()?;
//!
//! let delivery = host.publish(&Tick(3));
//! assert_eq!((delivery.reached, delivery.failed), (1, 0));
//! // A channel resolves the event type once; publishing through it skips the lookup.
//! let ticks = host.channel::<Tick>();
//! ticks.publish(&Tick(4));
//! assert_eq!(seen.load(Ordering::Relaxed), 7);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A channel decides its plan when it is made and checks it with one compare per
//! publish. It keeps working through every change of the host: while a subscriber's
//! plugin is disabled the walk checks each subscriber, and after the next enable it is
//! back on the fast path. After a reload or anything else that rebuilds the host's
//! tables (a plugin woken, middleware added), it publishes through the current tables,
//! correctly but with the lookup again: make the channel afresh to regain the fast
//! path, as a typed handle is resolved again.
//!
//! A plugin crate can also subscribe with a function, collected at link time:
//!
//! ```
//! use patchpanel::{Call, Context, Host, Plugin, PluginError, PluginSpec, register_plugin, subscribe};
//!
//! pub struct Saved(pub String);
//!
//! #[register_plugin(id = "journal", version = "1.0.0", permissions = { events = ["subscribe"] })]
//! #[derive(Default)]
//! pub struct Journal;
//! impl Plugin for Journal {
//!     fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
//!         Ok(())
//!     }
//! }
//!
//! #[subscribe(Journal)]
//! fn on_saved(call: &Call<'_, Journal>, saved: &Saved) -> Result<(), PluginError> {
//!     assert_eq!(call.plugin(), Some("journal"));
//!     assert_eq!(saved.0, "notes.txt");
//!     Ok(())
//! }
//!
//! let host = Host::builder().plugins(vec![PluginSpec::registered::<Journal>()?]).build()?;
//! assert_eq!(host.publish(&Saved("notes.txt".into())).reached, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Hooks
//!
//! A hook is an extension point: one plugin declares it with its argument and answer
//! types, others implement it, and the caller gets every answer (`call_all`) or the
//! first (`first`). Order: [`HookOrder`](crate::hooks::HookOrder)'s priority, then its
//! `before` / `after` constraints, then plugin id; a constraint cycle fails start-up
//! naming the plugins.
//!
//! ```
//! use patchpanel::Host;
//! use patchpanel::hooks::HookOrder;
//! use patchpanel::testing::{fn_plugin, with_every_permission};
//!
//! let editor = fn_plugin(with_every_permission(patchpanel::Manifest::builder("editor", "1.0.0")).build()?, |context| {
//!     context.declare_hook::<String, String>("decorate")?; // hook `editor:decorate`
//!     Ok(())
//! });
//! let shout = fn_plugin(
//!     with_every_permission(patchpanel::Manifest::builder("shout", "1.0.0").depends_on("editor", "^1")).build()?,
//!     |context| {
//!         context.implement_hook("editor:decorate", HookOrder::default(), |_, text: &String| Some(text.to_uppercase()))?;
//!         Ok(())
//!     },
//! );
//! let host = Host::builder().plugins(vec![editor, shout]).build()?;
//! let decorate = host.hook::<String, String>("editor:decorate")?;
//! assert_eq!(decorate.call_all(&"hi".to_owned()), ["HI"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Services
//!
//! A service is a value one plugin provides, found by type (usually a trait object).
//! [`Context::service`](crate::Context::service) returns a
//! [`Service`](crate::services::Service) handle, not the provider's `Arc`: each
//! `with(|t| ..)` reaches the highest-ranked provider active at that moment, inside
//! that plugin, so a disable waits for it and a reload redirects it. A missing provider
//! is a typed [`ServiceError`](crate::services::ServiceError).
//!
//! ```
//! use std::sync::Arc;
//!
//! use patchpanel::Host;
//! use patchpanel::testing::{fn_plugin, with_every_permission};
//!
//! trait Clock: Send + Sync {
//!     fn now(&self) -> u64;
//! }
//! struct Fixed;
//! impl Clock for Fixed {
//!     fn now(&self) -> u64 {
//!         42
//!     }
//! }
//!
//! let provider = fn_plugin(with_every_permission(patchpanel::Manifest::builder("time", "1.0.0")).build()?, |context| {
//!     context.provide::<dyn Clock>(Arc::new(Fixed));
//!     Ok(())
//! });
//! let consumer = fn_plugin(
//!     with_every_permission(patchpanel::Manifest::builder("alarm", "1.0.0").depends_on("time", "^1")).build()?,
//!     |context| {
//!         let clock = context.service::<dyn Clock>()?; // dependencies activate first
//!         context.command("due", move |_, at: u64| Ok(clock.with(|clock| clock.now())? >= at))?;
//!         Ok(())
//!     },
//! );
//! let host = Host::builder().plugins(vec![provider, consumer]).build()?;
//! assert_eq!(host.execute::<u64, bool>("alarm:due", 40)?, true);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Messaging
//!
//! Messages go to one plugin's inbox, by id: `request` waits for the answer, `send` is
//! fire-and-forget (a handler failure becomes an incident).
//!
//! ```
//! use patchpanel::Host;
//! use patchpanel::testing::{fn_plugin, with_every_permission};
//!
//! let inbox = fn_plugin(with_every_permission(patchpanel::Manifest::builder("counter", "1.0.0")).build()?, |context| {
//!     context.on_message(|_, n: u32| Ok(n + 1))?;
//!     Ok(())
//! });
//! let host = Host::builder().plugins(vec![inbox]).build()?;
//! assert_eq!(host.request::<u32, u32>("counter", 1)?, 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Next: [permissions and the trust model](super::permissions).
