//! Start-up sequencing: which plugins start now (eager ones, the lazy ones they need,
//! and those the operator left disabled), in which order (one after another, or level
//! by level over the dependency graph with `parallel_startup`), and within which
//! deadline.

use std::sync::Mutex;

use super::activation::StartOutcome;
use super::persist::OperatorStatus;
use super::{Host, HostBuilder, StartError};
use crate::lifecycle::Failure;
use crate::manifest::Activation;
use crate::support::lock;

impl HostBuilder {
    /// Starts the plugins that start at start-up; strict mode stops at the first failure.
    pub(super) fn start_all(&self, host: &Host) -> Result<(), StartError> {
        // A lazy plugin starts now only if an eager one depends on it, directly or not.
        let mut needed: Vec<bool> = host
            .core
            .runtime
            .plugins
            .iter()
            .map(|slot| slot.manifest.activation == Activation::Eager)
            .collect();
        // So does one the operator disabled: it comes back disabled, with an instance.
        if let Some(registry) = &host.registry {
            for (position, needed) in needed.iter_mut().enumerate() {
                let recorded = registry.recorded.plugins.get(host.core.runtime.plugin_id(position));
                *needed |= recorded.is_some_and(|record| record.status == OperatorStatus::Disabled);
            }
        }
        for position in (0..needed.len()).rev() {
            if needed[position] {
                for &dependency in host.core.graph.dependencies(position) {
                    needed[dependency] = true;
                }
            }
        }
        // A lazy plugin that stays asleep keeps its saved state for when it wakes.
        for (position, _) in needed.iter().enumerate().filter(|(_, needed)| !**needed) {
            *lock(&host.core.slots[position].pending_state) = host.recorded_state(position);
        }
        // The application's word for one plugin, then the plugin's own, then the default.
        let deadline_of = |position: usize| {
            (!self.deadlines.is_empty())
                .then(|| self.deadlines.get(host.core.runtime.plugin_id(position)).copied())
                .flatten()
                .or(host.core.runtime.plugin(position).manifest.activation_deadline)
                .or(self.deadline)
        };
        let start_one = |position: usize| {
            let saved = host.recorded_state(position);
            match deadline_of(position) {
                Some(deadline) => host.core.start_within(position, saved, deadline),
                None => host.core.start(position, saved),
            }
        };
        if self.parallel > 1 {
            for level in levels(host, &needed) {
                let outcomes = self.start_level(&level, &start_one);
                self.after_level(host, &outcomes)?;
            }
        } else {
            // One after another: each plugin is a level of its own, with no vector per
            // plugin.
            for position in (0..needed.len()).filter(|&position| needed[position]) {
                let outcome = start_one(position);
                if !leaves_nothing_to_do(&outcome) {
                    self.after_level(host, &[(position, outcome)])?;
                }
            }
        }
        if let Err(error) = host.core.rewire() {
            host.shutdown_in_place();
            return Err(StartError::Hooks(error));
        }
        Ok(())
    }

    /// Starts one level's plugins on up to `parallel` threads; the outcomes come back
    /// in position order.
    fn start_level(
        &self,
        level: &[usize],
        start_one: &(impl Fn(usize) -> Result<StartOutcome, Failure> + Sync),
    ) -> Vec<(usize, Result<StartOutcome, Failure>)> {
        if let [position] = level {
            return vec![(*position, start_one(*position))];
        }
        let next = std::sync::atomic::AtomicUsize::new(0);
        let outcomes = Mutex::new(Vec::with_capacity(level.len()));
        std::thread::scope(|scope| {
            for _ in 0..self.parallel.min(level.len()) {
                scope.spawn(|| {
                    loop {
                        let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(&position) = level.get(index) else { break };
                        let outcome = start_one(position);
                        lock(&outcomes).push((position, outcome));
                    }
                });
            }
        });
        let mut outcomes = outcomes.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner());
        outcomes.sort_by_key(|(position, _)| *position);
        outcomes
    }

    /// After a level started: strict mode rolls back on a failure; services the level
    /// provides are wired for the levels after it. A level whose every outcome
    /// [`leaves_nothing_to_do`] needs neither.
    fn after_level(&self, host: &Host, outcomes: &[(usize, Result<StartOutcome, Failure>)]) -> Result<(), StartError> {
        if self.strict
            && let Some((position, Err(failure))) = outcomes.iter().find(|(_, outcome)| outcome.is_err())
        {
            let plugin = host.core.runtime.plugin_id(*position).to_owned();
            let failure = failure.clone();
            let report = host.shutdown_in_place();
            return Err(StartError::Strict {
                plugin,
                failure,
                rolled_back: report.deactivated.into_iter().map(String::from).collect(),
            });
        }
        // Later plugins may look up the services these provide while they
        // activate; rewiring only then keeps start-up linear for the rest.
        if outcomes
            .iter()
            .any(|(_, outcome)| outcome.as_ref().is_ok_and(|started| started.provides_services))
            && let Err(error) = host.core.rewire()
        {
            host.shutdown_in_place();
            return Err(StartError::Hooks(error));
        }
        Ok(())
    }
}

/// Whether a plugin's start leaves [`HostBuilder::after_level`] nothing to do: it
/// started, and provides no service for later plugins to look up. Most do; checked
/// before the call, one plugin at a time.
fn leaves_nothing_to_do(outcome: &Result<StartOutcome, Failure>) -> bool {
    outcome.as_ref().is_ok_and(|started| !started.provides_services)
}

/// The plugins that start now, in levels over the dependency graph: a plugin's level is
/// one more than its deepest dependency's, so each level depends only on earlier ones.
fn levels(host: &Host, needed: &[bool]) -> Vec<Vec<usize>> {
    let mut level = vec![0usize; needed.len()];
    let mut levels: Vec<Vec<usize>> = Vec::new();
    for position in (0..needed.len()).filter(|&position| needed[position]) {
        level[position] = host
            .core
            .graph
            .dependencies(position)
            .iter()
            .map(|&dependency| level[dependency] + 1)
            .max()
            .unwrap_or(0);
        if levels.len() <= level[position] {
            levels.resize_with(level[position] + 1, Vec::new);
        }
        levels[level[position]].push(position);
    }
    levels
}
