//! The live lifecycle: start-up of one plugin, disable, enable, reload, reconfigure and
//! shutdown, all through `&Host` while other threads dispatch.
//!
//! Every change is serialised by the host's lifecycle lock (dispatch never takes it)
//! and relies on the runtime's quiescence: `disable` returns only once no call into the
//! plugin is running, and `reload` switches the tables atomically and deactivates the
//! old instance only after a grace period, when every call that began on it has ended.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::persist::{self, OperatorStatus, PluginRecord, RegistryNotice};
use super::{Host, ShutdownReport};
use crate::config::PluginConfig;
use crate::error::{PluginError, error_chain};
use crate::lifecycle::{Failure, LifecycleError, ReloadStep, Reloaded, State, StateChanged};
use crate::registry;
use crate::runtime::Tables;
use crate::runtime::hooks::HookWiringError;
use crate::runtime::quiescence;
use crate::support::{lock, panic_message};
use crate::wiring::Registrations;
use crate::wiring::adapter::ErasedPlugin;
use crate::wiring::context::ContextData;
use crate::wiring::contributions;
use crate::wiring::freeze;
use crate::wiring::plugin::{Capability, SavedState};

/// What [`Host::disable`] does when active plugins depend on the plugin being disabled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DependentsPolicy {
    /// Refuse with [`LifecycleError::DependentsActive`], changing nothing.
    #[default]
    Refuse,
    /// Disable the active dependents first, in reverse dependency order; enabling the
    /// plugin later enables them again, in dependency order.
    Cascade,
}

/// What a successful [`Host::reload`] did. The new instance serves either way; a
/// failure of the old instance's `deactivate` is reported here, not swallowed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use = "the old instance's deactivate may have failed"]
pub struct ReloadReport {
    /// The plugin reloaded.
    pub plugin: String,
    /// How many times it has been reloaded in this host, this time included.
    pub generation: u64,
    /// The outcome of the old instance's `deactivate`, which ran after the switch and
    /// after every call that began on the old instance had ended.
    pub old_deactivate: Result<(), Failure>,
}

/// Runs plugin code, turning an error or a panic into a [`Failure`] that keeps the cause
/// chain.
fn guarded<T>(step: ReloadStep, call: impl FnOnce() -> Result<T, PluginError>) -> Result<T, Failure> {
    match catch_unwind(AssertUnwindSafe(call)) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(match step {
            ReloadStep::Configure => Failure::Configure(error_chain(&error)),
            ReloadStep::RestoreState => Failure::RestoreState(error_chain(&error)),
            ReloadStep::GetState => Failure::GetState(error_chain(&error)),
            _ => Failure::Activate(error_chain(&error)),
        }),
        Err(payload) => Err(Failure::Panicked {
            during: match step {
                ReloadStep::GetState => "get_state",
                ReloadStep::Create => "create",
                ReloadStep::Configure => "configure",
                ReloadStep::RestoreState => "restore_state",
                ReloadStep::Activate | ReloadStep::Wire => "activate",
            },
            message: panic_message(payload.as_ref()),
        }),
    }
}

/// A fresh instance, configured, restored and activated, with what it registered.
struct Started {
    instance: Box<dyn ErasedPlugin>,
    registrations: Registrations,
    capabilities: Vec<Capability>,
}

impl Host {
    /// Pauses an active plugin: when this returns, no call into it will start (commands,
    /// event deliveries, hooks, middleware, messages, service calls) and every call that
    /// had started has finished. It keeps its instance, state and registrations. While
    /// active plugins depend on it, the host's [`DependentsPolicy`] decides.
    pub fn disable(&self, id: &str) -> Result<(), LifecycleError> {
        self.disable_with(id, self.policy).map(drop)
    }

    /// [`Host::disable`] with an explicit policy for active dependents. Returns the ids
    /// disabled, in the order they were disabled (dependents first).
    pub fn disable_with(&self, id: &str, policy: DependentsPolicy) -> Result<Vec<String>, LifecycleError> {
        Host::refuse_inside_with_plugin("disabled")?;
        let _lifecycle = lock(&self.lifecycle);
        let position = self.position(id)?;
        let state = self.runtime.plugin(position).state();
        if state != State::Active {
            return Err(LifecycleError::InvalidTransition {
                plugin: id.to_owned(),
                from: state,
                to: State::Disabled,
            });
        }
        let dependents = self.active_dependents(position);
        if !dependents.is_empty() && policy == DependentsPolicy::Refuse {
            return Err(LifecycleError::DependentsActive {
                plugin: id.to_owned(),
                dependents: dependents
                    .iter()
                    .map(|&d| self.runtime.plugin_id(d).to_owned())
                    .collect(),
            });
        }
        let mut order = dependents;
        order.sort_unstable_by(|a, b| b.cmp(a));
        order.push(position);
        if let Some(&held) = order
            .iter()
            .find(|&&p| quiescence::this_thread_holds(self.runtime.plugin(p).key()))
        {
            return Err(LifecycleError::InsideCall {
                plugin: self.runtime.plugin_id(held).to_owned(),
                action: "disabled",
            });
        }
        let mut disabled = Vec::with_capacity(order.len());
        for &target in &order {
            let slot = self.runtime.plugin(target);
            let from = slot.transition(State::Disabled)?;
            quiescence::wait_until_outside(slot.key());
            if target != position {
                *lock(&self.slots[target].disabled_with) = Some(position);
            }
            self.announce(target, from, State::Disabled);
            disabled.push(slot.id.to_string());
        }
        self.persist();
        Ok(disabled)
    }

    /// Resumes a disabled plugin, and the plugins its cascading disable took down, in
    /// dependency order.
    pub fn enable(&self, id: &str) -> Result<(), LifecycleError> {
        let _lifecycle = lock(&self.lifecycle);
        let position = self.position(id)?;
        self.enable_one(position)?;
        for dependent in position + 1..self.slots.len() {
            let mut disabled_with = lock(&self.slots[dependent].disabled_with);
            if *disabled_with == Some(position) && self.dependencies_active(dependent).is_ok() {
                *disabled_with = None;
                drop(disabled_with);
                self.enable_one(dependent)?;
            }
        }
        self.persist();
        Ok(())
    }

    fn enable_one(&self, position: usize) -> Result<(), LifecycleError> {
        self.dependencies_active(position)?;
        let from = self.runtime.plugin(position).transition(State::Active)?;
        *lock(&self.slots[position].disabled_with) = None;
        self.announce(position, from, State::Active);
        Ok(())
    }

    /// Replaces a plugin's instance while calls continue: `get_state` on the serving
    /// instance, a new instance, `configure` with the current configuration,
    /// `restore_state`, `activate`, then an atomic switch of the dispatch tables. Calls
    /// in flight finish on the old instance; calls that start after the switch reach the
    /// new one, and none fails because of it. The old instance is deactivated after
    /// every call that began on it has ended.
    ///
    /// If any step fails or panics, the old instance keeps serving, untouched and with
    /// its state, and the error names the step. Works on an active plugin, or on a
    /// failed one (a retry) whose dependencies are active.
    pub fn reload(&self, id: &str) -> Result<ReloadReport, LifecycleError> {
        Host::refuse_inside_with_plugin("reloaded")?;
        let _lifecycle = lock(&self.lifecycle);
        let position = self.position(id)?;
        self.reload_locked(position)
    }

    /// Replaces plugin `id`'s configuration and reloads it, so that the new instance is
    /// configured with `value`. If the reload fails, the previous configuration is kept
    /// along with the previous instance.
    pub fn reconfigure(&self, id: &str, value: serde_json::Value) -> Result<ReloadReport, LifecycleError> {
        Host::refuse_inside_with_plugin("reconfigured")?;
        let _lifecycle = lock(&self.lifecycle);
        let position = self.position(id)?;
        let previous = std::mem::replace(&mut *lock(&self.slots[position].config), PluginConfig::new(id, value));
        let result = self.reload_locked(position);
        if result.is_err() {
            *lock(&self.slots[position].config) = previous;
        }
        result
    }

    /// [`Host::reload_unaudited`], auditing a reload that plugin code failed.
    fn reload_locked(&self, position: usize) -> Result<ReloadReport, LifecycleError> {
        let result = self.reload_unaudited(position);
        if let Err(error @ (LifecycleError::ReloadFailed { .. } | LifecycleError::Failed { .. })) = &result {
            self.runtime
                .audit_failure(position, "reload".to_owned(), error.to_string());
        }
        result
    }

    fn reload_unaudited(&self, position: usize) -> Result<ReloadReport, LifecycleError> {
        let slot = self.runtime.plugin(position);
        let id = slot.id.to_string();
        let from = slot.state();
        if !matches!(from, State::Active | State::Failed) {
            return Err(LifecycleError::InvalidTransition {
                plugin: id,
                from,
                to: State::Active,
            });
        }
        if quiescence::this_thread_inside_a_call() {
            return Err(LifecycleError::InsideCall {
                plugin: id,
                action: "reloaded",
            });
        }
        self.dependencies_active(position)?;
        let failed = |step, failure| LifecycleError::ReloadFailed {
            plugin: id.clone(),
            step,
            failure,
        };
        let saved = if from == State::Active {
            let mut instance = lock(&self.slots[position].instance);
            match instance.as_mut() {
                Some(instance) => guarded(ReloadStep::GetState, || instance.get_state())
                    .map_err(|failure| failed(ReloadStep::GetState, failure))?,
                None => None,
            }
        } else {
            None
        };
        let started = match self.instantiate(position, saved) {
            Ok(started) => started,
            // A failed plugin has no previous instance to keep: it stays failed, with
            // the new reason.
            Err((_, failure)) if from == State::Failed => {
                slot.fail(failure.clone())?;
                return Err(LifecycleError::Failed { plugin: id, failure });
            }
            Err((step, failure)) => return Err(failed(step, failure)),
        };
        let tables = match self.freeze_with(Some((position, &started.registrations))) {
            Ok(tables) => tables,
            Err(error) => {
                // The new instance activated; it is deactivated before it is dropped.
                let _ = self.deactivate_instance(position, started.instance);
                return Err(failed(ReloadStep::Wire, Failure::Activate(error.to_string())));
            }
        };

        // The switch: new instance and registrations in place, then the tables.
        let old_instance = lock(&self.slots[position].instance).replace(started.instance);
        *lock(&self.slots[position].capabilities) = started.capabilities;
        let old_registrations =
            std::mem::replace(&mut *lock(&self.slots[position].registrations), started.registrations);
        let old_tables = self.runtime.swap_tables(tables);
        if from == State::Failed {
            slot.transition(State::Loaded)?;
            slot.transition(State::Active)?;
        } else {
            slot.next_generation();
        }
        // Every call that could still reach the old instance began before the switch.
        quiescence::synchronize();
        drop(old_tables);
        drop(old_registrations);
        let old_deactivate = match old_instance {
            Some(instance) => self.deactivate_instance(position, instance),
            None => Ok(()),
        };
        if let Err(failure) = &old_deactivate {
            self.runtime.record_incident(crate::runtime::Incident {
                plugin: id.clone(),
                site: "deactivate of the replaced instance".to_owned(),
                message: failure.to_string(),
            });
        }
        let generation = slot.word() >> 8;
        self.call().publish(&Reloaded {
            plugin: id.clone(),
            generation,
        });
        self.persist();
        Ok(ReloadReport {
            plugin: id,
            generation,
            old_deactivate,
        })
    }

    /// Deactivates every active or disabled plugin in reverse activation order, exactly
    /// once each, and reports what happened.
    pub fn shutdown(self) -> ShutdownReport {
        self.shutdown_in_place()
    }

    pub(super) fn shutdown_in_place(&self) -> ShutdownReport {
        let mut report = ShutdownReport::default();
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return report;
        }
        let _lifecycle = lock(&self.lifecycle);
        let statuses: Vec<OperatorStatus> = (0..self.slots.len()).map(|p| self.operator_status(p)).collect();
        let mut states = Vec::new();
        for position in (0..self.slots.len()).rev() {
            let slot = self.runtime.plugin(position);
            if !matches!(slot.state(), State::Active | State::Disabled) {
                continue;
            }
            slot.transition(State::Unloaded)
                .expect("active and disabled plugins can unload");
            quiescence::wait_until_outside(slot.key());
            let instance = lock(&self.slots[position].instance).take();
            lock(&self.slots[position].capabilities).clear();
            if let Some(mut instance) = instance {
                if self.registry.as_ref().is_some_and(|registry| registry.persist_state)
                    && let Ok(Some(state)) = guarded(ReloadStep::GetState, || instance.get_state())
                {
                    states.push((position, state));
                }
                if let Err(failure) = self.deactivate_instance(position, instance) {
                    self.runtime
                        .audit_failure(position, "shutdown".to_owned(), failure.to_string());
                    report.errors.push((slot.id.to_string(), failure));
                }
            }
            report.deactivated.push(slot.id.to_string());
        }
        // Handlers may hold handles on the runtime (services); emptying the tables and
        // the registrations breaks those cycles.
        self.runtime.replace_tables(Tables::empty(self.runtime.observe));
        for slot in self.slots.iter() {
            *lock(&slot.registrations) = Registrations::default();
        }
        if self.registry.is_some() {
            self.write_registry(&statuses, &states);
        }
        report
    }

    /// Starts the plugin at `position` at start-up: creates, configures, restores
    /// `saved`, activates.
    pub(super) fn start(&self, position: usize, saved: Option<SavedState>) -> Result<(), Failure> {
        let slot = self.runtime.plugin(position);
        let failed_dependency = self.slots[position]
            .dependencies
            .iter()
            .find(|&&d| self.runtime.plugin(d).state() == State::Failed)
            .map(|&d| self.runtime.plugin_id(d).to_owned());
        if let Some(dependency) = failed_dependency {
            let failure = Failure::DependencyFailed { dependency };
            slot.fail(failure.clone()).expect("a resolved plugin can fail");
            return Err(failure);
        }
        slot.transition(State::Loaded).expect("resolved plugins can load");
        match self.instantiate(position, saved) {
            Ok(started) => {
                *lock(&self.slots[position].instance) = Some(started.instance);
                *lock(&self.slots[position].registrations) = started.registrations;
                *lock(&self.slots[position].capabilities) = started.capabilities;
                slot.transition(State::Active).expect("a loaded plugin can activate");
                Ok(())
            }
            Err((_, failure)) => {
                slot.fail(failure.clone()).expect("a loading plugin can fail");
                Err(failure)
            }
        }
    }

    /// Creates, configures, restores and activates a new instance of the plugin at
    /// `position`, touching nothing the serving instance uses.
    fn instantiate(&self, position: usize, saved: Option<SavedState>) -> Result<Started, (ReloadStep, Failure)> {
        let host_slot = &self.slots[position];
        let id = self.runtime.plugin_id(position);
        let _span = tracing::dispatcher::has_been_set()
            .then(|| tracing::info_span!("patchpanel.activate", plugin = id).entered());
        let started = self.runtime.observe.metrics.then(Instant::now);
        let mut instance = guarded(ReloadStep::Create, || Ok(host_slot.spec.instantiate()))
            .map_err(|failure| (ReloadStep::Create, failure))?;
        let config = lock(&host_slot.config).clone();
        guarded(ReloadStep::Configure, || instance.configure(&config))
            .map_err(|failure| (ReloadStep::Configure, failure))?;
        if let Some(state) = saved {
            guarded(ReloadStep::RestoreState, || instance.restore_state(state))
                .map_err(|failure| (ReloadStep::RestoreState, failure))?;
        }
        // Registrations are kept aside and committed only if activation succeeds.
        let mut registrations = Registrations::default();
        let data = self.context_data(position, &mut registrations);
        guarded(ReloadStep::Activate, || instance.activate(data)).map_err(|failure| (ReloadStep::Activate, failure))?;
        if let Some(denied) = registrations.denied.first() {
            return Err((ReloadStep::Activate, Failure::Activate(denied.to_string())));
        }
        // Subscriptions declared with `#[subscribe]` belong to the plugin like its own.
        for subscriber in registry::static_subscribers().filter(|subscriber| subscriber.plugin() == id) {
            registrations.subscriptions.extend(subscriber.subscription());
        }
        if let Some(declared) = &self.runtime.plugin(position).manifest.contributes {
            let registered = contributions::registered(&registrations, id);
            if let Some((undeclared, unregistered)) = contributions::difference(declared, &registered) {
                return Err((
                    ReloadStep::Activate,
                    Failure::Contributions {
                        undeclared,
                        unregistered,
                    },
                ));
            }
        }
        if let Some(started) = started {
            ::metrics::histogram!("patchpanel_activation_seconds", "plugin" => id.to_owned())
                .record(started.elapsed().as_secs_f64());
        }
        let capabilities = catch_unwind(AssertUnwindSafe(|| instance.capabilities())).unwrap_or_else(|payload| {
            let message = format!("panicked: {}", panic_message(payload.as_ref()));
            self.runtime.record_incident(crate::runtime::Incident {
                plugin: id.to_owned(),
                site: "capabilities".to_owned(),
                message: message.clone(),
            });
            vec![Capability::new("error", format!("capabilities() {message}"))]
        });
        Ok(Started {
            instance,
            registrations,
            capabilities,
        })
    }

    fn deactivate_instance(&self, position: usize, mut instance: Box<dyn ErasedPlugin>) -> Result<(), Failure> {
        let _span = tracing::info_span!("patchpanel.deactivate", plugin = self.runtime.plugin_id(position)).entered();
        let mut scratch = Registrations::default();
        let data = self.context_data(position, &mut scratch);
        let result = guarded(ReloadStep::Activate, || instance.deactivate(data));
        // A panicking `Drop` is caught too: the other plugins still get deactivated.
        let dropped = catch_unwind(AssertUnwindSafe(move || drop(instance)));
        result
            .map_err(|failure| match failure {
                Failure::Activate(message) => Failure::Deactivate(message),
                Failure::Panicked { message, .. } => Failure::Panicked {
                    during: "deactivate",
                    message,
                },
                other => other,
            })
            .and_then(|()| {
                dropped.map_err(|payload| Failure::Panicked {
                    during: "drop",
                    message: panic_message(payload.as_ref()),
                })
            })
    }

    fn context_data<'a>(&'a self, position: usize, registrations: &'a mut Registrations) -> ContextData<'a> {
        ContextData {
            manifest: &self.runtime.plugin(position).manifest,
            absent_optional: &self.slots[position].absent_optional,
            runtime: &self.runtime,
            position,
            registrations,
        }
    }

    /// Rebuilds the tables from every serving instance's registrations and installs
    /// them. Used at start-up, before any other thread can dispatch.
    pub(super) fn rewire(&self) -> Result<(), HookWiringError> {
        self.runtime.replace_tables(self.freeze_with(None)?);
        Ok(())
    }

    /// The tables for the serving instances, with `replacement` standing in for the
    /// registrations of its plugin.
    fn freeze_with(&self, replacement: Option<(usize, &Registrations)>) -> Result<Tables, HookWiringError> {
        // Failed and unloaded plugins keep no registrations; disabled ones keep theirs
        // and are skipped at dispatch by their state.
        let guards: Vec<_> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(position, _)| {
                matches!(self.runtime.plugin(*position).state(), State::Active | State::Disabled)
                    || replacement.is_some_and(|(replaced, _)| replaced == *position)
            })
            .map(|(position, slot)| (position, lock(&slot.registrations)))
            .collect();
        let registrations: Vec<(usize, Arc<str>, &Registrations)> = guards
            .iter()
            .map(|(position, guard)| {
                let registrations = match replacement {
                    Some((replaced, registrations)) if replaced == *position => registrations,
                    _ => &**guard,
                };
                (*position, Arc::clone(&self.runtime.plugin(*position).id), registrations)
            })
            .collect();
        freeze::freeze(self.runtime.observe, &self.guards, &registrations)
    }

    /// Active plugins that depend on `position`, directly or through others.
    fn active_dependents(&self, position: usize) -> Vec<usize> {
        let mut found = Vec::new();
        let mut queue = vec![position];
        while let Some(next) = queue.pop() {
            for &dependent in &self.slots[next].dependents {
                if self.runtime.plugin(dependent).state() == State::Active && !found.contains(&dependent) {
                    found.push(dependent);
                    queue.push(dependent);
                }
            }
        }
        found
    }

    fn dependencies_active(&self, position: usize) -> Result<(), LifecycleError> {
        for &dependency in &self.slots[position].dependencies {
            let state = self.runtime.plugin(dependency).state();
            if state != State::Active {
                return Err(LifecycleError::DependencyInactive {
                    plugin: self.runtime.plugin_id(position).to_owned(),
                    dependency: self.runtime.plugin_id(dependency).to_owned(),
                    state,
                });
            }
        }
        Ok(())
    }

    /// Publishes a [`StateChanged`] event.
    fn announce(&self, position: usize, from: State, to: State) {
        self.call().publish(&StateChanged {
            plugin: self.runtime.plugin_id(position).to_owned(),
            from,
            to,
        });
    }

    fn persist(&self) {
        let statuses: Vec<OperatorStatus> = (0..self.slots.len()).map(|p| self.operator_status(p)).collect();
        self.write_registry(&statuses, &[]);
    }

    /// Whether the operator wants the plugin at `position` running: disabled plugins
    /// are not wanted, everything else (failed ones included) is.
    fn operator_status(&self, position: usize) -> OperatorStatus {
        match self.runtime.plugin(position).state() {
            State::Disabled => OperatorStatus::Disabled,
            _ => OperatorStatus::Enabled,
        }
    }

    /// Writes the registry file, if there is one: every running plugin's status, with
    /// `states` (captured at shutdown) or the state recorded before.
    fn write_registry(&self, statuses: &[OperatorStatus], states: &[(usize, SavedState)]) {
        let Some(registry) = self.registry.as_ref() else {
            return;
        };
        let mut file = persist::RegistryState {
            format: 1,
            plugins: registry.recorded.plugins.clone(),
        };
        for (position, slot) in self.slots.iter().enumerate() {
            let id = self.runtime.plugin_id(position);
            let state = states
                .iter()
                .find(|(p, _)| *p == position)
                .map(|(_, state)| state.as_json().clone())
                .or_else(|| {
                    registry
                        .recorded
                        .plugins
                        .get(id)
                        .and_then(|record| record.state.clone())
                });
            file.plugins.insert(
                id.to_owned(),
                PluginRecord {
                    version: slot.spec.manifest().version.to_string(),
                    status: statuses[position],
                    disabled_with: (*lock(&slot.disabled_with)).map(|d| self.runtime.plugin_id(d).to_owned()),
                    state: state.filter(|_| registry.persist_state),
                },
            );
        }
        if let Err(error) = persist::save(&registry.path, &file) {
            tracing::error!(target: "patchpanel::registry", path = %registry.path.display(), "{error}");
            lock(&registry.notices).push(RegistryNotice::Io {
                path: registry.path.clone(),
                error: error.to_string(),
            });
        }
    }
}
