//! # Cargo features and `link_plugins!`
//!
//! An application switches plugins with Cargo features: each plugin is an optional
//! dependency with a feature of the same name. A plugin's feature also turns on the
//! features of the plugins its manifest requires, so any single feature starts:
//!
//! ```toml
//! [dependencies]
//! kv-store = { version = "1.2", optional = true }
//! greeter = { version = "0.3", optional = true }
//!
//! [features]
//! default = ["kv-store", "greeter"]
//! kv-store = ["dep:kv-store"]
//! greeter = ["dep:greeter", "kv-store"]
//! ```
//!
//! [`link_plugins!`](crate::link_plugins) names each plugin crate once, behind its
//! feature, with what the application grants it:
//!
//! ```rust,ignore
//! patchpanel::link_plugins! {
//!     kv_store::KvStore => ["commands.register", "storage.read", "storage.write"],
//!     #[cfg(feature = "greeter")] greeter::Greeter => ["commands.register", "events.publish"],
//! }
//! ```
//!
//! It does four things:
//!
//! - **Links the crates.** A crate nothing references is dropped by the linker, with its
//!   link-time registrations; naming the type keeps it.
//! - **Checks the set while the application compiles**, from each type's `const`
//!   manifest: every required dependency named and its version within range, no cycle,
//!   no two named types with one id, each `min-host-version` met. A `#[cfg]` entry takes
//!   part only when its feature is on.
//! - **Defines `linked_plugins()`**, for
//!   [`HostBuilder::expect`](crate::host::HostBuilder::expect): each id bound to the type
//!   named, a missing plugin reported instead of silently absent, another type with
//!   the same id set aside; and each plugin's place in the activation order checked at
//!   compile time, which start-up takes instead of resolving again when the registry
//!   holds exactly the named plugins ([lifecycle](super::lifecycle)).
//! - **Defines `linked_grants()`**, for [`HostBuilder::grants`](crate::host::HostBuilder::grants).
//!
//! ```rust,standalone_crate
//! mod store {
//!     use patchpanel::{Context, Plugin, PluginError, register_plugin};
//!     #[register_plugin(id = "store", version = "1.2.0", permissions = { commands = ["register"] })]
//!     #[derive(Default)]
//!     pub struct Store;
//!     impl Plugin for Store {
//!         fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
//!             context.command("size", |_, (): ()| Ok(0_u64))?;
//!             Ok(())
//!         }
//!     }
//! }
//! mod web {
//!     use patchpanel::{Context, Plugin, PluginError, register_plugin};
//!     #[register_plugin(id = "web", version = "0.3.0", dependencies = { "store" = "^1.0" })]
//!     #[derive(Default)]
//!     pub struct Web;
//!     impl Plugin for Web {
//!         fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
//!             Ok(())
//!         }
//!     }
//! }
//!
//! patchpanel::link_plugins! {
//!     store::Store => ["commands.register"],
//!     web::Web,
//! }
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let host = patchpanel::Host::builder().expect(linked_plugins()).grants(linked_grants()).build()?;
//!     assert_eq!(host.order(), ["store", "web"]);
//!     assert!(host.unexpected_plugins().is_empty());
//!     Ok(())
//! }
//! ```
//!
//! A set that cannot start does not compile. Here `web` needs `store` ^2 and the
//! application names 1.2.0:
//!
//! ```rust,compile_fail,E0080
//! mod store {
//!     use patchpanel::{Context, Plugin, PluginError, register_plugin};
//!     #[register_plugin(id = "store", version = "1.2.0")]
//!     #[derive(Default)]
//!     pub struct Store;
//!     impl Plugin for Store {
//!         fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> { Ok(()) }
//!     }
//! }
//! mod web {
//!     use patchpanel::{Context, Plugin, PluginError, register_plugin};
//!     #[register_plugin(id = "web", version = "0.3.0", dependencies = { "store" = "^2" })]
//!     #[derive(Default)]
//!     pub struct Web;
//!     impl Plugin for Web {
//!         fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> { Ok(()) }
//!     }
//! }
//! // error[E0080]: evaluation panicked: plugin `web` (web::Web) needs `store` ^2, but the
//! // `store` that `link_plugins!` names (store::Store) is 1.2.0; name a release of `store`
//! // that meets ^2, or change the range
//! patchpanel::link_plugins! { store::Store, web::Web }
//! fn main() {}
//! ```
//!
//! The ranges are matched by a `const fn`,
//! [`resolve::range_matches`](crate::resolve::range_matches), held to the `semver`
//! crate by a property test:
//!
//! ```
//! use patchpanel::resolve::range_matches;
//!
//! const OK: bool = range_matches("^1.2", "1.4.0");
//! assert!(OK);
//! assert!(!range_matches("^1.2", "2.0.0"));
//! assert!(range_matches(">=0.3, <0.5", "0.4.1"));
//! ```
//!
//! ## Link-time backends
//!
//! `linkme` (the default) collects registrations in a distributed slice. The
//! `inventory` feature switches to `inventory`, for targets linkme lacks (wasm). Both
//! run every test in this repository's CI. [`registry::BACKEND`](crate::registry::BACKEND)
//! says which one a build uses:
//!
//! ```
//! assert!(["linkme", "inventory"].contains(&patchpanel::registry::BACKEND));
//! ```
//!
//! Next: [resolution and lifecycle](super::lifecycle).
