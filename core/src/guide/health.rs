//! # Health and search
//!
//! ## Health
//!
//! A plugin may report its health ([`Plugin::health`](crate::Plugin::health): healthy,
//! degraded or unhealthy with a reason; healthy by default).
//! [`Host::health`](crate::Host::health) asks every active plugin, each on a thread of its
//! own and all at once, within one budget (1 s, or `health_within`): a check that panics
//! or overruns is unhealthy with that reason, and a report takes one budget however many
//! checks hang. A plugin that is not active is judged by its state. The verdict is the
//! worst of the required plugins.
//!
//! ```
//! use patchpanel::health::{Health, HealthStatus};
//! use patchpanel::{Context, Host, Plugin, PluginError, PluginSpec, register_plugin};
//!
//! #[register_plugin(id = "disk-watch", version = "1.0.0")]
//! #[derive(Default)]
//! pub struct DiskWatch;
//! impl Plugin for DiskWatch {
//!     fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
//!         Ok(())
//!     }
//!     fn health(&self) -> Health {
//!         Health::degraded("disk 91% full")
//!     }
//! }
//!
//! let host = Host::builder().plugins(vec![PluginSpec::registered::<DiskWatch>()?]).build()?;
//! let report = host.health();
//! assert_eq!(report.status(), HealthStatus::Degraded);
//! assert_eq!(report.plugins[0].health, Health::degraded("disk 91% full"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A change of a plugin's status is an audit record and, with metrics on, the gauge
//! `patchpanel_plugin_health`. [`Host::watch_health`](crate::Host::watch_health) checks
//! in the background; a server maps the verdict onto `/readyz`.
//!
//! ## Search
//!
//! [`Host::search`](crate::Host::search) finds plugins by id, name or description, in any
//! case and state; [`Host::plugin_matching`](crate::Host::plugin_matching) by version;
//! [`Host::plugins_with_capability`](crate::Host::plugins_with_capability) by what they
//! offer. Capabilities are derived from what each plugin registered, so they cannot
//! drift from the code.
//!
//! ```
//! use patchpanel::testing::{fn_plugin, with_every_permission};
//! use patchpanel::{Host, Manifest};
//!
//! let manifest = with_every_permission(Manifest::builder("kv", "1.2.0"))
//!     .description("Keeps keys and values")
//!     .build()?;
//! let kv = fn_plugin(manifest, |context| {
//!     context.command("get", |_, key: String| Ok(key))?;
//!     Ok(())
//! });
//! let host = Host::builder().plugins(vec![kv]).build()?;
//!
//! assert_eq!(host.search("VALUES").iter().map(|p| p.id()).collect::<Vec<_>>(), ["kv"]);
//! assert!(host.plugin_matching("kv", "^1.2").is_some());
//! assert!(host.plugin_matching("kv", "^2").is_none());
//! assert_eq!(host.plugins_with_capability("kv:get").len(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Deprecation
//!
//! A manifest may deprecate its plugin: `deprecated = "why"`, or
//! `deprecated = { message = "why", replacement = "new-id" }`. The host reports it at
//! start-up with the plugins that still depend on it
//! ([`Host::deprecations`](crate::Host::deprecations)), and an application that links it
//! with `link_plugins!` gets a compiler warning at that line.
//!
//! ```
//! use patchpanel::{Context, Host, Plugin, PluginError, PluginSpec, register_plugin};
//!
//! #[register_plugin(
//!     id = "old-store",
//!     version = "1.0.0",
//!     deprecated = { message = "it keeps everything in one file", replacement = "new-store" },
//! )]
//! #[derive(Default)]
//! pub struct OldStore;
//! impl Plugin for OldStore {
//!     fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
//!         Ok(())
//!     }
//! }
//!
//! let host = Host::builder().plugins(vec![PluginSpec::registered::<OldStore>()?]).build()?;
//! assert_eq!(host.deprecations().len(), 1);
//! assert!(host.deprecations()[0].contains("use `new-store` instead"), "{:?}", host.deprecations());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Next: [failure handling](super::failures).
