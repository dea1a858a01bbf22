//! The live lifecycle: start-up of one plugin, disable, enable, reload, reconfigure and
//! shutdown, all through `&Host` while other threads dispatch.
//!
//! Every change is serialised by the host's lifecycle lock (dispatch never takes it)
//! and relies on the runtime's quiescence: `disable` returns only once no call into the
//! plugin is running, and `reload` switches the tables atomically and deactivates the
//! old instance only after a grace period, when every call that began on it has ended.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::activation::guarded;
use super::persist::{self, OperatorStatus, PluginRecord, RegistryNotice};
use super::{Host, Installed, PluginId, ShutdownReport};
use crate::config::PluginConfig;
use crate::lifecycle::{Failure, LifecycleError, ReloadStep, Reloaded, State, StateChanged};
use crate::runtime::Tables;
use crate::runtime::quiescence;
use crate::support::lock;
use crate::wiring::plugin::SavedState;

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
        let position = self.position(id)?;
        // A lazy plugin not used yet is activated, then disabled: a disabled plugin has an
        // instance, and stays disabled (recorded in the registry file) until enabled.
        if self.core.runtime.is_dormant(position) {
            self.activate(id)?;
        }
        let _lifecycle = lock(&self.lifecycle);
        let state = self.core.runtime.plugin(position).state();
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
                    .map(|&d| self.core.runtime.plugin_id(d).to_owned())
                    .collect(),
            });
        }
        let mut order = dependents;
        order.sort_unstable_by(|a, b| b.cmp(a));
        order.push(position);
        // A thread inside the plugin, or inside an event walk or a middleware chain that
        // skips state checks while the plugin is gated, would wait for itself.
        let inside_gate = quiescence::this_thread_holds(self.core.runtime.gate.key());
        if let Some(&held) = order.iter().find(|&&p| {
            let slot = self.core.runtime.plugin(p);
            quiescence::this_thread_holds(slot.key()) || (inside_gate && slot.gated())
        }) {
            return Err(LifecycleError::InsideCall {
                plugin: self.core.runtime.plugin_id(held).to_owned(),
                action: "disabled",
            });
        }
        let mut disabled = Vec::with_capacity(order.len());
        for &target in &order {
            let slot = self.core.runtime.plugin(target);
            let from = slot.transition(State::Disabled)?;
            let (keys, count) = slot.keys();
            quiescence::wait_until_outside_any(&keys[..count]);
            let (inflight, caches) = {
                let installed = lock(&self.core.slots[target].installed);
                (
                    installed.registrations.inflight.clone(),
                    installed.registrations.caches.clone(),
                )
            };
            self.wait_for_async_calls(target, inflight.as_ref());
            // No call is inside it now and none can start: what its cacheable commands
            // kept is forgotten, so an enable starts from its code, not from the past.
            for cache in caches {
                cache.clear();
            }
            if target != position {
                *lock(&self.core.slots[target].disabled_with) = Some(position);
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
        for dependent in position + 1..self.core.slots.len() {
            let mut disabled_with = lock(&self.core.slots[dependent].disabled_with);
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
        let from = self.core.runtime.plugin(position).transition(State::Active)?;
        self.core.runtime.rearm();
        *lock(&self.core.slots[position].disabled_with) = None;
        self.announce(position, from, State::Active);
        Ok(())
    }

    /// Activates a lazy plugin now instead of on its first use, its dependencies first;
    /// does nothing to a plugin that is already active (or disabled). Racing callers,
    /// and first uses on other threads, share the one activation. A plugin that cannot
    /// activate is failed, and so is every later attempt, with the same reason.
    ///
    /// ```
    /// # use patchpanel::{Host, Manifest, manifest::Scope, State};
    /// # use patchpanel::testing::fn_plugin;
    /// let manifest = Manifest::builder("reports", "1.0.0")
    ///     .permission("commands", "register", Scope::PluginOnly)
    ///     .contributes("commands", "daily")
    ///     .lazy()
    ///     .build()?;
    /// let host = Host::builder()
    ///     .plugins(vec![fn_plugin(manifest, |context| Ok(context.command("daily", |_, (): ()| Ok(7_u32))?))])
    ///     .build()?;
    /// assert_eq!(host.state("reports"), Some(State::Resolved), "not used yet");
    /// assert_eq!(host.execute::<(), u32>("reports:daily", ())?, 7, "the first use activates it");
    /// assert_eq!(host.state("reports"), Some(State::Active));
    /// host.activate("reports")?; // already active: nothing to do
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn activate(&self, id: &str) -> Result<(), LifecycleError> {
        let position = self.position(id)?;
        self.core
            .activate_lazily(position)
            .map_err(|failure| LifecycleError::Failed {
                plugin: id.to_owned(),
                failure,
            })
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
        let previous = std::mem::replace(
            &mut *lock(&self.core.slots[position].config),
            PluginConfig::new(id, value),
        );
        let result = self.reload_locked(position);
        if result.is_err() {
            *lock(&self.core.slots[position].config) = previous;
        }
        result
    }

    /// [`Host::reload_unaudited`], auditing a reload that plugin code failed.
    fn reload_locked(&self, position: usize) -> Result<ReloadReport, LifecycleError> {
        let result = self.reload_unaudited(position);
        if let Err(error @ (LifecycleError::ReloadFailed { .. } | LifecycleError::Failed { .. })) = &result {
            self.core
                .runtime
                .audit_failure(position, "reload".to_owned(), error.to_string());
        }
        result
    }

    fn reload_unaudited(&self, position: usize) -> Result<ReloadReport, LifecycleError> {
        let slot = self.core.runtime.plugin(position);
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
            let mut instance = lock(&self.core.slots[position].instance);
            match instance.as_mut() {
                Some(instance) => guarded(ReloadStep::GetState, || instance.get_state())
                    .map_err(|failure| failed(ReloadStep::GetState, failure))?,
                None => None,
            }
        } else {
            None
        };
        let started = match self.core.instantiate(position, saved, None) {
            Ok(started) => started,
            // A failed plugin has no previous instance to keep: it stays failed, with
            // the new reason.
            Err((_, failure)) if from == State::Failed => {
                slot.fail(failure.clone())?;
                return Err(LifecycleError::Failed { plugin: id, failure });
            }
            Err((step, failure)) => return Err(failed(step, failure)),
        };
        // From the freeze to the swap, no other rebuild (a lazy activation) may run.
        let rebuilding = lock(&self.core.tables);
        let tables = match self.core.freeze_with(Some((position, &started.registrations))) {
            Ok(tables) => tables,
            Err(error) => {
                drop(rebuilding);
                // The new instance activated; it is deactivated before it is dropped.
                let _ = self.core.deactivate_instance(position, started.instance, None);
                return Err(failed(ReloadStep::Wire, Failure::Activate(error.to_string())));
            }
        };

        // The switch: new instance and registrations in place, then the tables.
        let old_instance = lock(&self.core.slots[position].instance).replace(started.instance);
        let old_registrations = std::mem::replace(
            &mut *lock(&self.core.slots[position].installed),
            Installed {
                registrations: started.registrations,
                capabilities: started.capabilities,
            },
        )
        .registrations;
        let old_tables = self.core.runtime.swap_tables(tables);
        if from == State::Failed {
            slot.transition(State::Loaded)?;
            slot.transition(State::Active)?;
            self.core.runtime.rearm();
        } else {
            slot.next_generation();
        }
        drop(rebuilding);
        // Every call that could still reach the old instance began before the switch.
        quiescence::synchronize();
        drop(old_tables);
        // Async calls the old instance was serving finish on it.
        let old_inflight = old_registrations.inflight.clone();
        drop(old_registrations);
        self.wait_for_async_calls(position, old_inflight.as_ref());
        let old_deactivate = match old_instance {
            Some(instance) => self.deactivate(position, instance),
            None => Ok(()),
        };
        if let Err(failure) = &old_deactivate {
            self.core.runtime.record_incident(crate::runtime::Incident {
                plugin: id.clone(),
                site: "deactivate of the replaced instance".to_owned(),
                message: failure.to_string(),
            });
        }
        let generation = slot.reloads();
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

    /// [`Host::shutdown`] for a host shared behind an `Arc` (a server's handlers hold
    /// it): deactivates every plugin in reverse activation order, once. Calls made after
    /// it are refused (the plugins are unloaded); a second shutdown reports nothing.
    pub fn shutdown_shared(&self) -> ShutdownReport {
        self.shutdown_in_place()
    }

    pub(super) fn shutdown_in_place(&self) -> ShutdownReport {
        let mut report = ShutdownReport::default();
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return report;
        }
        let _lifecycle = lock(&self.lifecycle);
        // The statuses before the shutdown.
        let statuses = self.registry_statuses();
        let mut states = Vec::new();
        report.deactivated.reserve(self.core.slots.len());
        for position in (0..self.core.slots.len()).rev() {
            let slot = self.core.runtime.plugin(position);
            if !matches!(slot.state(), State::Active | State::Disabled) {
                continue;
            }
            slot.transition(State::Unloaded)
                .expect("active and disabled plugins can unload");
            let (keys, count) = slot.keys();
            quiescence::wait_until_outside_any(&keys[..count]);
            // Its registrations go now: the tables hold what they still need until they
            // are emptied below (unloaded and failed plugins keep none, and only active
            // and disabled ones reach this point).
            let registrations = std::mem::take(&mut *lock(&self.core.slots[position].installed)).registrations;
            self.wait_for_async_calls(position, registrations.inflight.as_ref());
            drop(registrations);
            let instance = lock(&self.core.slots[position].instance).take();
            if let Some(mut instance) = instance {
                if self.registry.as_ref().is_some_and(|registry| registry.persist_state)
                    && let Ok(Some(state)) = guarded(ReloadStep::GetState, || instance.get_state())
                {
                    states.push((position, state));
                }
                if let Err(failure) = self.deactivate(position, instance) {
                    self.core
                        .runtime
                        .audit_failure(position, "shutdown".to_owned(), failure.to_string());
                    report.errors.push((PluginId::from(Arc::clone(&slot.id)), failure));
                }
            }
            report.deactivated.push(PluginId::from(Arc::clone(&slot.id)));
        }
        // Handlers may hold handles on the runtime (services); emptying the tables (and
        // the registrations, above) breaks those cycles.
        let _ = self
            .core
            .install_tables(|| Ok::<_, std::convert::Infallible>(Tables::empty(self.core.runtime.observe)));
        if self.registry.is_some() {
            self.write_registry(&statuses, &states);
        }
        report
    }

    /// Deactivates a replaced or unloading instance, within the deactivation deadline
    /// when the builder gave one.
    fn deactivate(
        &self,
        position: usize,
        instance: Box<dyn crate::wiring::adapter::ErasedPlugin>,
    ) -> Result<(), Failure> {
        match self.deactivation_deadline {
            Some(deadline) => self.core.deactivate_within(position, instance, deadline),
            None => self.core.deactivate_instance(position, instance, None),
        }
    }

    /// Waits for the async calls still running in an instance of the plugin at
    /// `position` (see [`crate::commands::Pending`]), within the deactivation deadline when the
    /// builder gave one. Calls still running at the deadline are left to finish on
    /// their own, and the wait is recorded as an incident.
    #[inline]
    fn wait_for_async_calls(&self, position: usize, inflight: Option<&crate::runtime::inflight::Anchor>) {
        if let Some(inflight) = inflight {
            self.wait_for_async_calls_in(position, inflight);
        }
    }

    /// [`Host::wait_for_async_calls`] for an instance that made async calls.
    #[inline(never)]
    fn wait_for_async_calls_in(&self, position: usize, inflight: &crate::runtime::inflight::Anchor) {
        if !inflight.wait_drained(self.deactivation_deadline) {
            self.core.runtime.record_incident(crate::runtime::Incident {
                plugin: self.core.runtime.plugin_id(position).to_owned(),
                site: "async calls".to_owned(),
                message: format!(
                    "{} async calls were still running at the deactivation deadline; the instance went on without waiting for them",
                    inflight.count()
                ),
            });
        }
    }

    /// Active plugins that depend on `position`, directly or through others.
    fn active_dependents(&self, position: usize) -> Vec<usize> {
        let mut found = Vec::new();
        let mut queue = vec![position];
        while let Some(next) = queue.pop() {
            for &dependent in self.core.graph.dependents(next) {
                if self.core.runtime.plugin(dependent).state() == State::Active && !found.contains(&dependent) {
                    found.push(dependent);
                    queue.push(dependent);
                }
            }
        }
        found
    }

    fn dependencies_active(&self, position: usize) -> Result<(), LifecycleError> {
        for &dependency in self.core.graph.dependencies(position) {
            let state = self.core.runtime.plugin(dependency).state();
            if state != State::Active {
                return Err(LifecycleError::DependencyInactive {
                    plugin: self.core.runtime.plugin_id(position).to_owned(),
                    dependency: self.core.runtime.plugin_id(dependency).to_owned(),
                    state,
                });
            }
        }
        Ok(())
    }

    /// Publishes a [`StateChanged`] event.
    fn announce(&self, position: usize, from: State, to: State) {
        self.call().publish(&StateChanged {
            plugin: self.core.runtime.plugin_id(position).to_owned(),
            from,
            to,
        });
    }

    fn persist(&self) {
        self.write_registry(&self.registry_statuses(), &[]);
    }

    /// Every plugin's status for the registry file, or nothing when there is no file to
    /// write.
    fn registry_statuses(&self) -> Vec<OperatorStatus> {
        match self.registry {
            Some(_) => (0..self.core.slots.len()).map(|p| self.operator_status(p)).collect(),
            None => Vec::new(),
        }
    }

    /// Whether the operator wants the plugin at `position` running: disabled plugins
    /// are not wanted, everything else (failed ones included) is.
    fn operator_status(&self, position: usize) -> OperatorStatus {
        match self.core.runtime.plugin(position).state() {
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
        for (position, slot) in self.core.slots.iter().enumerate() {
            let id = self.core.runtime.plugin_id(position);
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
                    disabled_with: (*lock(&slot.disabled_with)).map(|d| self.core.runtime.plugin_id(d).to_owned()),
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
