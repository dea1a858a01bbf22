//! # Testing plugins
//!
//! A plugin is tested like any Rust code, against a real host: there is no mock of the
//! runtime to drift from it. [`testing::TestHost`](crate::testing::TestHost) runs a
//! plugin in isolation with the plugins or fakes it depends on, in-memory storage and
//! the configuration you give, and records the events published and the commands run.
//!
//! ```
//! use patchpanel::testing::{RecordedCommand, TestHost, fn_plugin, with_every_permission};
//! use patchpanel::{Context, Plugin, PluginError, register_plugin};
//!
//! #[derive(Clone, Debug, PartialEq)]
//! pub struct Greeted(pub String);
//!
//! #[register_plugin(
//!     id = "hello",
//!     version = "1.0.0",
//!     dependencies = { "names" = "^1" },
//!     permissions = { commands = { register = true, execute = true, scope = "all" }, events = ["publish"] },
//! )]
//! #[derive(Default)]
//! pub struct Hello;
//!
//! impl Plugin for Hello {
//!     fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
//!         context.command("greet", |call, id: u32| {
//!             let name: String = call.execute("names:lookup", id)?;
//!             call.publish(&Greeted(name.clone()));
//!             Ok(format!("Hello, {name}!"))
//!         })?;
//!         Ok(())
//!     }
//! }
//!
//! // A fake of the dependency: a closure plugin with the id and version it needs.
//! let names = fn_plugin(with_every_permission(patchpanel::Manifest::builder("names", "1.0.0")).build()?, |context| {
//!     context.command("lookup", |_, id: u32| Ok(if id == 1 { "ada".to_owned() } else { "bob".to_owned() }))?;
//!     Ok(())
//! });
//!
//! let test = TestHost::builder().spec(names).plugin::<Hello>().record::<Greeted>().build()?;
//! assert_eq!(test.host().execute::<u32, String>("hello:greet", 1)?, "Hello, ada!");
//! assert_eq!(test.events::<Greeted>(), [Greeted("ada".into())]);
//! assert_eq!(
//!     test.commands(),
//!     [
//!         RecordedCommand { command: "hello:greet".into(), caller: None },
//!         RecordedCommand { command: "names:lookup".into(), caller: Some("hello".into()) },
//!     ]
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`TestHost`](crate::testing::TestHost) runs a registered type under the manifest it
//! was registered with (the one its permissions were checked against); a spec that
//! carries another manifest is refused unless the test asks for it with
//! `spec_with_other_manifest`, so tests and production cannot disagree about what a
//! plugin may do.
//!
//! For a throwaway plugin, [`testing::fn_plugin`](crate::testing::fn_plugin) makes one
//! from a closure, with a manifest built in code
//! ([`with_every_permission`](crate::testing::with_every_permission) declares every
//! permission at scope `plugin-only`):
//!
//! ```
//! use patchpanel::Host;
//! use patchpanel::testing::{fn_plugin, with_every_permission};
//!
//! let fake = fn_plugin(with_every_permission(patchpanel::Manifest::builder("fake-clock", "1.0.0")).build()?, |context| {
//!     context.command("now", |_, (): ()| Ok(1_700_000_000_u64))?;
//!     Ok(())
//! });
//! let host = Host::builder().plugins(vec![fake]).build()?;
//! assert_eq!(host.execute::<(), u64>("fake-clock:now", ())?, 1_700_000_000);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Configuration goes in as JSON, as the config file's table would:
//!
//! ```
//! use patchpanel::config::PluginConfig;
//! use patchpanel::testing::TestHost;
//! use patchpanel::{Context, Plugin, PluginError, register_plugin};
//!
//! #[derive(serde::Deserialize, Default)]
//! struct Settings {
//!     greeting: String,
//! }
//!
//! #[register_plugin(id = "configured", version = "1.0.0", permissions = { commands = ["register"] })]
//! #[derive(Default)]
//! pub struct Configured {
//!     greeting: String,
//! }
//!
//! impl Plugin for Configured {
//!     fn configure(&mut self, config: &PluginConfig) -> Result<(), PluginError> {
//!         self.greeting = config.get::<Settings>()?.greeting;
//!         Ok(())
//!     }
//!     fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
//!         let greeting = self.greeting.clone();
//!         context.command("greet", move |_, name: String| Ok(format!("{greeting}, {name}")))?;
//!         Ok(())
//!     }
//! }
//!
//! let test = TestHost::builder()
//!     .plugin::<Configured>()
//!     .config("configured", serde_json::json!({ "greeting": "Hi" }))
//!     .build()?;
//! assert_eq!(test.host().execute::<String, String>("configured:greet", "ada".into())?, "Hi, ada");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Build-time mistakes are tested with `trybuild` (this repository pins each message of
//! the macros in `tests/ui/*.stderr`); run-time errors by matching the error value and its
//! message, as the examples in [errors](super::errors) do.
//!
//! Next: [Cargo features and `link_plugins!`](super::features).
