//! [`HostBuilder`]: resolves the plugin set and starts it.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::admission::{
    ForeignSubscriber, GrantProblem, UnexpectedPlugin, foreign_subscribers, grant_problems, impostors, unexpected,
};
use super::operations::DependentsPolicy;
use super::persist;
use super::{Host, HostCore, HostSlot, Installed, Registry};
use crate::audit::{Audit, DEFAULT_CAPACITY, DEFAULT_FILE_MAX_BYTES};
use crate::config::{ConfigFile, PluginConfig};
use crate::lifecycle::Failure;
use crate::permissions::{ApprovalPolicy, PermissionChecker, PermissionRequest};
use crate::registry::{self, ExpectedPlugin, PluginSpec};
use crate::resolve::{self, ResolveError, ResolveErrors, ResolveOptions};
use crate::runtime::commands::chain::{HostGuard, Pattern};
use crate::runtime::hooks::HookWiringError;
use crate::runtime::{Observe, Runtime};
use crate::storage::{MemoryStorage, StorageBackend, StorageShared};

/// Configures and starts a [`Host`].
///
/// By default the plugins are those registered at link time; [`HostBuilder::plugins`]
/// replaces them with an explicit list.
///
/// Guide: [resolution and lifecycle](crate::guide::lifecycle).
#[derive(Clone, Default)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct HostBuilder {
    pub(super) plugins: Option<Vec<PluginSpec>>,
    pub(super) options: ResolveOptions,
    pub(super) strict: bool,
    pub(super) config: HashMap<String, serde_json::Value>,
    pub(super) storage: Option<Arc<dyn StorageBackend>>,
    pub(super) approval_policy: Option<ApprovalPolicy>,
    pub(super) audit_file: Option<PathBuf>,
    pub(super) audit_file_max_bytes: Option<u64>,
    pub(super) metrics: bool,
    pub(super) dispatch_spans: Option<bool>,
    pub(super) guards: Vec<(String, String)>,
    pub(super) grants: Option<std::collections::BTreeMap<String, Vec<String>>>,
    pub(super) registry_file: Option<PathBuf>,
    pub(super) persist_state: bool,
    pub(super) policy: DependentsPolicy,
    /// At most this many plugins activate at once at start-up (1: one after another).
    pub(super) parallel: usize,
    pub(super) deadline: Option<Duration>,
    pub(super) deadlines: HashMap<String, Duration>,
    pub(super) deactivation_deadline: Option<Duration>,
    /// Pins whose range did not parse: (id, range, why).
    pub(super) bad_pins: Vec<(String, String, String)>,
    /// The tenant this host serves.
    pub(super) tenant: Option<String>,
    /// Plugins that registered the id of a plugin the application named, under
    /// another type: set aside by [`HostBuilder::resolve`], reported as unexpected.
    pub(super) impostors: Vec<UnexpectedPlugin>,
    /// The plugins came from the link-time registry (no explicit list was given).
    pub(super) from_registry: bool,
    /// The application runs every linked plugin with what its manifest asks for
    /// ([`HostBuilder::trust_linked_plugins`]).
    pub(super) trust_linked: bool,
}

impl std::fmt::Debug for HostBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostBuilder")
            .field("plugins", &self.plugins)
            .field("strict", &self.strict)
            .field("audit_file", &self.audit_file)
            .field("registry_file", &self.registry_file)
            .finish_non_exhaustive()
    }
}

/// Start-up failed; nothing is left running.
///
/// Guide: [the error catalogue](crate::guide::errors).
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A pin's range is not a semver range.
    #[error(
        "the pin of `{id}` is `{range}`, which is not a version range ({reason}); write one such as `^2` or `=1.4.0`"
    )]
    Pin {
        /// The pinned id.
        id: String,
        /// The range as given.
        range: String,
        /// What the parser said.
        reason: String,
    },
    /// The plugin set does not resolve.
    #[error(transparent)]
    Resolve(#[from] ResolveErrors),
    /// The audit file could not be opened.
    #[error("cannot open the audit file `{}`: {source}", path.display())]
    AuditFile {
        /// The path given to `HostBuilder::audit_file`.
        path: PathBuf,
        /// The I/O error that made the file unusable.
        #[source]
        source: std::io::Error,
    },
    /// Hook implementations cannot be wired; the plugins already active were
    /// deactivated in reverse order.
    #[error(transparent)]
    Hooks(#[from] HookWiringError),
    /// A [`TestHost`](crate::testing::TestHost) was given a spec of a registered plugin
    /// type with a manifest other than the one the type was registered with.
    #[error(
        "plugin `{plugin}` ({type_name}) is given a manifest that differs from the one it was registered with; use `TestHostBuilder::plugin::<{type_name}>()`, or `spec_with_other_manifest` if the difference is the point of the test"
    )]
    ManifestMismatch {
        /// The plugin's id in the spec.
        plugin: String,
        /// The registered type.
        type_name: String,
    },
    /// Plugins ask for permissions the application does not grant them (see
    /// [`HostBuilder::grant`]), or a grant names no permission. Nothing was started.
    #[error(
        "{}",
        problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
    )]
    NotGranted {
        /// Every ungranted permission, and every grant that names no permission.
        problems: Vec<GrantProblem>,
    },
    /// The plugins came from the link-time registry, some ask for permissions, and the
    /// application stated no grants, nor that it trusts every linked plugin. Nothing
    /// was started.
    #[error(
        "no grants are stated for the {} linked plugins that ask for permissions ({}): any linked crate can register a plugin, so state what each may hold: in `link_plugins!` (`kv_store::KvStore => [\"storage.read\"]`, then `HostBuilder::grants(linked_grants())`), with `HostBuilder::grant`, or in a `[grants]` table; or call `HostBuilder::trust_linked_plugins()` to run each with what its manifest asks for",
        plugins.len(),
        plugins.join(", ")
    )]
    NoGrants {
        /// The ids of the plugins that ask for permissions, in activation order.
        plugins: Vec<String>,
    },
    /// Static subscribers (`#[subscribe(T)]`) whose type `T` claims the id of a plugin
    /// of another type: a hand-written `impl Registered` cannot make code run with
    /// another plugin's identity. Nothing was started.
    #[error(
        "{}",
        subscribers.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
    )]
    ForeignSubscriber {
        /// Every such subscriber.
        subscribers: Vec<ForeignSubscriber>,
    },
    /// In strict mode, plugins are in the registry that the application did not name in
    /// `link_plugins!` / [`HostBuilder::expect`]: a crate linked only as a dependency
    /// (to share an event type, say) registered them. Nothing was started.
    #[error(
        "strict mode: {} present in the registry but not expected: {}; name each in `link_plugins!` (or `HostBuilder::expect`), or stop linking the crate that brings it in",
        if plugins.len() == 1 { "a plugin is" } else { "plugins are" },
        plugins.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    )]
    Unexpected {
        /// The plugins present and not expected, in activation order.
        plugins: Vec<UnexpectedPlugin>,
    },
    /// In strict mode, a plugin failed to start; the plugins already active were
    /// deactivated in reverse order.
    #[error(
        "strict mode: plugin `{plugin}` failed ({failure}); start-up aborted, deactivated: [{}]",
        rolled_back.join(", ")
    )]
    Strict {
        /// The plugin that failed.
        plugin: String,
        /// Why it failed, with its cause chain.
        failure: Failure,
        /// The plugins deactivated during rollback, in the order they were deactivated.
        rolled_back: Vec<String>,
    },
}

impl HostBuilder {
    /// Runs the host over `plugins` instead of the link-time registry.
    pub fn plugins(mut self, plugins: Vec<PluginSpec>) -> HostBuilder {
        self.plugins = Some(plugins);
        self
    }

    /// Names plugins that must be present; a missing one is a start-up error
    /// ([`ResolveError::NotRegistered`]). Pass `linked_plugins()` from [`link_plugins!`](crate::link_plugins).
    pub fn expect(mut self, expected: impl IntoIterator<Item = ExpectedPlugin>) -> HostBuilder {
        self.options.expected.extend(expected);
        self
    }

    /// In strict mode any plugin failure aborts start-up, after deactivating the plugins
    /// already active in reverse order. Off by default: a failed plugin and its
    /// dependents stay down and everything else runs.
    pub fn strict(mut self, strict: bool) -> HostBuilder {
        self.strict = strict;
        self
    }

    /// Restricts the host features plugins may require (default: every feature in
    /// [`FEATURES`](crate::manifest::FEATURES)).
    pub fn available_features<S: Into<String>>(mut self, features: impl IntoIterator<Item = S>) -> HostBuilder {
        self.options.available_features = features.into_iter().map(|feature| Cow::Owned(feature.into())).collect();
        self
    }

    /// Gives plugin `id` its configuration, passed to [`Plugin::configure`](crate::Plugin::configure).
    pub fn config(mut self, id: impl Into<String>, value: serde_json::Value) -> HostBuilder {
        self.config.insert(id.into(), value);
        self
    }

    /// Gives every plugin with a `[plugins."<id>"]` table in `file` its configuration. A
    /// table whose id matches no running plugin is reported by
    /// [`Host::config_warnings`]. A `[grants]` table (`"<id>" = ["storage.read", ..]`)
    /// declares grants, as [`HostBuilder::grant`] does.
    pub fn config_file(mut self, file: ConfigFile) -> HostBuilder {
        let (tables, grants, pins) = file.into_parts();
        self.config.extend(tables);
        for (id, range) in pins {
            self = self.pin(id, &range);
        }
        for (plugin, permissions) in grants.into_iter().flatten() {
            self = self.grant(plugin, permissions);
        }
        self
    }

    /// Where plugins' storage lives (default: [`MemoryStorage`]).
    pub fn storage(mut self, backend: Arc<dyn StorageBackend>) -> HostBuilder {
        self.storage = Some(backend);
        self
    }

    /// Decides `user-approved` permissions: called with each request, `true` allows it.
    /// Without a policy, `user-approved` requests are denied.
    pub fn approval_policy(
        mut self,
        policy: impl Fn(&PermissionRequest<'_>) -> bool + Send + Sync + 'static,
    ) -> HostBuilder {
        self.approval_policy = Some(Arc::new(policy));
        self
    }

    /// Records metrics through the `metrics` facade: activation duration per plugin;
    /// count, errors and latency per command; event deliveries and failures per event
    /// type. Off by default, and then the dispatch path does not pay for it: commands
    /// only leave the inlined fast path when metrics are on.
    pub fn metrics(mut self, enabled: bool) -> HostBuilder {
        self.metrics = enabled;
        self
    }

    /// Grants plugin `plugin` the permissions it may hold (`"storage.read"`,
    /// `"events.publish"`...), as Tauri's capabilities do. A grant admits the plugin's
    /// own namespace; `"storage.read:all"` admits scope `all` (and every narrower one),
    /// `":user-approved"` scope `user-approved`. Once any grant is declared, every
    /// plugin's manifest is checked against the grants at start-up: a plugin that asks
    /// for more than it is granted (or is granted nothing, or at a wider scope) stops the
    /// start with [`StartError::NotGranted`], naming the plugin, the permission and the
    /// grant to add, as does a grant for an id that no linked plugin has (with the
    /// closest id). With no grant declared, manifests are taken as they are
    /// ([`Host::grants_enforced`] says which).
    pub fn grant<S: Into<String>>(
        mut self,
        plugin: impl Into<String>,
        permissions: impl IntoIterator<Item = S>,
    ) -> HostBuilder {
        self.grants
            .get_or_insert_with(Default::default)
            .entry(plugin.into())
            .or_default()
            .extend(permissions.into_iter().map(Into::into));
        self
    }

    /// Runs every plugin with what its manifest asks for, without stating grants.
    ///
    /// A host built from the link-time registry (no [`HostBuilder::plugins`] list) with
    /// no grants stated fails with [`StartError::NoGrants`] when any of its plugins asks
    /// for a permission: any crate the binary links
    /// can register a plugin, so what each may hold is the application's statement
    /// ([`HostBuilder::grant`], `link_plugins!`'s grants, a `[grants]` table). This call
    /// is the other statement, "I trust every linked plugin": it is recorded in the audit
    /// log and reported by [`Host::trusts_linked_plugins`]. Grants, once stated, take
    /// precedence. An explicit [`HostBuilder::plugins`] list names each plugin in code
    /// and runs without grants unless some are stated.
    pub fn trust_linked_plugins(mut self) -> HostBuilder {
        self.trust_linked = true;
        self
    }

    /// Grants several plugins at once: `linked_grants()` from
    /// [`link_plugins!`](crate::link_plugins), where the grants sit beside the plugin
    /// names. An empty list declares nothing.
    pub fn grants<S: Into<String>, G: IntoIterator<Item = S>>(
        mut self,
        grants: impl IntoIterator<Item = (S, G)>,
    ) -> HostBuilder {
        for (plugin, permissions) in grants {
            self = self.grant(plugin, permissions);
        }
        self
    }

    /// Declares that plugin `plugin` guards the commands matching `pattern` (`*`,
    /// `prefix*` or one id): they run only while it is active. If it failed to start,
    /// is disabled, or is not linked at all, they are rejected with
    /// [`DispatchErrorKind::GuardDown`](crate::commands::DispatchErrorKind::GuardDown) rather than
    /// run unguarded: the guard fails closed.
    pub fn guarded_by(mut self, plugin: impl Into<String>, pattern: impl Into<String>) -> HostBuilder {
        self.guards.push((plugin.into(), pattern.into()));
        self
    }

    /// Runs every dispatch and publish in a `tracing` span naming the plugin and the
    /// command or event. The default is on when a `tracing` subscriber exists as the
    /// host is built (install yours first), and off otherwise; off, the dispatch path
    /// does not check for one.
    pub fn dispatch_spans(mut self, enabled: bool) -> HostBuilder {
        self.dispatch_spans = Some(enabled);
        self
    }

    /// Also appends every audit record to `path`, one JSON object per line, rotating it
    /// to `<path>.1` at 64 MiB ([`AUDIT_FILE_MAX_BYTES`](crate::audit::DEFAULT_FILE_MAX_BYTES); see [`Audit`](crate::audit::Audit)).
    pub fn audit_file(mut self, path: impl Into<PathBuf>) -> HostBuilder {
        self.audit_file = Some(path.into());
        self
    }

    /// The size at which the audit file is rotated.
    pub fn audit_file_max_bytes(mut self, max_bytes: u64) -> HostBuilder {
        self.audit_file_max_bytes = Some(max_bytes);
        self
    }

    /// Keeps the operator's choices in a small JSON file at `path`: which plugins are
    /// disabled (and by whose cascade), with their versions. The host reads it at
    /// start-up (a disabled plugin stays disabled) and rewrites it atomically on every
    /// disable, enable and reload. A corrupt file is set aside, never overwritten; see
    /// [`Host::registry_notices`].
    pub fn registry_file(mut self, path: impl Into<PathBuf>) -> HostBuilder {
        self.registry_file = Some(path.into());
        self
    }

    /// With a registry file, also saves each plugin's [`SavedState`](crate::SavedState) at shutdown and
    /// restores it at the next start-up (unless the plugin's version changed).
    pub fn persist_state(mut self, enabled: bool) -> HostBuilder {
        self.persist_state = enabled;
        self
    }

    /// What [`Host::disable`] does when active plugins depend on the one being
    /// disabled (default: [`DependentsPolicy::Refuse`]).
    pub fn dependents_policy(mut self, policy: DependentsPolicy) -> HostBuilder {
        self.policy = policy;
        self
    }

    /// Runs the highest linked version of plugin `id` that `range` accepts, when several
    /// versions of it are linked (two crates carrying one id): dependents then resolve
    /// against that version, and one whose range does not accept it is an error naming
    /// both ranges ([`ResolveError::PinConflict`](crate::resolve::ResolveError::PinConflict)).
    /// The config file's `[pins]` table does the same (`"kv-store" = "^1"`). A range
    /// that does not parse is refused at `build`.
    pub fn pin(mut self, id: impl Into<String>, range: &str) -> HostBuilder {
        let id = id.into();
        match semver::VersionReq::parse(range) {
            Ok(req) => {
                self.options.pins.insert(id, req);
            }
            Err(error) => self.bad_pins.push((id, range.to_owned(), error.to_string())),
        }
        self
    }

    /// Activates up to `threads` plugins at once at start-up, level by level over the
    /// dependency graph: a plugin starts only once every plugin it depends on has, so
    /// the order guarantees within a dependency chain hold, and plugins that do not
    /// depend on each other overlap. For plugins whose `activate` waits (I/O, a
    /// connection); 0 and 1 mean one after another, the default. A plugin that fails
    /// still fails its dependents; in strict mode the first failure of a level (by
    /// activation order) aborts the start-up.
    pub fn parallel_startup(mut self, threads: usize) -> HostBuilder {
        self.parallel = threads;
        self
    }

    /// Every plugin must activate within `deadline`, or it is failed with
    /// [`Failure::Deadline`] ("did not activate within 5 s") and start-up goes on
    /// (strict mode aborts instead, and rolls back). Synchronous code cannot be
    /// pre-empted: the plugin's code runs on a thread of its own, which keeps running
    /// until that code returns; the instance it made is then deactivated and dropped on
    /// that thread, never installed, and nothing of it is wired. The plugin stays
    /// failed (a reload may retry it). Without a deadline, activation runs on the
    /// thread that builds the host. A plugin's manifest may set its own
    /// (`activation-deadline = "5s"`), which this default does not override;
    /// [`HostBuilder::activation_deadline_for`] overrides both.
    pub fn activation_deadline(mut self, deadline: Duration) -> HostBuilder {
        self.deadline = Some(deadline);
        self
    }

    /// Every plugin's `deactivate` (at shutdown, and for the instance a reload replaced)
    /// must return within `deadline`; one that does not is reported with
    /// [`Failure::Deadline`] and the host moves on to the next plugin. As with
    /// activation, the stuck code keeps its thread until it returns, and the instance is
    /// dropped on that thread then.
    pub fn deactivation_deadline(mut self, deadline: Duration) -> HostBuilder {
        self.deactivation_deadline = Some(deadline);
        self
    }

    /// [`HostBuilder::activation_deadline`] for plugin `id` alone, over the default.
    pub fn activation_deadline_for(mut self, id: impl Into<String>, deadline: Duration) -> HostBuilder {
        self.deadlines.insert(id.into(), deadline);
        self
    }

    /// Resolves the plugin set, then creates, configures and activates each plugin in
    /// dependency order.
    pub fn build(mut self) -> Result<Host, StartError> {
        let started = Instant::now();
        let resolution = self.resolve()?;
        self.build_resolved(resolution, started)
    }

    /// Resolves the plugins asked for (the explicit list, or the link-time registry)
    /// under the builder's options and pins.
    pub(super) fn resolve(&mut self) -> Result<resolve::Resolution, StartError> {
        if let Some((id, range, reason)) = self.bad_pins.pop() {
            return Err(StartError::Pin { id, range, reason });
        }
        let mut plugins = match self.plugins.take() {
            Some(plugins) => plugins,
            None => {
                self.from_registry = true;
                registry_specs()?
            }
        };
        // The application's list binds each id to the type it named: another type
        // under that id, at any version, never runs (nor inherits its grants, storage
        // or services), and is reported.
        // The order `link_plugins!` checked takes only the named types, each under its
        // own id: when it is taken, there is no impostor to look for. (Without named
        // plugins it is refused at once.)
        plugins = match resolve::linked::in_linked_order(plugins, &self.options) {
            Ok(resolution) => return Ok(resolution),
            Err(plugins) => plugins,
        };
        if !self.options.expected.is_empty() {
            let (named, impostors) = impostors(plugins, &self.options.expected);
            plugins = named;
            self.impostors = impostors;
        }
        Ok(resolve::resolve_in_full(plugins, &self.options)?)
    }

    /// Builds the host over a resolution already made.
    pub(super) fn build_resolved(
        mut self,
        resolution: resolve::Resolution,
        started: Instant,
    ) -> Result<Host, StartError> {
        let audit = Arc::new(
            Audit::expecting(
                DEFAULT_CAPACITY,
                self.audit_file.as_deref(),
                self.audit_file_max_bytes.unwrap_or(DEFAULT_FILE_MAX_BYTES),
                // Each plugin makes five lifecycle records from start-up to shutdown
                // (validated, resolved, loaded, active, unloaded); at least the ring's
                // usual first size.
                (resolution.plugins().len() * 5).max(1024),
            )
            .map_err(|source| StartError::AuditFile {
                path: self.audit_file.clone().unwrap_or_default(),
                source,
            })?,
        );
        let permissions = Arc::new(PermissionChecker::new(self.approval_policy.take(), Arc::clone(&audit)));
        let storage = Arc::new(StorageShared {
            backend: self
                .storage
                .take()
                .unwrap_or_else(|| Arc::new(MemoryStorage::default())),
            permissions,
            tenant: Arc::from(self.tenant.as_deref().unwrap_or(crate::storage::DEFAULT_TENANT)),
        });
        let (resolved, graph, superseded) = resolution.into_parts();
        // Grants fail closed for plugins taken from the link-time registry: whatever a
        // linked crate registers runs only with what the application granted, unless
        // the application says, audibly, that it trusts them all.
        // A plugin that asks for no permission needs no grant.
        let trusting = self.trust_linked && self.grants.is_none();
        if self.from_registry && self.grants.is_none() && !self.trust_linked {
            let asking: Vec<String> = resolved
                .iter()
                .filter(|p| !p.spec.manifest().permissions.is_empty())
                .map(|p| p.spec.manifest().id.clone())
                .collect();
            if !asking.is_empty() {
                return Err(StartError::NoGrants { plugins: asking });
            }
        }
        if let Some(grants) = &self.grants {
            let problems = grant_problems(&resolved, grants);
            if !problems.is_empty() {
                return Err(StartError::NotGranted { problems });
            }
        }
        let foreign = foreign_subscribers(&resolved);
        if !foreign.is_empty() {
            return Err(StartError::ForeignSubscriber { subscribers: foreign });
        }
        // Recorded once the start is admitted, so that the record describes a host that ran.
        if trusting {
            audit.record(
                &Arc::from("host"),
                "grants",
                crate::audit::Decision::Allowed,
                format!(
                    "trust_linked_plugins: no grants stated; {} plugins run with what their manifests ask for",
                    resolved.len()
                ),
            );
        }
        let mut unexpected = unexpected(&resolved, &self.options.expected);
        unexpected.splice(0..0, std::mem::take(&mut self.impostors));
        if self.strict && !unexpected.is_empty() {
            return Err(StartError::Unexpected { plugins: unexpected });
        }
        for plugin in &unexpected {
            tracing::warn!(target: "patchpanel::registry", "{plugin} is present in the registry but not expected");
        }

        if self.metrics {
            crate::metrics::describe();
        }
        let runtime = Runtime::new(
            resolved
                .iter()
                .map(|plugin| (Arc::clone(plugin.spec.manifest_arc()), Arc::clone(plugin.spec.id_arc()))),
            storage,
            audit,
            Observe {
                metrics: self.metrics,
                spans: self.dispatch_spans.unwrap_or_else(tracing::dispatcher::has_been_set),
            },
        );
        let slots: Vec<HostSlot> = resolved
            .into_iter()
            .enumerate()
            .map(|(position, plugin)| {
                let id = Arc::clone(&runtime.plugin(position).id);
                // Most plugins have no configuration: skip looking their id up.
                let given = if self.config.is_empty() {
                    None
                } else {
                    self.config.remove(&*id)
                };
                let config = match given {
                    Some(value) => PluginConfig::new(id, value),
                    None => PluginConfig::empty(id),
                };
                HostSlot {
                    spec: plugin.spec,
                    absent_optional: plugin.absent_optional,
                    config: Mutex::new(config),
                    instance: Mutex::new(None),
                    installed: Mutex::new(Installed::default()),
                    disabled_with: Mutex::new(None),
                    activation: Mutex::new(()),
                    pending_state: Mutex::new(None),
                    last_health: Mutex::new(None),
                    health_check: Mutex::new(None),
                }
            })
            .collect();
        // Tables left over matched no plugin (most hosts have none: skip listing ids).
        let config_warnings = if self.config.is_empty() {
            Vec::new()
        } else {
            config_warnings(self.config.keys(), &runtime.ids())
        };
        let (records, registry) = match self.registry_file.take() {
            Some(path) => {
                let (records, notices) = persist::load(&path);
                let registry = Registry {
                    path,
                    persist_state: self.persist_state,
                    recorded: persist::RegistryState::default(),
                    notices: Mutex::new(notices),
                };
                (records, Some(registry))
            }
            None => (persist::RegistryState::default(), None),
        };
        let guards = self
            .guards
            .iter()
            .map(|(plugin, pattern)| HostGuard {
                pattern: Pattern::parse(pattern),
                plugin: Arc::from(plugin.as_str()),
                position: runtime.position_of(plugin),
            })
            .collect();
        let mut host = Host {
            runtime: Arc::clone(&runtime),
            grants_enforced: self.grants.is_some(),
            trusts_linked_plugins: trusting,
            unexpected,
            core: Arc::new(HostCore {
                guards,
                runtime,
                slots: slots.into_boxed_slice(),
                graph,
                tables: Mutex::new(()),
            }),
            superseded,
            startup: std::time::Duration::ZERO,
            lifecycle: Mutex::new(()),
            shut_down: AtomicBool::new(false),
            config_warnings,
            registry,
            policy: self.policy,
            deactivation_deadline: self.deactivation_deadline,
        };
        host.adopt_records(records);
        host.core.runtime.resolve_all();
        let core = Arc::downgrade(&host.core);
        host.core
            .runtime
            .set_activator(Box::new(move |position| match core.upgrade() {
                Some(core) => core.activate_lazily(position),
                None => Err(Failure::Activate("its host was dropped".to_owned())),
            }));
        self.start_all(&host)?;
        host.apply_recorded_statuses();
        host.report_deprecations();
        host.startup = started.elapsed();
        Ok(host)
    }
}

fn config_warnings<'a>(unmatched: impl Iterator<Item = &'a String>, ids: &[&str]) -> Vec<String> {
    let mut warnings: Vec<String> = unmatched
        .map(|id| {
            let hint = patchpanel_manifest::catalogue::closest(id, ids)
                .map(|close| format!("; did you mean `{close}`?"))
                .unwrap_or_else(|| "; is its crate linked?".to_owned());
            format!("configuration table [plugins.\"{id}\"] matches no running plugin{hint}")
        })
        .collect();
    warnings.sort();
    for warning in &warnings {
        tracing::warn!(target: "patchpanel::config", "{warning}");
    }
    warnings
}

/// The link-time registry's plugins as specs. The registry cannot change while the
/// process runs, so its manifests are converted and validated once, on the first
/// build, and every later build (a test suite's hundredth host, a restarted host)
/// shares them: a host holds its plugins' manifests by `Arc`, and dropping it frees
/// none of them.
fn registry_specs() -> Result<Vec<PluginSpec>, ResolveErrors> {
    static SPECS: std::sync::OnceLock<Result<Vec<PluginSpec>, ResolveErrors>> = std::sync::OnceLock::new();
    SPECS.get_or_init(convert_registry).clone()
}

fn convert_registry() -> Result<Vec<PluginSpec>, ResolveErrors> {
    let mut specs = Vec::new();
    let mut errors = Vec::new();
    for entry in registry::registry_entries() {
        match entry.to_spec() {
            Ok(spec) => specs.push(spec),
            Err(error) => errors.push(ResolveError::InvalidManifest(error)),
        }
    }
    if errors.is_empty() {
        Ok(specs)
    } else {
        Err(ResolveErrors(errors))
    }
}
