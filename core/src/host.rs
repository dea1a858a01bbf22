//! The host: builds a plugin set, activates it in dependency order, runs its lifecycle,
//! and shuts it down in reverse order.

use std::any::Any;
use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::adapter::ErasedPlugin;
use crate::config::PluginConfig;
use crate::context::ContextData;
use crate::lifecycle::{Failure, LifecycleError, PluginState, State, StateCell};
use crate::manifest::Manifest;
use crate::plugin::{Capability, Plugin, PluginError, SavedState};
use crate::registry::{self, ExpectedPlugin, PluginSpec};
use crate::resolve::{self, ResolveError, ResolveErrors, ResolveOptions};

/// Configures and starts a [`Host`].
///
/// By default the plugins are those registered at link time; [`HostBuilder::plugins`]
/// replaces them with an explicit list.
#[derive(Debug, Default)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct HostBuilder {
    plugins: Option<Vec<PluginSpec>>,
    options: ResolveOptions,
    strict: bool,
    config: HashMap<String, serde_json::Value>,
}

/// Start-up failed; nothing is left running.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The plugin set does not resolve.
    #[error(transparent)]
    Resolve(#[from] ResolveErrors),
    /// In strict mode, a plugin failed to start; the plugins already active were
    /// deactivated in reverse order.
    #[error(
        "strict mode: plugin `{plugin}` failed ({failure}); start-up aborted, deactivated: [{}]",
        rolled_back.join(", ")
    )]
    Strict {
        /// The plugin that failed.
        plugin: String,
        /// Why.
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
    index: HashMap<String, usize>,
    superseded: Vec<PluginSpec>,
    startup: Duration,
    lifecycle: Mutex<()>,
    shut_down: bool,
}

struct Slot {
    spec: PluginSpec,
    dependencies: Vec<usize>,
    dependents: Vec<usize>,
    absent_optional: Vec<String>,
    config: PluginConfig,
    state: StateCell,
    instance: Mutex<Option<Box<dyn ErasedPlugin>>>,
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
    pub fn available_features<S: Into<String>>(
        mut self,
        features: impl IntoIterator<Item = S>,
    ) -> HostBuilder {
        self.options.available_features = features.into_iter().map(Into::into).collect();
        self
    }

    /// Gives plugin `id` its configuration, passed to [`Plugin::configure`].
    pub fn config(mut self, id: impl Into<String>, value: serde_json::Value) -> HostBuilder {
        self.config.insert(id.into(), value);
        self
    }

    /// Resolves the plugin set, then creates, configures and activates each plugin in
    /// dependency order.
    pub fn build(mut self) -> Result<Host, StartError> {
        let started = Instant::now();
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
                let config = match self.config.remove(&id) {
                    Some(value) => PluginConfig::new(id, value),
                    None => PluginConfig::empty(id),
                };
                Slot {
                    spec: plugin.spec,
                    dependencies: plugin.dependencies,
                    dependents: Vec::new(),
                    absent_optional: plugin.absent_optional,
                    config,
                    state: StateCell::new(),
                    instance: Mutex::new(None),
                }
            })
            .collect();
        for index in 0..slots.len() {
            for dependency in slots[index].dependencies.clone() {
                slots[dependency].dependents.push(index);
            }
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
        };
        for slot in &host.slots {
            let id = &slot.spec.manifest().id;
            slot.state
                .transition(id, State::Validated)
                .expect("a new slot is discovered");
            slot.state
                .transition(id, State::Resolved)
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
fn guarded<T>(
    during: &'static str,
    call: impl FnOnce() -> Result<T, PluginError>,
) -> Result<T, Failure> {
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

fn panic_message(payload: &(dyn Any + Send)) -> String {
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
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Host {
    /// A builder over the link-time registry.
    pub fn builder() -> HostBuilder {
        HostBuilder::default()
    }

    /// Every running plugin, in activation order.
    pub fn plugins(&self) -> impl ExactSizeIterator<Item = PluginInfo<'_>> {
        (0..self.slots.len()).map(|position| PluginInfo {
            host: self,
            position,
        })
    }

    /// The plugin with this id.
    pub fn plugin(&self, id: &str) -> Option<PluginInfo<'_>> {
        self.index.get(id).map(|&position| PluginInfo {
            host: self,
            position,
        })
    }

    /// The state of plugin `id`.
    pub fn state(&self, id: &str) -> Option<PluginState> {
        self.plugin(id).map(|plugin| plugin.state())
    }

    /// The ids in activation order.
    pub fn order(&self) -> Vec<&str> {
        self.slots
            .iter()
            .map(|slot| slot.spec.manifest().id.as_str())
            .collect()
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
            if let Some(plugin) = instance
                .as_mut()
                .and_then(|p| p.as_any_mut().downcast_mut::<P>())
            {
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
        slot.state.transition(id, State::Disabled).map(drop)
    }

    /// Resumes a disabled plugin.
    pub fn enable(&self, id: &str) -> Result<(), LifecycleError> {
        let _guard = lock(&self.lifecycle);
        let position = self.position(id)?;
        self.check_dependencies_active(position)?;
        self.slots[position]
            .state
            .transition(id, State::Active)
            .map(drop)
    }

    /// Replaces a plugin's instance, carrying its state: `get_state` on the old instance,
    /// `deactivate`, a new instance, `configure`, `restore_state`, `activate`.
    ///
    /// Works on an active or a failed plugin whose dependencies are active. If the new
    /// instance fails, the plugin is marked failed and the error says why.
    pub fn reload(&self, id: &str) -> Result<(), LifecycleError> {
        let _guard = lock(&self.lifecycle);
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
            slot.state.transition(id, State::Unloaded)?;
        }
        self.start(position, saved)
            .map_err(|failure| LifecycleError::Failed {
                plugin: id.to_owned(),
                failure,
            })
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
                .transition(id, State::Unloaded)
                .expect("active and disabled plugins can unload");
            report.deactivated.push(id.clone());
        }
        report
    }

    fn position(&self, id: &str) -> Result<usize, LifecycleError> {
        self.index
            .get(id)
            .copied()
            .ok_or_else(|| LifecycleError::UnknownPlugin(id.to_owned()))
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

    fn context_data(&self, position: usize) -> ContextData<'_> {
        let slot = &self.slots[position];
        ContextData {
            manifest: slot.spec.manifest(),
            absent_optional: &slot.absent_optional,
        }
    }

    fn deactivate_instance(
        &self,
        position: usize,
        instance: Option<Box<dyn ErasedPlugin>>,
    ) -> Result<(), Failure> {
        let Some(mut instance) = instance else {
            return Ok(());
        };
        let data = self.context_data(position);
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
        let id = &slot.spec.manifest().id;
        let failed_dependency = slot
            .dependencies
            .iter()
            .find(|&&d| self.slots[d].state.get() == State::Failed)
            .map(|&d| self.slots[d].spec.manifest().id.clone());
        if let Some(dependency) = failed_dependency {
            let failure = Failure::DependencyFailed { dependency };
            slot.state
                .fail(id, failure.clone())
                .expect("a resolved plugin can fail");
            return Err(failure);
        }
        let result = self.create_and_activate(position, saved);
        match result {
            Ok(instance) => {
                *lock(&slot.instance) = Some(instance);
                slot.state
                    .transition(id, State::Active)
                    .expect("a loaded plugin can activate");
                Ok(())
            }
            Err(failure) => {
                slot.state
                    .fail(id, failure.clone())
                    .expect("a loading plugin can fail");
                Err(failure)
            }
        }
    }

    fn create_and_activate(
        &self,
        position: usize,
        saved: Option<SavedState>,
    ) -> Result<Box<dyn ErasedPlugin>, Failure> {
        let slot = &self.slots[position];
        let mut instance = guarded("create", || Ok(slot.spec.instantiate()))?;
        slot.state
            .transition(&slot.spec.manifest().id, State::Loaded)
            .expect("resolved, unloaded and failed plugins can load");
        guarded("configure", || instance.configure(&slot.config))?;
        if let Some(state) = saved {
            guarded("restore_state", || instance.restore_state(state))?;
        }
        let data = self.context_data(position);
        guarded("activate", || instance.activate(data))?;
        Ok(instance)
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

    /// The manifest.
    pub fn manifest(&self) -> &'h Manifest {
        self.slot().spec.manifest()
    }

    /// The id.
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
