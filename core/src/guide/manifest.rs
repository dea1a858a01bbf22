//! # The manifest
//!
//! A plugin's manifest says who it is (id, version), what it needs (dependencies with
//! semver ranges, host features, a minimum host version), what it may do
//! (permissions), and what it offers before it activates (`contributes`). It is
//! checked while the plugin crate compiles: a mistake is a `cargo build` error at the
//! token, with the fix.
//!
//! ## Three sources, one validator
//!
//! | source | how | key style |
//! |---|---|---|
//! | `Cargo.toml` | `[package.metadata.plugin]`, with `#[register_plugin]` (no arguments) | kebab-case |
//! | inline | `#[register_plugin(id = "...", ...)]` | snake_case |
//! | JSON file | `#[register_plugin(manifest = "plugin.json")]`, relative to the crate root | camelCase |
//!
//! The same manifest three ways:
//!
//! ```toml
//! # Cargo.toml
//! [package.metadata.plugin]
//! id = "greeter"
//! min-host-version = "0.1.0"
//! required-features = ["events"]
//! dependencies = { kv-store = "^1.0", audit-trail = { version = "^0.1", optional = true } }
//! permissions = { storage = ["read"], events = { publish = true, scope = "all" } }
//! ```
//!
//! ```
//! # use patchpanel::{Context, Plugin, PluginError};
//! #[patchpanel::register_plugin(
//!     id = "greeter-inline",
//!     version = "0.3.0",
//!     min_host_version = "0.1.0",
//!     required_features = ["events"],
//!     dependencies = { "kv-store" = "^1.0", "audit-trail" = { version = "^0.1", optional = true } },
//!     permissions = { storage = ["read"], events = { publish = true, scope = "all" } },
//! )]
//! #[derive(Default)]
//! pub struct Greeter;
//! # impl Plugin for Greeter {
//! #     fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> { Ok(()) }
//! # }
//!
//! // The checked manifest is a `const` of the type.
//! use patchpanel::registry::Registered;
//! assert_eq!(Greeter::MANIFEST.id, "greeter-inline");
//! assert_eq!(Greeter::MANIFEST.dependencies.len(), 2);
//! ```
//!
//! ```json
//! {
//!   "id": "greeter",
//!   "version": "0.3.0",
//!   "minHostVersion": "0.1.0",
//!   "requiredFeatures": ["events"],
//!   "dependencies": { "kv-store": "^1.0", "audit-trail": { "version": "^0.1", "optional": true } },
//!   "permissions": { "storage": { "read": true }, "events": { "publish": true, "scope": "all" } }
//! }
//! ```
//!
//! Editing `Cargo.toml` or `plugin.json` rebuilds the plugin (the macro emits an
//! `include_bytes!` of the file it read). A build system that compiles a crate away from
//! its sources can point the macro elsewhere with
//! `PATCHPANEL_MANIFEST_DIR=<package>=<dir>`.
//!
//! ## Fields
//!
//! | field | required | meaning |
//! |---|---|---|
//! | `id` | yes | 1-64 bytes: lowercase ASCII letters and digits, in words joined by single `-` or `.`, starting with a letter (`kv-store`, `com.example.greeter`). `:` is reserved for command ids. |
//! | `version` | JSON only | semver; `Cargo.toml` and inline default to the package version |
//! | `name` | no | human-readable; defaults to the id |
//! | `description` | no | defaults to the package description |
//! | `min-host-version` | no | the oldest patchpanel the plugin runs on, checked at build time |
//! | `required-features` | no | host features: `audit`, `commands`, `config`, `events`, `hooks`, `messaging`, `metrics`, `middleware`, `services`, `storage` |
//! | `dependencies` | no | id -> Cargo-style range (`"^1.0"`), or `{ version = "^1.0", optional = true }` |
//! | `permissions` | no | resource -> `["action", ...]`, or `{ action = true, scope = "..." }` ([permissions](super::permissions)) |
//! | `contributes` | no | what the plugin registers, known before it activates: `commands`, `hooks`, `subscribes`, `services`, `publishes` |
//! | `activation` | no | `eager` (default) or `lazy`; a lazy plugin must declare `contributes` |
//! | `activation-deadline` | no | how long `activate` may take: `"5s"`, `"250ms"` |
//! | `deprecated` | no | `"why"`, or `{ message = "why", replacement = "new-id" }` ([health](super::health)) |
//!
//! `contributes` is checked at build time like the rest: known kinds (with a
//! did-you-mean), valid names and type paths, no duplicates, each list backed by the
//! permission that registers it. A plugin whose registrations then differ fails at
//! activation with [`Failure::Contributions`](crate::lifecycle::Failure::Contributions),
//! naming each difference.
//!
//! ## Mistakes are build errors
//!
//! An id that breaks the rule:
//!
//! ```compile_fail
//! # use patchpanel::{Context, Plugin, PluginError};
//! // error: the plugin id `Greeter_1` must start with a lowercase letter
//! //        help: a valid id: `greeter-1`
//! #[patchpanel::register_plugin(id = "Greeter_1", version = "1.0.0")]
//! #[derive(Default)]
//! pub struct Greeter;
//! # impl Plugin for Greeter {
//! #     fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> { Ok(()) }
//! # }
//! ```
//!
//! A misspelt permission, with a did-you-mean:
//!
//! ```compile_fail
//! # use patchpanel::{Context, Plugin, PluginError};
//! // error: unknown action `wirte` for permission resource `storage`
//! //        help: did you mean `write`?
//! #[patchpanel::register_plugin(id = "typo", version = "1.0.0", permissions = { storage = ["wirte"] })]
//! #[derive(Default)]
//! pub struct Typo;
//! # impl Plugin for Typo {
//! #     fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> { Ok(()) }
//! # }
//! ```
//!
//! A version that is not semver:
//!
//! ```compile_fail
//! # use patchpanel::{Context, Plugin, PluginError};
//! // error: `1.0` is not a semver version for `version`
//! #[patchpanel::register_plugin(id = "short-version", version = "1.0")]
//! #[derive(Default)]
//! pub struct Short;
//! # impl Plugin for Short {
//! #     fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> { Ok(()) }
//! # }
//! ```
//!
//! ## Manifests built in code
//!
//! Tests, benches and hosts that assemble plugins at run time build a manifest with
//! [`Manifest::builder`](crate::Manifest::builder); it runs the same validator and
//! returns the same messages as a [`ManifestError`](crate::manifest::ManifestError):
//!
//! ```
//! use patchpanel::Manifest;
//! use patchpanel::manifest::Scope;
//!
//! let manifest = Manifest::builder("greeter", "0.3.0")
//!     .depends_on("kv-store", "^1.0")
//!     .permission("storage", "read", Scope::PluginOnly)
//!     .build()?;
//! assert_eq!(manifest.id, "greeter");
//! assert!(manifest.permission("storage", "read").is_some());
//!
//! let error = Manifest::builder("Greeter", "0.3.0").build().unwrap_err();
//! assert!(error.to_string().contains("must start with a lowercase letter"), "{error}");
//! # Ok::<(), patchpanel::manifest::ManifestError>(())
//! ```
//!
//! Next: [talking between plugins](super::talking).
