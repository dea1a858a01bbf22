//! # Your first plugin
//!
//! A plugin is an ordinary crate that depends on `patchpanel` and registers one type.
//! This chapter writes one that counts words, then the application that links it.
//!
//! ## The crate
//!
//! `plugins/word-count/Cargo.toml`:
//!
//! ```toml
//! [package]
//! name = "word-count"
//! version = "0.1.0"
//! edition = "2024"
//!
//! [dependencies]
//! patchpanel = "0.1"
//! ```
//!
//! (Until patchpanel is on crates.io, point at a checkout:
//! `patchpanel = { path = "../patchpanel/core" }`, or `git = "..."`.)
//!
//! `src/lib.rs`: `#[register_plugin]` goes on the type. It checks the manifest while
//! the crate compiles, and registers the type at link time; the [`Plugin`] impl says
//! what the plugin does when it starts.
//!
//! ```
//! use patchpanel::{Context, Plugin, PluginError, register_plugin};
//!
//! /// Counts words in the texts it is given.
//! #[register_plugin(id = "word-count", version = "0.1.0", permissions = { commands = ["register"] })]
//! #[derive(Default)]
//! pub struct WordCount;
//!
//! impl Plugin for WordCount {
//!     fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
//!         // Command `word-count:count`: a typed request, a typed response.
//!         context.command("count", |_, text: String| Ok(text.split_whitespace().count()))?;
//!         Ok(())
//!     }
//! }
//!
//! # use patchpanel::{Host, PluginSpec, State};
//! // In a test or a bench, a host over an explicit list runs the registered type under
//! // the manifest its permissions were checked against.
//! let host = Host::builder().plugins(vec![PluginSpec::registered::<WordCount>()?]).build()?;
//! assert_eq!(host.state("word-count"), Some(State::Active));
//! assert_eq!(host.execute::<String, usize>("word-count:count", "three little words".into())?, 3);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The version and description default to the package's own, so a real crate usually
//! writes only `id`. The manifest could equally live in `Cargo.toml` or a `plugin.json`
//! ([manifest](super::manifest)).
//!
//! A plugin that uses something its manifest does not declare does not compile. This
//! one registers a command with no `commands.register` permission:
//!
//! ```compile_fail,E0277
//! use patchpanel::{Context, Plugin, PluginError, register_plugin};
//!
//! #[register_plugin(id = "word-count-undeclared", version = "0.1.0")]
//! #[derive(Default)]
//! pub struct WordCount;
//!
//! impl Plugin for WordCount {
//!     fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
//!         // error[E0277]: plugin `WordCount` does not declare permission `commands.register`
//!         context.command("count", |_, text: String| Ok(text.len()))?;
//!         Ok(())
//!     }
//! }
//! ```
//!
//! ## State, and being called
//!
//! The instance is yours: the host creates it with `Default`, and handlers reach it
//! through [`Host::with_plugin`](crate::Host::with_plugin) from the application, or keep
//! what they need in the closure (an `Arc`, the plugin's [storage](super::storage)).
//!
//! ```
//! use patchpanel::{Context, Host, Plugin, PluginError, PluginSpec, register_plugin};
//!
//! #[register_plugin(id = "word-total", version = "0.1.0")]
//! #[derive(Default)]
//! pub struct WordTotal {
//!     total: usize,
//! }
//!
//! impl WordTotal {
//!     pub fn add(&mut self, text: &str) -> usize {
//!         self.total += text.split_whitespace().count();
//!         self.total
//!     }
//! }
//!
//! impl Plugin for WordTotal {
//!     fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
//!         Ok(())
//!     }
//! }
//!
//! let host = Host::builder().plugins(vec![PluginSpec::registered::<WordTotal>()?]).build()?;
//! assert_eq!(host.with_plugin(|w: &mut WordTotal| w.add("one two")), Ok(2));
//! assert_eq!(host.with_plugin(|w: &mut WordTotal| w.add("three")), Ok(3));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## The application
//!
//! The application depends on each plugin crate, names each once in
//! [`link_plugins!`](crate::link_plugins) with what it grants it, and starts the host.
//! `link_plugins!` links the crates (a crate nothing references is dropped by the
//! linker, registrations and all), checks the named set while the application compiles
//! (dependencies present, versions in range, no cycle), and defines `linked_plugins()`
//! and `linked_grants()`:
//!
//! ```rust,standalone_crate
//! # mod word_count {
//! #     use patchpanel::{Context, Plugin, PluginError, register_plugin};
//! #     #[register_plugin(id = "word-count", version = "0.1.0", permissions = { commands = ["register"] })]
//! #     #[derive(Default)]
//! #     pub struct WordCount;
//! #     impl Plugin for WordCount {
//! #         fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
//! #             context.command("count", |_, text: String| Ok(text.split_whitespace().count()))?;
//! #             Ok(())
//! #         }
//! #     }
//! # }
//! patchpanel::link_plugins! {
//!     // Each plugin with what the application grants it: a plugin whose manifest asks
//!     // for more does not start.
//!     word_count::WordCount => ["commands.register"],
//! }
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let host = patchpanel::Host::builder()
//!         .expect(linked_plugins()) // each id bound to the type named above
//!         .grants(linked_grants())
//!         .build()?;
//!     for plugin in host.plugins() {
//!         println!("{} {} {}", plugin.id(), plugin.manifest().version, plugin.state());
//!     }
//!     assert_eq!(host.execute::<String, usize>("word-count:count", "a b c".into())?, 3);
//!     let report = host.shutdown(); // or just drop the host
//!     assert!(report.errors.is_empty());
//!     Ok(())
//! }
//! ```
//!
//! If your application already has something called `patchpanel`, rename the
//! dependency (`pp = { package = "patchpanel", version = "0.1" }`) and tell the macros
//! where it is: `#[register_plugin(crate = pp, id = "word-count")]`,
//! `#[subscribe(WordCount, crate = pp)]`.
//!
//! Next: [the manifest](super::manifest).
//!
//! [`Plugin`]: crate::Plugin
