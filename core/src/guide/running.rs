//! # Running for days: disable, enable, reload
//!
//! A host usually runs inside a long-lived, multi-threaded service. Every lifecycle
//! change takes `&Host`, so it can be made while any number of threads dispatch.
//!
//! - **[`disable`](crate::Host::disable).** When it returns, no call into the plugin will
//!   start and every call that had started has finished. New calls get a typed "not
//!   active" error; events and hooks skip the plugin. A publish or a middleware chain
//!   that started while every plugin with subscriptions, middleware or a command with
//!   middleware was active runs as planned to its end (a subscriber or layer of the
//!   plugin further along it still runs, and the disable waits for it); one that
//!   started while such a plugin was already out checks each plugin at its turn, and
//!   skips this one. While active plugins depend on it, the
//!   [`DependentsPolicy`](crate::host::DependentsPolicy) decides: `Refuse` (the
//!   default) or `Cascade`, which disables the dependents first.
//! - **[`enable`](crate::Host::enable)** resumes it, and the plugins its cascade took down.
//! - **[`reload`](crate::Host::reload)** builds a new instance beside the serving one
//!   (`get_state`, create, `configure`, `restore_state`, `activate`), then switches the
//!   dispatch tables atomically. Calls in flight finish on the old instance; calls that
//!   start after the switch reach the new one; none fails because of it. If any step
//!   fails, the old instance keeps serving, untouched, and the error names the step.
//! - **[`reconfigure`](crate::Host::reconfigure)** is a reload with a new configuration,
//!   kept only if the reload succeeds.
//!
//! ```
//! use patchpanel::host::DependentsPolicy;
//! use patchpanel::lifecycle::LifecycleError;
//! use patchpanel::testing::{fn_plugin, with_every_permission};
//! use patchpanel::{Host, Manifest, State};
//!
//! let store = fn_plugin(with_every_permission(Manifest::builder("store", "1.0.0")).build()?, |context| {
//!     context.command("get", |_, (): ()| Ok(42_u64))?;
//!     Ok(())
//! });
//! let web = fn_plugin(Manifest::builder("web", "1.0.0").depends_on("store", "^1").build()?, |_| Ok(()));
//! let host = Host::builder().plugins(vec![store, web]).build()?;
//!
//! // Refused while `web` depends on it; nothing changes.
//! assert!(matches!(host.disable("store"), Err(LifecycleError::DependentsActive { .. })));
//! // Cascade: `web` goes down first; both stay down until `store` comes back.
//! assert_eq!(host.disable_with("store", DependentsPolicy::Cascade)?, ["web", "store"]);
//! assert_eq!(
//!     host.execute::<(), u64>("store:get", ()).unwrap_err().to_string(),
//!     "command `store:get` is unavailable: plugin `store` is disabled"
//! );
//! host.enable("store")?;
//! assert_eq!(host.state("web"), Some(State::Active));
//!
//! // A reload while calls go on: a new instance, the same command.
//! let report = host.reload("store")?;
//! assert_eq!((report.generation, report.old_deactivate), (1, Ok(())));
//! assert_eq!(host.execute::<(), u64>("store:get", ())?, 42);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## State across a reload
//!
//! A plugin keeps what it must across a reload by returning it from
//! [`get_state`](crate::Plugin::get_state) and taking it back in
//! [`restore_state`](crate::Plugin::restore_state):
//!
//! ```
//! use patchpanel::{Context, Host, Plugin, PluginError, PluginSpec, SavedState, register_plugin};
//!
//! #[register_plugin(id = "tally", version = "1.0.0")]
//! #[derive(Default)]
//! pub struct Tally {
//!     count: u64,
//! }
//! impl Plugin for Tally {
//!     fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
//!         Ok(())
//!     }
//!     fn get_state(&mut self) -> Result<Option<SavedState>, PluginError> {
//!         Ok(Some(SavedState::new(&self.count)?))
//!     }
//!     fn restore_state(&mut self, state: SavedState) -> Result<(), PluginError> {
//!         self.count = state.get()?;
//!         Ok(())
//!     }
//! }
//!
//! let host = Host::builder().plugins(vec![PluginSpec::registered::<Tally>()?]).build()?;
//! host.with_plugin(|t: &mut Tally| t.count = 7)?;
//! host.reload("tally")?;
//! assert_eq!(host.with_plugin(|t: &mut Tally| t.count), Ok(7));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## What follows a reload
//!
//! - **Services follow their provider.** A [`Service`](crate::services::Service) handle
//!   reaches the provider active at each call.
//! - **Typed command handles follow too.** A [`CommandHandle`](crate::commands::CommandHandle)
//!   resolved before a reload runs the command as it is dispatched now, middleware
//!   included.
//! - **From inside a call**, disabling the plugin the call runs in, or reloading
//!   anything, would wait for itself; it is refused with
//!   [`LifecycleError::InsideCall`](crate::lifecycle::LifecycleError::InsideCall).
//!
//! ## Persisted choices
//!
//! [`HostBuilder::registry_file`](crate::host::HostBuilder::registry_file) keeps the
//! operator's choices in a small JSON file, written atomically on every change: a
//! disabled plugin stays disabled across restarts. A corrupt file, one of another
//! format, or one over 16 MiB is set aside under a new name, never overwritten, and the
//! host starts with defaults ([`Host::registry_notices`](crate::Host::registry_notices)
//! says so).
//!
//! ```
//! use patchpanel::testing::fn_plugin;
//! use patchpanel::{Host, Manifest, State};
//!
//! let dir = std::env::temp_dir().join(format!("patchpanel-guide-registry-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let file = dir.join("registry.json");
//! let plugin = || fn_plugin(Manifest::builder("feed", "1.0.0").build().unwrap(), |_| Ok(()));
//!
//! let host = Host::builder().plugins(vec![plugin()]).registry_file(&file).build()?;
//! host.disable("feed")?;
//! host.shutdown();
//!
//! let host = Host::builder().plugins(vec![plugin()]).registry_file(&file).build()?;
//! assert_eq!(host.state("feed"), Some(State::Disabled)); // the operator's choice holds
//! host.shutdown();
//! std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## How it stays cheap
//!
//! Each thread keeps a record of the plugins it is inside (a small stack, since calls
//! nest). Entering a plugin is one compare against the record's limit, two plain stores
//! and one compare of the plugin's state word; leaving is one store. A writer changes the
//! state, issues one `membarrier(2)` (as liburcu's "memb" flavour does; none while no
//! other live thread has called a plugin) and waits until no record shows the plugin.
//! Reload frees the old tables after a grace period. A churn test dispatches through
//! every channel from 4 threads while another disables, cascades, enables and reloads,
//! and counts every broken guarantee: 0.
//!
//! Next: [async plugins](super::async_plugins).
