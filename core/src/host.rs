//! The host: builds a plugin set, activates it in dependency order, runs its lifecycle,
//! and shuts it down in reverse order.

use std::any::{Any, TypeId};
use std::collections::{HashMap, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::adapter::ErasedPlugin;
use crate::audit::{Audit, DEFAULT_CAPACITY};
use crate::commands::{CommandHandle, DispatchError, Metadata};
use crate::config::{ConfigFile, PluginConfig};
use crate::context::{ContextData, Registrations};
use crate::dispatch::{self, Call, FxHashMap, Incident, RawCall, Tables};
use crate::events::{Delivery, EventChannel};
use crate::hooks::{Hook, HookError, HookOrderError};
use crate::lifecycle::{Failure, LifecycleError, PluginState, State, StateCell, StateChanged};
use crate::manifest::Manifest;
use crate::messaging::MessageError;
use crate::permissions::{ApprovalPolicy, PermissionChecker, PermissionDenied, PermissionRequest};
use crate::plugin::{Capability, Plugin, PluginError, SavedState};
use crate::providers::ServiceError;
use crate::registry::{self, ExpectedPlugin, PluginSpec};
use crate::resolve::{self, ResolveError, ResolveErrors, ResolveOptions};
use crate::storage::{MemoryStorage, Storage, StorageBackend, StorageShared};
use std::path::PathBuf;

/// Configures and starts a [`Host`].
///
/// By default the plugins are those registered at link time; [`HostBuilder::plugins`]
/// replaces them with an explicit list.
#[derive(Default)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct HostBuilder {
    plugins: Option<Vec<PluginSpec>>,
    options: ResolveOptions,
    strict: bool,
    config: HashMap<String, serde_json::Value>,
    storage: Option<Arc<dyn StorageBackend>>,
    approval_policy: Option<ApprovalPolicy>,
    audit_file: Option<PathBuf>,
    metrics: bool,
}

impl std::fmt::Debug for HostBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostBuilder")
            .field("plugins", &self.plugins)
            .field("strict", &self.strict)
            .field("audit_file", &self.audit_file)
            .finish_non_exhaustive()
    }
}

/// Start-up failed; nothing is left running.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
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
    Hooks(#[from] HookOrderError),
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

/// A running set of plugins.
///
/// Dropping the host shuts it down; [`Host::shutdown`] does the same and returns a report.
pub struct Host {
    slots: Vec<Slot>,
    index: FxHashMap<String, usize>,
    superseded: Vec<PluginSpec>,
    startup: Duration,
    lifecycle: Mutex<()>,
    shut_down: bool,
    tables: Tables,
    incidents: Mutex<VecDeque<Incident>>,
    audit: Arc<Audit>,
    storage: Arc<StorageShared>,
    config_warnings: Vec<String>,
    metrics: bool,
}

/// How many incidents the host keeps; older ones are dropped first.
const INCIDENT_CAPACITY: usize = 256;

struct Slot {
    spec: PluginSpec,
    dependencies: Vec<usize>,
    dependents: Vec<usize>,
    absent_optional: Vec<String>,
    config: PluginConfig,
    state: StateCell,
    instance: Mutex<Option<Box<dyn ErasedPlugin>>>,
    registrations: Mutex<Registrations>,
}

/// What [`Host::shutdown`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShutdownReport {
    /// The plugins deactivated, in the order they were deactivated.
    pub deactivated: Vec<String>,
    /// Plugins whose `deactivate` returned an error or panicked. They are unloaded anyway.
    pub errors: Vec<(String, Failure)>,
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
        self.options.available_features = features.into_iter().map(Into::into).collect();
        self
    }

    /// Gives plugin `id` its configuration, passed to [`Plugin::configure`].
    pub fn config(mut self, id: impl Into<String>, value: serde_json::Value) -> HostBuilder {
        self.config.insert(id.into(), value);
        self
    }

    /// Gives every plugin with a `[plugins."<id>"]` table in `file` its configuration. A
    /// table whose id matches no running plugin is reported by
    /// [`Host::config_warnings`].
    pub fn config_file(mut self, file: ConfigFile) -> HostBuilder {
        self.config.extend(file.into_tables());
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

    /// Also appends every audit record to `path`, one JSON object per line.
    pub fn audit_file(mut self, path: impl Into<PathBuf>) -> HostBuilder {
        self.audit_file = Some(path.into());
        self
    }

    /// Resolves the plugin set, then creates, configures and activates each plugin in
    /// dependency order.
    pub fn build(mut self) -> Result<Host, StartError> {
        let started = Instant::now();
        let audit = Arc::new(
            Audit::new(DEFAULT_CAPACITY, self.audit_file.as_deref()).map_err(|source| StartError::AuditFile {
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
        });
        let plugins = match self.plugins.take() {
            Some(plugins) => plugins,
            None => registry_specs()?,
        };
        let resolution = resolve::resolve(plugins, &self.options)?;
        let (resolved, superseded) = resolution.into_parts();

        let mut slots: Vec<Slot> = resolved
            .into_iter()
            .map(|plugin| {
                let id = plugin.spec.manifest().id.clone();
                let state = StateCell::new(&id, Arc::clone(&audit));
                // Replaced by the plugin's own registrations when it activates.
                let registrations = Mutex::new(Registrations::new(""));
                let config = match self.config.remove(&id) {
                    Some(value) => PluginConfig::new(id, value),
                    None => PluginConfig::empty(id),
                };
                Slot {
                    registrations,
                    spec: plugin.spec,
                    dependencies: plugin.dependencies,
                    dependents: Vec::new(),
                    absent_optional: plugin.absent_optional,
                    config,
                    state,
                    instance: Mutex::new(None),
                }
            })
            .collect();
        for index in 0..slots.len() {
            for dependency in slots[index].dependencies.clone() {
                slots[dependency].dependents.push(index);
            }
        }
        let ids: Vec<&str> = slots.iter().map(|slot| slot.spec.manifest().id.as_str()).collect();
        let mut config_warnings: Vec<String> = self
            .config
            .keys()
            .map(|id| {
                let hint = patchpanel_manifest::catalogue::closest(id, &ids)
                    .map(|close| format!("; did you mean `{close}`?"))
                    .unwrap_or_else(|| "; is its crate linked?".to_owned());
                format!("configuration table [plugins.\"{id}\"] matches no running plugin{hint}")
            })
            .collect();
        config_warnings.sort();
        for warning in &config_warnings {
            tracing::warn!(target: "patchpanel::config", "{warning}");
        }
        let index = slots
            .iter()
            .enumerate()
            .map(|(position, slot)| (slot.spec.manifest().id.clone(), position))
            .collect();
        let mut host = Host {
            slots,
            index,
            superseded,
            startup: Duration::ZERO,
            lifecycle: Mutex::new(()),
            shut_down: false,
            tables: Tables::default(),
            incidents: Mutex::new(VecDeque::new()),
            audit,
            storage,
            config_warnings,
            metrics: self.metrics,
        };
        for slot in &host.slots {
            slot.state
                .transition(State::Validated)
                .expect("a new slot is discovered");
            slot.state
                .transition(State::Resolved)
                .expect("a validated slot resolves");
        }
        for position in 0..host.slots.len() {
            if let Err(failure) = host.start(position, None)
                && self.strict
            {
                let plugin = host.slots[position].spec.manifest().id.clone();
                let report = host.shutdown_in_place();
                return Err(StartError::Strict {
                    plugin,
                    failure,
                    rolled_back: report.deactivated,
                });
            }
        }
        if let Err(error) = host.refreeze() {
            host.shutdown_in_place();
            return Err(StartError::Hooks(error));
        }
        host.startup = started.elapsed();
        Ok(host)
    }
}

fn registry_specs() -> Result<Vec<PluginSpec>, ResolveErrors> {
    let mut specs = Vec::new();
    let mut errors = Vec::new();
    for entry in registry::registered() {
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

/// Runs plugin code, turning an error or a panic into a [`Failure`].
fn guarded<T>(during: &'static str, call: impl FnOnce() -> Result<T, PluginError>) -> Result<T, Failure> {
    match catch_unwind(AssertUnwindSafe(call)) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(match during {
            "configure" => Failure::Configure(error.to_string()),
            "restore_state" => Failure::RestoreState(error.to_string()),
            _ => Failure::Activate(error.to_string()),
        }),
        Err(payload) => Err(Failure::Panicked {
            during,
            message: panic_message(payload.as_ref()),
        }),
    }
}

pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<&str>() {
        (*message).to_owned()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "a panic with a non-string payload".to_owned()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic in plugin code is caught before it can poison a host lock mid-update, so a
    // poisoned lock still holds consistent data.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Host {
    /// A builder over the link-time registry.
    pub fn builder() -> HostBuilder {
        HostBuilder::default()
    }

    /// Every running plugin, in activation order.
    pub fn plugins(&self) -> impl ExactSizeIterator<Item = PluginInfo<'_>> {
        (0..self.slots.len()).map(|position| PluginInfo { host: self, position })
    }

    /// The plugin with this id, or an error that suggests the closest id when one is
    /// close.
    pub fn plugin(&self, id: &str) -> Result<PluginInfo<'_>, LifecycleError> {
        self.position(id).map(|position| PluginInfo { host: self, position })
    }

    /// The state of plugin `id`, or `None` when no plugin has that id.
    pub fn state(&self, id: &str) -> Option<PluginState> {
        self.plugin(id).ok().map(|plugin| plugin.state())
    }

    /// The ids in activation order.
    pub fn order(&self) -> Vec<&str> {
        self.slots.iter().map(|slot| slot.spec.manifest().id.as_str()).collect()
    }

    /// Linked versions that were not selected (see [`crate::resolve`] for the rule).
    pub fn superseded(&self) -> &[PluginSpec] {
        &self.superseded
    }

    /// How long [`HostBuilder::build`] took, resolution and activation included.
    pub fn startup_duration(&self) -> Duration {
        self.startup
    }

    /// Runs `f` on the instance of plugin type `P`, if one is loaded.
    pub fn with_plugin<P: Plugin, R>(&self, f: impl FnOnce(&mut P) -> R) -> Option<R> {
        for slot in &self.slots {
            let mut instance = lock(&slot.instance);
            if let Some(plugin) = instance.as_mut().and_then(|p| p.as_any_mut().downcast_mut::<P>()) {
                return Some(f(plugin));
            }
        }
        None
    }

    /// Pauses an active plugin: it keeps its instance and state but receives nothing.
    /// Refused while active plugins depend on it.
    pub fn disable(&self, id: &str) -> Result<(), LifecycleError> {
        let _guard = lock(&self.lifecycle);
        let position = self.position(id)?;
        let slot = &self.slots[position];
        let dependents: Vec<String> = slot
            .dependents
            .iter()
            .filter(|&&d| self.slots[d].state.get() == State::Active)
            .map(|&d| self.slots[d].spec.manifest().id.clone())
            .collect();
        if !dependents.is_empty() && slot.state.get() == State::Active {
            return Err(LifecycleError::DependentsActive {
                plugin: id.to_owned(),
                dependents,
            });
        }
        let from = slot.state.transition(State::Disabled)?;
        self.announce(id, from, State::Disabled);
        Ok(())
    }

    /// Resumes a disabled plugin.
    pub fn enable(&self, id: &str) -> Result<(), LifecycleError> {
        let _guard = lock(&self.lifecycle);
        let position = self.position(id)?;
        self.check_dependencies_active(position)?;
        let from = self.slots[position].state.transition(State::Active)?;
        self.announce(id, from, State::Active);
        Ok(())
    }

    /// Replaces a plugin's instance, carrying its state: `get_state` on the old instance,
    /// `deactivate`, a new instance, `configure`, `restore_state`, `activate`; then the
    /// dispatch tables are rebuilt with the new instance's registrations.
    ///
    /// Works on an active or a failed plugin whose dependencies are active. If the new
    /// instance fails, the plugin is marked failed (its registrations are gone) and the
    /// error says why. Takes `&mut self`: no dispatch can be running on the old tables.
    pub fn reload(&mut self, id: &str) -> Result<(), LifecycleError> {
        let position = self.position(id)?;
        let slot = &self.slots[position];
        let from = slot.state.get();
        if !matches!(from, State::Active | State::Failed) {
            return Err(LifecycleError::InvalidTransition {
                plugin: id.to_owned(),
                from,
                to: State::Loaded,
            });
        }
        self.check_dependencies_active(position)?;
        let mut saved = None;
        if from == State::Active {
            let mut old = lock(&slot.instance).take();
            if let Some(instance) = old.as_mut() {
                saved = guarded("get_state", || Ok(instance.get_state())).unwrap_or(None);
            }
            // A failing deactivate of the old instance does not stop the reload.
            let _ = self.deactivate_instance(position, old);
            slot.state.transition(State::Unloaded)?;
            self.announce(id, State::Active, State::Unloaded);
        }
        let from = slot.state.get();
        *lock(&slot.registrations) = Registrations::new(id);
        let started = self.start(position, saved);
        let rewired = match started {
            Ok(()) => self.refreeze().map_err(|error| Failure::Activate(error.to_string())),
            Err(failure) => Err(failure),
        };
        if let Err(failure) = rewired {
            let slot = &self.slots[position];
            if slot.state.get() == State::Active {
                let instance = lock(&slot.instance).take();
                let _ = self.deactivate_instance(position, instance);
                slot.state.transition(State::Unloaded)?;
            }
            slot.state.fail(failure.clone())?;
            *lock(&slot.registrations) = Registrations::new(id);
            self.refreeze()
                .expect("the tables froze before this plugin's registrations were added");
            self.announce(id, from, State::Failed);
            return Err(LifecycleError::Failed {
                plugin: id.to_owned(),
                failure,
            });
        }
        self.announce(id, from, State::Active);
        Ok(())
    }

    /// Publishes a [`StateChanged`] event.
    fn announce(&self, plugin: &str, from: State, to: State) {
        self.publish(&StateChanged {
            plugin: plugin.to_owned(),
            from,
            to,
        });
    }

    /// Deactivates every active or disabled plugin in reverse activation order, exactly
    /// once each, and reports what happened.
    pub fn shutdown(mut self) -> ShutdownReport {
        self.shutdown_in_place()
    }

    fn shutdown_in_place(&mut self) -> ShutdownReport {
        let mut report = ShutdownReport::default();
        if self.shut_down {
            return report;
        }
        self.shut_down = true;
        for position in (0..self.slots.len()).rev() {
            let slot = &self.slots[position];
            let id = &slot.spec.manifest().id;
            if !matches!(slot.state.get(), State::Active | State::Disabled) {
                continue;
            }
            let instance = lock(&slot.instance).take();
            if let Err(failure) = self.deactivate_instance(position, instance) {
                report.errors.push((id.clone(), failure));
            }
            slot.state
                .transition(State::Unloaded)
                .expect("active and disabled plugins can unload");
            report.deactivated.push(id.clone());
        }
        report
    }

    /// A [`Call`] on behalf of the application, which holds every permission.
    pub fn call(&self) -> Call<'_> {
        Call::typed(RawCall::new(self))
    }

    fn raw_call(&self) -> RawCall<'_> {
        RawCall::new(self)
    }

    /// Resolves a command once, for the fastest repeated dispatch.
    pub fn command<Req: 'static, Resp: 'static>(
        &self,
        id: &str,
    ) -> Result<CommandHandle<'_, Req, Resp>, DispatchError> {
        self.raw_call().command(id)
    }

    /// Runs a command by id.
    pub fn execute<Req: 'static, Resp: 'static>(&self, id: &str, request: Req) -> Result<Resp, DispatchError> {
        self.raw_call().execute(id, request)
    }

    /// Runs a command by id, with metadata for middleware.
    pub fn execute_with<Req: 'static, Resp: 'static>(
        &self,
        id: &str,
        request: Req,
        metadata: Metadata<'_>,
    ) -> Result<Resp, DispatchError> {
        self.raw_call().execute_with(id, request, metadata)
    }

    /// Runs a command with a JSON request and response.
    pub fn execute_json(
        &self,
        id: &str,
        request: serde_json::Value,
        metadata: Metadata<'_>,
    ) -> Result<serde_json::Value, DispatchError> {
        self.raw_call().execute_json(id, request, metadata)
    }

    /// Every command id, in registration order.
    pub fn command_ids(&self) -> impl Iterator<Item = &str> {
        self.tables.commands.iter().map(|command| command.id.as_str())
    }

    /// Publishes an event to its subscribers.
    pub fn publish<E: 'static + Send + Sync>(&self, event: &E) -> Delivery {
        self.raw_call().publish(event)
    }

    /// Resolves the subscribers of `E` once, for repeated publishing.
    pub fn channel<E: 'static + Send + Sync>(&self) -> EventChannel<'_, E> {
        self.raw_call().channel()
    }

    /// The best active provider of service `T`.
    pub fn service<T: ?Sized + 'static>(&self) -> Result<Arc<T>, ServiceError> {
        self.raw_call().service()
    }

    /// A declared hook, for calling.
    pub fn hook<Args: 'static, Out: 'static>(&self, id: &str) -> Result<Hook<'_, Args, Out>, HookError> {
        self.raw_call().hook(id)
    }

    /// Sends a message to plugin `to` and returns its reply.
    pub fn request<M: Send + 'static, R: Send + 'static>(&self, to: &str, message: M) -> Result<R, MessageError> {
        self.raw_call().request(to, message)
    }

    /// Delivers a message to plugin `to`, dropping the reply.
    pub fn send<M: Send + 'static>(&self, to: &str, message: M) -> Result<(), MessageError> {
        self.raw_call().send(to, message)
    }

    /// The most recent contained failures (event handlers, inboxes, hooks), oldest first.
    pub fn incidents(&self) -> Vec<Incident> {
        lock(&self.incidents).iter().cloned().collect()
    }

    pub(crate) fn record_incident(&self, incident: Incident) {
        let mut incidents = lock(&self.incidents);
        if incidents.len() == INCIDENT_CAPACITY {
            incidents.pop_front();
        }
        incidents.push_back(incident);
    }

    pub(crate) fn tables(&self) -> &Tables {
        &self.tables
    }

    /// Configuration tables that matched no running plugin.
    pub fn config_warnings(&self) -> &[String] {
        &self.config_warnings
    }

    /// The audit log: permission decisions and lifecycle transitions.
    pub fn audit(&self) -> &Audit {
        &self.audit
    }

    pub(crate) fn storage_for<P>(&self, position: usize) -> Storage<P> {
        Storage::new(
            Arc::clone(&self.storage),
            Arc::clone(self.slots[position].spec.manifest_arc()),
        )
    }

    /// Checks `resource.action` of plugin `position` on plugin `target`.
    pub(crate) fn check_permission(
        &self,
        position: usize,
        resource: &str,
        action: &str,
        target: usize,
    ) -> Result<(), Box<PermissionDenied>> {
        self.storage.permissions.check(
            self.slots[position].spec.manifest(),
            resource,
            action,
            self.plugin_id_at(target),
        )
    }

    #[inline]
    pub(crate) fn state_at(&self, position: usize) -> State {
        self.slots[position].state.get()
    }

    pub(crate) fn plugin_id_at(&self, position: usize) -> &str {
        &self.slots[position].spec.manifest().id
    }

    pub(crate) fn position_of(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// Providers registered by the plugins active so far, for lookups during activation.
    pub(crate) fn providers_during_activation(
        &self,
        service: TypeId,
    ) -> Vec<(i32, String, Arc<dyn Any + Send + Sync>)> {
        self.slots
            .iter()
            .filter(|slot| slot.state.get() == State::Active)
            .flat_map(|slot| {
                lock(&slot.registrations)
                    .providers
                    .iter()
                    .filter(|provider| provider.service == service)
                    .map(|provider| (provider.rank, provider.owner_id.clone(), Arc::clone(&provider.value)))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    fn position(&self, id: &str) -> Result<usize, LifecycleError> {
        self.index
            .get(id)
            .copied()
            .ok_or_else(|| LifecycleError::UnknownPlugin {
                id: id.to_owned(),
                suggestion: patchpanel_manifest::catalogue::closest(id, &self.order()).map(str::to_owned),
            })
    }

    fn check_dependencies_active(&self, position: usize) -> Result<(), LifecycleError> {
        let slot = &self.slots[position];
        for &dependency in &slot.dependencies {
            let state = self.slots[dependency].state.get();
            if state != State::Active {
                return Err(LifecycleError::DependencyInactive {
                    plugin: slot.spec.manifest().id.clone(),
                    dependency: self.slots[dependency].spec.manifest().id.clone(),
                    state,
                });
            }
        }
        Ok(())
    }

    fn context_data<'a>(&'a self, position: usize, registrations: &'a mut Registrations) -> ContextData<'a> {
        let slot = &self.slots[position];
        ContextData {
            manifest: slot.spec.manifest(),
            absent_optional: &slot.absent_optional,
            host: self,
            position,
            registrations,
        }
    }

    /// Rebuilds the dispatch tables from every plugin's registrations.
    fn refreeze(&mut self) -> Result<(), HookOrderError> {
        // Failed and unloaded plugins keep no registrations; disabled ones keep theirs
        // and are skipped at dispatch by their state.
        let guards: Vec<_> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, slot)| matches!(slot.state.get(), State::Active | State::Disabled))
            .map(|(position, slot)| (position, lock(&slot.registrations)))
            .collect();
        let registrations: Vec<(usize, &Registrations)> = guards.iter().map(|(i, g)| (*i, &**g)).collect();
        let states: Vec<_> = self.slots.iter().map(|slot| slot.state.shared()).collect();
        let tables = dispatch::freeze(self.metrics, &states, &registrations)?;
        drop(registrations);
        drop(guards);
        self.tables = tables;
        Ok(())
    }

    fn deactivate_instance(&self, position: usize, instance: Option<Box<dyn ErasedPlugin>>) -> Result<(), Failure> {
        let Some(mut instance) = instance else {
            return Ok(());
        };
        let _span = tracing::info_span!("patchpanel.deactivate", plugin = self.plugin_id_at(position)).entered();
        let mut scratch = Registrations::new(&self.slots[position].spec.manifest().id);
        let data = self.context_data(position, &mut scratch);
        let result = guarded("deactivate", || instance.deactivate(data));
        drop(instance);
        result.map_err(|failure| match failure {
            Failure::Activate(message) => Failure::Deactivate(message),
            other => other,
        })
    }

    /// Creates, configures and activates the plugin at `position`, restoring `saved`.
    fn start(&self, position: usize, saved: Option<SavedState>) -> Result<(), Failure> {
        let slot = &self.slots[position];
        let failed_dependency = slot
            .dependencies
            .iter()
            .find(|&&d| self.slots[d].state.get() == State::Failed)
            .map(|&d| self.slots[d].spec.manifest().id.clone());
        if let Some(dependency) = failed_dependency {
            let failure = Failure::DependencyFailed { dependency };
            slot.state.fail(failure.clone()).expect("a resolved plugin can fail");
            return Err(failure);
        }
        let result = self.create_and_activate(position, saved);
        match result {
            Ok((instance, registrations)) => {
                *lock(&slot.instance) = Some(instance);
                *lock(&slot.registrations) = registrations;
                slot.state
                    .transition(State::Active)
                    .expect("a loaded plugin can activate");
                Ok(())
            }
            Err(failure) => {
                slot.state.fail(failure.clone()).expect("a loading plugin can fail");
                Err(failure)
            }
        }
    }

    fn create_and_activate(
        &self,
        position: usize,
        saved: Option<SavedState>,
    ) -> Result<(Box<dyn ErasedPlugin>, Registrations), Failure> {
        let slot = &self.slots[position];
        let id = slot.spec.manifest().id.as_str();
        let _span = tracing::dispatcher::has_been_set()
            .then(|| tracing::info_span!("patchpanel.activate", plugin = id).entered());
        let started = self.metrics.then(Instant::now);
        let mut instance = guarded("create", || Ok(slot.spec.instantiate()))?;
        slot.state
            .transition(State::Loaded)
            .expect("resolved, unloaded and failed plugins can load");
        guarded("configure", || instance.configure(&slot.config))?;
        if let Some(state) = saved {
            guarded("restore_state", || instance.restore_state(state))?;
        }
        // Registrations are kept aside and committed only if activation succeeds.
        let mut registrations = Registrations::new(&slot.spec.manifest().id);
        let data = self.context_data(position, &mut registrations);
        guarded("activate", || instance.activate(data))?;
        // Subscriptions declared with `#[subscribe]` belong to the plugin like its own.
        for subscriber in registry::static_subscribers().filter(|subscriber| subscriber.plugin() == id) {
            registrations.subscriptions.extend(subscriber.subscription());
        }
        if let Some(started) = started {
            ::metrics::histogram!("patchpanel_activation_seconds", "plugin" => id.to_owned())
                .record(started.elapsed().as_secs_f64());
        }
        Ok((instance, registrations))
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.shutdown_in_place();
    }
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("order", &self.order())
            .finish_non_exhaustive()
    }
}

/// A view of one plugin in a running [`Host`].
#[derive(Clone, Copy)]
pub struct PluginInfo<'h> {
    host: &'h Host,
    position: usize,
}

impl<'h> PluginInfo<'h> {
    fn slot(&self) -> &'h Slot {
        &self.host.slots[self.position]
    }

    /// The validated manifest the plugin was registered with.
    pub fn manifest(&self) -> &'h Manifest {
        self.slot().spec.manifest()
    }

    /// The plugin's id, unique in this host.
    pub fn id(&self) -> &'h str {
        &self.manifest().id
    }

    /// The plugin type.
    pub fn type_name(&self) -> &'static str {
        self.slot().spec.type_name()
    }

    /// The position in the activation order, from 0.
    pub fn order(&self) -> usize {
        self.position
    }

    /// The current state, with the reason when failed.
    pub fn state(&self) -> PluginState {
        self.slot().state.report()
    }

    /// The ids of the dependencies that are present, in activation order.
    pub fn dependencies(&self) -> Vec<&'h str> {
        self.slot()
            .dependencies
            .iter()
            .map(|&d| self.host.slots[d].spec.manifest().id.as_str())
            .collect()
    }

    /// Optional dependencies that are not linked.
    pub fn absent_optional(&self) -> &'h [String] {
        &self.slot().absent_optional
    }

    /// What the plugin reports it offers (empty unless it is loaded).
    pub fn capabilities(&self) -> Vec<Capability> {
        lock(&self.slot().instance)
            .as_ref()
            .map(|p| p.capabilities())
            .unwrap_or_default()
    }
}

impl std::fmt::Debug for PluginInfo<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginInfo")
            .field("id", &self.id())
            .field("order", &self.order())
            .field("state", &self.state())
            .finish()
    }
}
