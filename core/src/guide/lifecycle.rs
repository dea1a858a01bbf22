//! # Resolution and lifecycle
//!
//! ## The order
//!
//! At start-up the host resolves the plugins' dependency ranges into an activation
//! order: dependencies before dependents; among plugins that are ready, the smallest id
//! first. The order depends only on ids, versions and dependencies, never on link order
//! (which differs between debug, release and LTO builds). Resolution is
//! O(V log V + E), and every problem is reported at once
//! ([`ResolveErrors`](crate::resolve::ResolveErrors)); nothing starts when it fails.
//!
//! ```
//! use patchpanel::resolve::{ResolveOptions, resolve};
//! use patchpanel::testing::fn_plugin;
//! use patchpanel::Manifest;
//!
//! let plugin = |id: &str, deps: &[(&str, &str)]| -> Result<_, Box<dyn std::error::Error>> {
//!     let mut manifest = Manifest::builder(id, "1.0.0");
//!     for (dep, range) in deps {
//!         manifest = manifest.depends_on(*dep, *range);
//!     }
//!     Ok(fn_plugin(manifest.build()?, |_| Ok(())))
//! };
//! let specs = vec![plugin("web", &[("store", "^1"), ("auth", "^1")])?, plugin("store", &[])?, plugin("auth", &[])?];
//! let resolution = resolve(specs, &ResolveOptions::default())?;
//! assert_eq!(resolution.order(), ["auth", "store", "web"]);
//!
//! let errors = resolve(vec![plugin("web", &[("store", "^2")])?], &ResolveOptions::default()).unwrap_err();
//! assert_eq!(
//!     errors.to_string(),
//!     "plugin `web` depends on `store` (^2), which is not linked; add the crate that registers \
//!      `store` and name it in `link_plugins!`, or mark the dependency optional"
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! - **Several versions of one id** may be linked together. The host selects the highest
//!   version that satisfies every range the other plugins declare on it; the others are
//!   not instantiated ([`Host::superseded`](crate::Host::superseded)).
//!   [`HostBuilder::pin`](crate::host::HostBuilder::pin) (or `[pins]` in the config file)
//!   chooses instead.
//! - **Optional dependencies** may be absent; [`Context::is_present`](crate::Context::is_present)
//!   tells the plugin. When present they must match their range.
//! - **At compile time**, `link_plugins!` checks the set the application names and
//!   computes its activation order, with the same tie-break ([features](super::features)).
//!   When the plugins to start are exactly the named ones and no pin is set, start-up
//!   takes that order as it is (checking only what can change at run time: the host
//!   version, the host's features, that each dependency comes first); otherwise (plugins
//!   linked but not named, tests, explicit lists) it resolves at run time. The result is
//!   the same either way; at 1,000 plugins taking the order saves about 1,160 of 9,360
//!   instructions a plugin of start-up and shutdown.
//!
//! ## States
//!
//! discovered → validated → resolved → loaded → active ⇄ disabled → unloaded, or failed
//! with its reason ([`State`](crate::State), [`Failure`](crate::lifecycle::Failure)).
//! Every move is checked against that diagram and audited.
//!
//! Start-up creates each plugin with `Default`, calls
//! [`configure`](crate::Plugin::configure) then [`activate`](crate::Plugin::activate),
//! in order. An error or a panic marks that plugin failed; its dependents are not
//! activated and each records which dependency failed; everything else runs.
//! [`HostBuilder::strict`](crate::host::HostBuilder::strict) instead aborts the start-up
//! and deactivates what was already active, in reverse. Shutdown (or dropping the host)
//! deactivates in reverse order, exactly once each.
//!
//! ```
//! use patchpanel::lifecycle::Failure;
//! use patchpanel::testing::fn_plugin;
//! use patchpanel::{Host, Manifest, PluginError, State};
//!
//! let base = fn_plugin(Manifest::builder("base", "1.0.0").build()?, |_| Err(PluginError::new("no database")));
//! let app = fn_plugin(Manifest::builder("app", "1.0.0").depends_on("base", "^1").build()?, |_| Ok(()));
//! let other = fn_plugin(Manifest::builder("other", "1.0.0").build()?, |_| Ok(()));
//! let host = Host::builder().plugins(vec![base, app, other]).build()?;
//!
//! assert_eq!(host.state("base"), Some(State::Failed));
//! assert_eq!(host.failure("base").unwrap().to_string(), "activate returned an error: no database");
//! assert!(matches!(host.failure("app"), Some(Failure::DependencyFailed { .. })));
//! assert_eq!(host.state("other"), Some(State::Active));
//!
//! let report = host.shutdown();
//! assert_eq!(report.deactivated, ["other"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Lazy activation
//!
//! A plugin with `activation = "lazy"` (which must declare `contributes`) stays resolved
//! at start-up unless an eager plugin depends on it, and activates on first use: the
//! first command it declares, the first publish of an event it subscribes to, the first
//! lookup of a service it provides, or [`Host::activate`](crate::Host::activate).
//! However many threads race to use it first, it activates once.
//!
//! ```
//! use patchpanel::{Context, Host, Plugin, PluginError, PluginSpec, State, register_plugin};
//!
//! #[register_plugin(
//!     id = "report",
//!     version = "1.0.0",
//!     activation = "lazy",
//!     contributes = { commands = ["render"] },
//!     permissions = { commands = ["register"] },
//! )]
//! #[derive(Default)]
//! pub struct Report;
//! impl Plugin for Report {
//!     fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
//!         context.command("render", |_, (): ()| Ok("ready".to_owned()))?;
//!         Ok(())
//!     }
//! }
//!
//! let host = Host::builder().plugins(vec![PluginSpec::registered::<Report>()?]).build()?;
//! assert_eq!(host.state("report"), Some(State::Resolved));
//! assert_eq!(host.execute::<(), String>("report:render", ())?, "ready"); // wakes it
//! assert_eq!(host.state("report"), Some(State::Active));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Start-up options
//!
//! - **Parallel start-up** ([`HostBuilder::parallel_startup`](crate::host::HostBuilder::parallel_startup))
//!   activates plugins level by level over the dependency graph.
//! - **Deadlines** (`activation-deadline` in the manifest,
//!   [`HostBuilder::activation_deadline`](crate::host::HostBuilder::activation_deadline)):
//!   a plugin whose `activate` has not returned in time is failed and start-up goes on;
//!   its instance is never installed.
//! - **Tenants** ([`HostBuilder::build_tenants`](crate::host::HostBuilder::build_tenants)):
//!   one host per tenant from one resolution, each with its own instances, storage
//!   namespace, tables, events and services.
//!
//! Next: [running for days](super::running).
