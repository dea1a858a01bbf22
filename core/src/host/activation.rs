//! Activation: creating an instance, configuring it, restoring its state, activating
//! it and checking what it registered, then wiring every serving instance's
//! registrations into the dispatch tables. Start-up, reload and lazy activation on first
//! use all go through here, on the [`HostCore`] that the runtime's lazy activator shares.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::{HostCore, HostSlot, Installed};
use crate::error::{PluginError, error_chain};
use crate::lifecycle::{Failure, ReloadStep, State};
use crate::registry;
use crate::runtime::hooks::HookWiringError;
use crate::runtime::quiescence;
use crate::runtime::wake::Dormant;
use crate::runtime::{PluginSlot, Tables};
use crate::support::{lock, panic_message};
use crate::wiring::Registrations;
use crate::wiring::adapter::ErasedPlugin;
use crate::wiring::context::ContextData;
use crate::wiring::contributions;
use crate::wiring::freeze;
use crate::wiring::plugin::{Capability, SavedState};

/// Where a deadline-bound activation stands, shared by the host and the plugin's thread.
enum Outcome {
    Waiting,
    Done(Box<Result<Started, (ReloadStep, Failure)>>),
    /// The deadline passed; the thread cleans up after itself.
    Abandoned,
}

/// A deadline for plugin code: the instant async code is cancelled at, and the
/// duration it was given (for the failure's message).
#[derive(Clone, Copy, Debug)]
pub(super) struct Deadline {
    until: Instant,
    given: Duration,
}

impl Deadline {
    /// `given` from now.
    pub(super) fn after(given: Duration) -> Deadline {
        Deadline {
            until: Instant::now() + given,
            given,
        }
    }
}

/// [`guarded`] for a lifecycle method that runs as a future until `deadline` (`call`
/// returns `None` when it passed and the future was dropped).
fn guarded_within(
    step: ReloadStep,
    deadline: Option<Deadline>,
    during: &'static str,
    call: impl FnOnce(Option<Instant>) -> Option<Result<(), PluginError>>,
) -> Result<(), Failure> {
    let outcome = catch_unwind(AssertUnwindSafe(|| call(deadline.map(|deadline| deadline.until))));
    if let Ok(Some(Ok(()))) = outcome {
        return Ok(());
    }
    settle(step, deadline, during, outcome)
}

/// What a lifecycle method run by [`guarded_within`] came to: its error, its panic or
/// its deadline as a [`Failure`]. Out of line, not generic: carrying the failures
/// through the generic function cost 45 instructions each of the three times a plugin
/// calls it between start-up and shutdown.
#[cold]
#[inline(never)]
fn settle(
    step: ReloadStep,
    deadline: Option<Deadline>,
    during: &'static str,
    outcome: std::thread::Result<Option<Result<(), PluginError>>>,
) -> Result<(), Failure> {
    match outcome {
        Ok(Some(Ok(()))) => Ok(()),
        Ok(Some(Err(error))) => Err(failed(step, &error)),
        Ok(None) => Err(Failure::Deadline {
            during,
            deadline: deadline.map_or(Duration::ZERO, |deadline| deadline.given),
        }),
        Err(payload) => Err(panicked(step, payload.as_ref())),
    }
}

thread_local! {
    /// The lazy plugins this thread is activating, innermost last: a use of one of them
    /// from inside its own activation is refused instead of deadlocking.
    static ACTIVATING: std::cell::RefCell<Vec<usize>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A lifecycle step's tracing span, entered for as long as the guard lives when a
/// subscriber is set. Its drop is a test inlined where the step ends: an
/// `Option<EnteredSpan>`'s drop was an out-of-line call at every activation and
/// deactivation, with no subscriber as much as with one.
struct StepSpan(Option<tracing::span::EnteredSpan>);

impl StepSpan {
    #[inline(always)]
    fn enter(span: impl FnOnce() -> tracing::Span) -> StepSpan {
        StepSpan(tracing::dispatcher::has_been_set().then(|| span().entered()))
    }
}

impl Drop for StepSpan {
    #[inline(always)]
    fn drop(&mut self) {
        if let Some(span) = self.0.take() {
            drop(span);
        }
    }
}

/// Runs plugin code, turning an error or a panic into a [`Failure`] that keeps the cause
/// chain.
#[inline]
pub(super) fn guarded<T>(step: ReloadStep, call: impl FnOnce() -> Result<T, PluginError>) -> Result<T, Failure> {
    match catch_unwind(AssertUnwindSafe(call)) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(failed(step, &error)),
        Err(payload) => Err(panicked(step, payload.as_ref())),
    }
}

/// The failure of plugin code that panicked at `step`.
#[cold]
fn panicked(step: ReloadStep, payload: &(dyn std::any::Any + Send)) -> Failure {
    Failure::Panicked {
        during: match step {
            ReloadStep::GetState => "get_state",
            ReloadStep::Create => "create",
            ReloadStep::Configure => "configure",
            ReloadStep::RestoreState => "restore_state",
            ReloadStep::Activate | ReloadStep::Wire => "activate",
        },
        message: panic_message(payload),
    }
}

/// The failure of plugin code that returned `error` at `step`, its cause chain kept.
#[cold]
fn failed(step: ReloadStep, error: &PluginError) -> Failure {
    match step {
        ReloadStep::Configure => Failure::Configure(error_chain(error)),
        ReloadStep::RestoreState => Failure::RestoreState(error_chain(error)),
        ReloadStep::GetState => Failure::GetState(error_chain(error)),
        _ => Failure::Activate(error_chain(error)),
    }
}

/// A fresh instance, configured, restored and activated, with what it registered.
pub(super) struct Started {
    pub(super) instance: Box<dyn ErasedPlugin>,
    pub(super) registrations: Registrations,
    pub(super) capabilities: Vec<Capability>,
}

/// What start-up must know of a plugin that started before it starts the next ones.
#[derive(Clone, Copy, Debug)]
pub(super) struct StartOutcome {
    /// It registered services, which plugins after it may look up while they activate:
    /// the tables must be rebuilt first.
    pub(super) provides_services: bool,
}

impl HostCore {
    /// Starts the plugin at `position` at start-up: creates, configures, restores
    /// `saved`, activates.
    pub(super) fn start(&self, position: usize, saved: Option<SavedState>) -> Result<StartOutcome, Failure> {
        self.begin_start(position)?;
        let started = self.instantiate(position, saved, None);
        self.finish_start(position, started)
    }

    /// [`HostCore::start`] within `deadline`: the plugin's code runs on a thread of its
    /// own, and if it has not returned in time the plugin is failed ("did not activate
    /// within 5 s") and start-up goes on. Synchronous code cannot be stopped: that
    /// thread runs until the plugin's code returns, and then the instance it made is
    /// deactivated and dropped there, never installed. Nothing of it is wired.
    pub(super) fn start_within(
        self: &Arc<Self>,
        position: usize,
        saved: Option<SavedState>,
        deadline: Duration,
    ) -> Result<StartOutcome, Failure> {
        self.begin_start(position)?;
        let outcome = Arc::new((Mutex::new(Outcome::Waiting), Condvar::new()));
        let (core, shared) = (Arc::clone(self), Arc::clone(&outcome));
        // Async code is cancelled at the deadline on the plugin's thread; synchronous
        // code is abandoned there.
        let cancel_at = Deadline::after(deadline);
        let spawned = std::thread::Builder::new()
            .name(format!("patchpanel-activate-{}", self.runtime.plugin_id(position)))
            .spawn(move || {
                let started = core.instantiate(position, saved, Some(cancel_at));
                let (state, done) = &*shared;
                let mut state = lock(state);
                if matches!(*state, Outcome::Abandoned) {
                    drop(state);
                    // Too late: the host has moved on and failed the plugin.
                    if let Ok(started) = started {
                        let _ = core.deactivate_instance(position, started.instance, None);
                    }
                } else {
                    *state = Outcome::Done(Box::new(started));
                    done.notify_all();
                }
            });
        if let Err(error) = spawned {
            let failure = Failure::Activate(format!("no thread to activate it on: {error}"));
            self.runtime
                .plugin(position)
                .fail(failure.clone())
                .expect("a loading plugin can fail");
            return Err(failure);
        }
        let (state, done) = &*outcome;
        let (mut state, _) = done
            .wait_timeout_while(lock(state), deadline, |state| matches!(state, Outcome::Waiting))
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match std::mem::replace(&mut *state, Outcome::Abandoned) {
            Outcome::Done(started) => {
                drop(state);
                self.finish_start(position, *started)
            }
            _ => {
                drop(state);
                let failure = Failure::Deadline {
                    during: "activate",
                    deadline,
                };
                self.runtime
                    .plugin(position)
                    .fail(failure.clone())
                    .expect("a loading plugin can fail");
                Err(failure)
            }
        }
    }

    /// Deactivates and drops `instance` within `deadline`, on a thread of its own. If the
    /// plugin's code has not returned in time, the failure says so and the caller moves
    /// on; the thread keeps running until that code returns, then drops the instance.
    pub(super) fn deactivate_within(
        self: &Arc<Self>,
        position: usize,
        instance: Box<dyn ErasedPlugin>,
        deadline: Duration,
    ) -> Result<(), Failure> {
        let (sent, received) = std::sync::mpsc::channel();
        let core = Arc::clone(self);
        let cancel_at = Deadline::after(deadline);
        let spawned = std::thread::Builder::new()
            .name(format!("patchpanel-deactivate-{}", self.runtime.plugin_id(position)))
            .spawn(move || {
                let _ = sent.send(core.deactivate_instance(position, instance, Some(cancel_at)));
            });
        if let Err(error) = spawned {
            return Err(Failure::Deactivate(format!("no thread to deactivate it on: {error}")));
        }
        received.recv_timeout(deadline).unwrap_or(Err(Failure::Deadline {
            during: "deactivate",
            deadline,
        }))
    }

    /// The part of a start before plugin code runs: a failed dependency fails it, and
    /// otherwise it is loaded.
    fn begin_start(&self, position: usize) -> Result<(), Failure> {
        let slot = self.runtime.plugin(position);
        let failed_dependency = self
            .graph
            .dependencies(position)
            .iter()
            .find(|&&d| self.runtime.plugin(d).state() == State::Failed)
            .map(|&d| self.runtime.plugin_id(d).to_owned());
        if let Some(dependency) = failed_dependency {
            let failure = Failure::DependencyFailed { dependency };
            slot.fail(failure.clone()).expect("a resolved plugin can fail");
            return Err(failure);
        }
        slot.transition(State::Loaded).expect("resolved plugins can load");
        Ok(())
    }

    /// The part of a start after plugin code ran: install the instance, or fail.
    fn finish_start(
        &self,
        position: usize,
        started: Result<Started, (ReloadStep, Failure)>,
    ) -> Result<StartOutcome, Failure> {
        let slot = self.runtime.plugin(position);
        match started {
            Ok(started) => {
                let outcome = StartOutcome {
                    provides_services: !started.registrations.providers.is_empty(),
                };
                *lock(&self.slots[position].instance) = Some(started.instance);
                *lock(&self.slots[position].installed) = Installed {
                    registrations: started.registrations,
                    capabilities: started.capabilities,
                };
                slot.transition(State::Active).expect("a loaded plugin can activate");
                Ok(outcome)
            }
            Err((_, failure)) => {
                slot.fail(failure.clone()).expect("a loading plugin can fail");
                Err(failure)
            }
        }
    }

    /// Creates, configures, restores and activates a new instance of the plugin at
    /// `position`, touching nothing the serving instance uses.
    ///
    /// `deadline` bounds the async parts (`configure_async`, `activate_async`): when it
    /// passes, the plugin's future is dropped (cancelled) and it fails with
    /// [`Failure::Deadline`].
    pub(super) fn instantiate(
        &self,
        position: usize,
        saved: Option<SavedState>,
        deadline: Option<Deadline>,
    ) -> Result<Started, (ReloadStep, Failure)> {
        let host_slot = &self.slots[position];
        let plugin = self.runtime.plugin(position);
        let id = &*plugin.id;
        let _span = StepSpan::enter(|| tracing::info_span!("patchpanel.activate", plugin = id));
        let started = self.runtime.observe.metrics.then(Instant::now);
        let mut instance = guarded(ReloadStep::Create, || Ok(host_slot.spec.instantiate()))
            .map_err(|failure| (ReloadStep::Create, failure))?;
        {
            // Held while `configure` runs: a reconfiguration waits for it, and plugin
            // code has no way to reach the host from here.
            let config = lock(&host_slot.config);
            guarded_within(ReloadStep::Configure, deadline, "activate", |until| {
                instance.configure(&config, until)
            })
            .map_err(|failure| (ReloadStep::Configure, failure))?;
        }
        if let Some(state) = saved {
            guarded(ReloadStep::RestoreState, || instance.restore_state(state))
                .map_err(|failure| (ReloadStep::RestoreState, failure))?;
        }
        // Registrations are kept aside and committed only if activation succeeds.
        let mut registrations = Registrations::default();
        let data = self.context_data_of(position, plugin, host_slot, &mut registrations);
        guarded_within(ReloadStep::Activate, deadline, "activate", |until| {
            instance.activate(data, until)
        })
        .map_err(|failure| (ReloadStep::Activate, failure))?;
        if let Some(denied) = registrations.denied.first() {
            return Err((ReloadStep::Activate, Failure::Activate(denied.to_string())));
        }
        // Subscriptions declared with `#[subscribe]` belong to the plugin like its own.
        // Matched by type: a subscriber of another type claiming this id never attaches
        // (the start-up refused it already).
        let own_type = host_slot.spec.type_id();
        for subscriber in registry::static_subscribers().filter(|subscriber| subscriber.plugin_type() == own_type) {
            registrations.subscriptions.extend(subscriber.subscription(position));
        }
        if let Some(declared) = &plugin.manifest.contributes {
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
        // What it registered, then what its own `capabilities()` adds.
        let mut capabilities = contributions::capabilities(&registrations, plugin.manifest.contributes.as_ref());
        let own = catch_unwind(AssertUnwindSafe(|| instance.capabilities())).unwrap_or_else(|payload| {
            let message = format!("panicked: {}", panic_message(payload.as_ref()));
            self.runtime.record_incident(crate::runtime::Incident {
                plugin: id.to_owned(),
                site: "capabilities".to_owned(),
                message: message.clone(),
            });
            vec![Capability::new("error", format!("capabilities() {message}"))]
        });
        for capability in own {
            if !capabilities.contains(&capability) {
                capabilities.push(capability);
            }
        }
        Ok(Started {
            instance,
            registrations,
            capabilities,
        })
    }

    /// Deactivates and drops `instance`; `deadline` bounds `deactivate_async`, whose
    /// future is dropped when it passes.
    pub(super) fn deactivate_instance(
        &self,
        position: usize,
        mut instance: Box<dyn ErasedPlugin>,
        deadline: Option<Deadline>,
    ) -> Result<(), Failure> {
        let _span =
            StepSpan::enter(|| tracing::info_span!("patchpanel.deactivate", plugin = self.runtime.plugin_id(position)));
        let mut scratch = Registrations::default();
        let data = self.context_data(position, &mut scratch);
        let result = guarded_within(ReloadStep::Activate, deadline, "deactivate", |until| {
            instance.deactivate(data, until)
        });
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

    pub(super) fn context_data<'a>(&'a self, position: usize, registrations: &'a mut Registrations) -> ContextData<'a> {
        self.context_data_of(
            position,
            self.runtime.plugin(position),
            &self.slots[position],
            registrations,
        )
    }

    /// [`HostCore::context_data`] from the slots the caller holds already (indexing them
    /// again after plugin code ran is a reload and a bounds check each).
    #[inline(always)]
    fn context_data_of<'a>(
        &'a self,
        position: usize,
        plugin: &'a PluginSlot,
        host_slot: &'a HostSlot,
        registrations: &'a mut Registrations,
    ) -> ContextData<'a> {
        ContextData {
            manifest: &plugin.manifest,
            absent_optional: &host_slot.absent_optional,
            runtime: &self.runtime,
            position,
            registrations,
        }
    }

    /// Rebuilds the tables from every serving instance's registrations and installs
    /// them. Used at start-up, before any other thread can dispatch.
    pub(super) fn rewire(&self) -> Result<(), HookWiringError> {
        self.install_tables(|| self.freeze_with(None))
    }

    /// Builds tables with `build` and installs them, with no other rebuild in between,
    /// then frees the old ones after a grace period (outside the lock, which a grace
    /// period must never hold).
    pub(super) fn install_tables<E>(&self, build: impl FnOnce() -> Result<Tables, E>) -> Result<(), E> {
        let rebuilding = lock(&self.tables);
        let old = self.runtime.swap_tables(build()?);
        drop(rebuilding);
        quiescence::synchronize();
        drop(old);
        // Tables a lazy activation retired are past their grace period too.
        self.runtime.free_retired();
        Ok(())
    }

    /// Activates the lazy plugin at `position` on its first use: its dependencies first,
    /// then it, once, however many threads ask at the same moment (the others wait for
    /// that one activation and share its outcome). New tables are swapped in at once;
    /// the old ones are retired rather than waited for, since the caller may be inside
    /// a call. A failure marks the plugin failed, for good: later uses get the same
    /// failure and nothing is retried.
    pub(super) fn activate_lazily(&self, position: usize) -> Result<(), Failure> {
        let slot = self.runtime.plugin(position);
        if ACTIVATING.with(|activating| activating.borrow().contains(&position)) {
            return Err(Failure::Activate(format!(
                "plugin `{}` was used while it was activating, on the same thread (its own activate, or a dependency's, uses it)",
                slot.id
            )));
        }
        let _once = lock(&self.slots[position].activation);
        match slot.state() {
            State::Active | State::Disabled => return Ok(()),
            State::Resolved => {}
            State::Failed => return Err(slot.failure().unwrap_or(Failure::Activate("failed".to_owned()))),
            other => {
                return Err(Failure::Activate(format!(
                    "plugin `{}` is {other} and cannot activate",
                    slot.id
                )));
            }
        }
        for &dependency in self.graph.dependencies(position) {
            if self.activate_lazily(dependency).is_err() {
                let dependency = self.runtime.plugin_id(dependency).to_owned();
                let failure = Failure::DependencyFailed { dependency };
                slot.fail(failure.clone()).expect("a resolved plugin can fail");
                return Err(failure);
            }
            // Disabled by the operator: not a failure of this plugin, which stays as it
            // is and can wake once the dependency is enabled.
            let state = self.runtime.plugin(dependency).state();
            if state != State::Active {
                return Err(Failure::Activate(format!(
                    "its dependency `{}` is {state}; enable it first",
                    self.runtime.plugin_id(dependency)
                )));
            }
        }
        ACTIVATING.with(|activating| activating.borrow_mut().push(position));
        let saved = lock(&self.slots[position].pending_state).take();
        let started = self.start(position, saved);
        ACTIVATING.with(|activating| activating.borrow_mut().retain(|&p| p != position));
        started?;
        let rebuilding = lock(&self.tables);
        match self.freeze_with(None) {
            Ok(tables) => {
                let old = self.runtime.swap_tables(tables);
                drop(rebuilding);
                self.runtime.retire(old);
                Ok(())
            }
            Err(error) => {
                drop(rebuilding);
                // Its registrations cannot be wired: it fails, and its instance goes.
                let failure = Failure::Activate(error.to_string());
                lock(&self.slots[position].installed).registrations = Registrations::default();
                let instance = lock(&self.slots[position].instance).take();
                let _ = slot.fail(failure.clone());
                if let Some(instance) = instance {
                    let _ = self.deactivate_instance(position, instance, None);
                }
                Err(failure)
            }
        }
    }

    /// The tables for the serving instances, with `replacement` standing in for the
    /// registrations of its plugin.
    pub(super) fn freeze_with(&self, replacement: Option<(usize, &Registrations)>) -> Result<Tables, HookWiringError> {
        // Failed and unloaded plugins keep no registrations; disabled ones keep theirs
        // and are skipped at dispatch by their state.
        let running = |position: usize| {
            matches!(self.runtime.plugin(position).state(), State::Active | State::Disabled)
                || replacement.is_some_and(|(replaced, _)| replaced == position)
        };
        // Room for every slot at once: collected through the filter, the list grew (and
        // was copied) six times on the way to 100 plugins.
        let mut guards = Vec::with_capacity(self.slots.len());
        guards.extend(
            self.slots
                .iter()
                .enumerate()
                .filter(|(position, _)| running(*position))
                .map(|(position, slot)| (position, lock(&slot.installed))),
        );
        let registrations: Vec<(usize, Arc<str>, &Registrations)> = guards
            .iter()
            .filter_map(|(position, guard)| {
                let registrations = match replacement {
                    Some((replaced, registrations)) if replaced == *position => registrations,
                    // A plugin that registered nothing adds nothing to the tables.
                    _ if guard.registrations.is_empty() => return None,
                    _ => &guard.registrations,
                };
                Some((*position, Arc::clone(&self.runtime.plugin(*position).id), registrations))
            })
            .collect();
        let running_id = |id: &str| self.runtime.position_of(id).is_some_and(running);
        freeze::freeze(
            &self.runtime.plugins,
            self.runtime.observe,
            &self.guards,
            &registrations,
            &running_id,
            Dormant::of(&self.runtime),
        )
    }
}
