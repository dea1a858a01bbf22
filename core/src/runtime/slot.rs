//! One plugin's place in the runtime: its identity, its lifecycle state and the
//! instance generation, readable by dispatch without a lock.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::gate::Gate;
use super::quiescence::{self, Inside};
use crate::audit::{Audit, Decision, Named};
use crate::lifecycle::{Failure, LifecycleError, State};
use crate::manifest::Manifest;
use crate::permissions::Held;
use crate::support::lock;

/// A plugin as dispatch sees it.
///
/// Its address is the key a thread publishes while inside the plugin, so a slot never
/// moves while its runtime lives.
pub(crate) struct PluginSlot {
    /// The plugin id, shared with every audit record and error about it.
    pub(crate) id: Arc<str>,
    /// The manifest it was registered with.
    pub(crate) manifest: Arc<Manifest>,
    /// `epoch << 8 | state`: one load tells a typed handle both that the plugin is
    /// active and that its commands still dispatch as when the handle was resolved. The
    /// epoch grows at every reload and whenever a swap of the tables changes how one of
    /// the plugin's commands dispatches (another plugin's middleware or guard came or
    /// went): what a call must check is folded into this word when the tables freeze.
    word: AtomicU64,
    /// How many times the plugin was reloaded in this host.
    reloads: AtomicU64,
    /// Whether the plugin has subscribed to an event or registered a middleware layer
    /// in any tables installed so far: then leaving `active` disarms the dispatch gate,
    /// behind which walks and chains run without checking its state. Never unset.
    gated: AtomicBool,
    /// The runtime's dispatch gate.
    gate: Arc<Gate>,
    /// Why the plugin failed, while it is failed.
    failure: Mutex<Option<Failure>>,
    /// The permissions its manifest declares, for run-time checks on the dispatch path.
    pub(crate) held: Held,
    /// Its manifest declares it deprecated (read once, so that start-up's report looks
    /// at the slots, not at every manifest again).
    pub(crate) deprecated: bool,
    audit: Arc<Audit>,
    /// Its id as the audit ring keeps its transitions.
    pub(crate) audit_name: Named,
}

/// Why a call did not enter a plugin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The plugin is not active; the state it is in.
    Inactive(State),
    /// Calls nest deeper than the runtime allows on this thread.
    TooDeep,
}

impl PluginSlot {
    /// The slot of the plugin with `manifest`, named `id` (its manifest's id, shared).
    pub(crate) fn new(
        manifest: Arc<Manifest>,
        id: Arc<str>,
        audit_name: Named,
        audit: Arc<Audit>,
        gate: Arc<Gate>,
    ) -> PluginSlot {
        debug_assert_eq!(*id, *manifest.id);
        PluginSlot {
            audit_name,
            id,
            held: Held::of(&manifest),
            deprecated: manifest.deprecated.is_some(),
            manifest,
            word: AtomicU64::new(State::Discovered as u64),
            reloads: AtomicU64::new(0),
            gated: AtomicBool::new(false),
            gate,
            failure: Mutex::new(None),
            audit,
        }
    }

    /// The key threads publish while inside this plugin.
    #[inline(always)]
    pub(crate) fn key(&self) -> usize {
        self as *const PluginSlot as usize
    }

    /// The state and epoch word, for a typed handle to compare with its own.
    #[inline(always)]
    pub(crate) fn word(&self) -> u64 {
        self.word.load(Ordering::Acquire)
    }

    /// The word of this plugin active in its current epoch.
    pub(crate) fn active_word(&self) -> u64 {
        (self.word() & !0xff) | State::Active as u64
    }

    #[inline(always)]
    pub(crate) fn state(&self) -> State {
        State::from_u8((self.word() & 0xff) as u8)
    }

    #[inline(always)]
    pub(crate) fn is_active(&self) -> bool {
        self.word() & 0xff == State::Active as u64
    }

    /// `Ok` if the plugin is active, else the state it is in: one load of the word.
    #[inline(always)]
    pub(crate) fn check_active(&self) -> Result<(), State> {
        let word = self.word();
        if word & 0xff == State::Active as u64 {
            Ok(())
        } else {
            Err(State::from_u8((word & 0xff) as u8))
        }
    }

    /// The reason the plugin failed, if it is failed.
    pub(crate) fn failure(&self) -> Option<Failure> {
        if self.state() == State::Failed {
            lock(&self.failure).clone()
        } else {
            None
        }
    }

    /// Enters the plugin for a call: publishes this thread's entry, then checks that the
    /// plugin is active. The entry is left when the guard drops.
    #[inline(always)]
    pub(crate) fn enter(&self) -> Result<Inside, Refused> {
        let inside = quiescence::enter(self.key()).map_err(|_| Refused::TooDeep)?;
        match self.check_active() {
            Ok(()) => Ok(inside),
            Err(state) => {
                drop(inside);
                Err(Refused::Inactive(state))
            }
        }
    }

    /// Moves to `to` if the lifecycle allows it from the state the plugin is in when the
    /// move is made, keeping the epoch (a swap of the tables may move it meanwhile).
    ///
    /// The check and the move are one compare-and-swap of the slot's word: host
    /// operations move a plugin under the host's lifecycle lock, but a lazy wake moves it
    /// under its own activation lock (and fails it when its tables cannot be wired, an
    /// active plugin that a `disable` may be moving at the same moment). Of two racing
    /// moves, the second is decided on the state the first left.
    pub(crate) fn transition(&self, to: State) -> Result<State, LifecycleError> {
        let mut word = self.word();
        let from = loop {
            let from = State::from_u8((word & 0xff) as u8);
            if !from.can_become(to) {
                return Err(self.invalid_transition(from, to));
            }
            match self
                .word
                .compare_exchange_weak(word, (word & !0xff) | to as u64, Ordering::SeqCst, Ordering::Acquire)
            {
                Ok(_) => break from,
                Err(now) => word = now,
            }
        };
        if from == State::Active && to != State::Active && self.gated() {
            // After the state, before any barrier: a publish that reads the gate armed
            // is inside it, and a writer that waits waits for it too.
            self.gate.disarm();
        }
        self.audit.record_transition(&self.id, self.audit_name, from, to);
        Ok(from)
    }

    /// The error of a move the lifecycle does not allow: out of line, so that the frame
    /// of every allowed transition has no room for it.
    #[cold]
    #[inline(never)]
    fn invalid_transition(&self, from: State, to: State) -> LifecycleError {
        LifecycleError::InvalidTransition {
            plugin: self.id.to_string(),
            from,
            to,
        }
    }

    /// `discovered -> validated -> resolved` at start-up, for the caller to audit with
    /// the others in one batch ([`Runtime::resolve_all`](super::Runtime::resolve_all)).
    pub(crate) fn resolve_at_startup(&self) {
        debug_assert_eq!(self.state(), State::Discovered);
        self.word.store(State::Resolved as u64, Ordering::Release);
    }

    /// Marks the plugin failed, with the reason.
    pub(crate) fn fail(&self, failure: Failure) -> Result<(), LifecycleError> {
        *lock(&self.failure) = Some(failure.clone());
        if self.state() != State::Failed {
            self.transition(State::Failed)?;
        }
        self.audit.record(
            &self.id,
            "lifecycle",
            Decision::Transition,
            format!("failed: {failure}"),
        );
        Ok(())
    }

    /// Whether the plugin has subscribed to an event or registered a middleware layer
    /// in any tables installed so far.
    pub(crate) fn gated(&self) -> bool {
        self.gated.load(Ordering::SeqCst)
    }

    /// Notes that tables about to be installed hold a subscription or a middleware layer
    /// of this plugin; disarms the gate if the plugin is not active (those tables' walks
    /// and chains would otherwise skip its state).
    pub(crate) fn mark_gated(&self) {
        if !self.gated.swap(true, Ordering::SeqCst) && !self.is_active() {
            self.gate.disarm();
        }
    }

    /// The keys a writer waits on until no call into this plugin runs: its own, and the
    /// dispatch gate's when it is gated (a walk or a chain through an armed gate does not
    /// enter each subscriber's or layer's plugin).
    pub(crate) fn keys(&self) -> ([usize; 2], usize) {
        ([self.key(), self.gate.key()], if self.gated() { 2 } else { 1 })
    }

    /// How many times the plugin was reloaded in this host.
    pub(crate) fn reloads(&self) -> u64 {
        self.reloads.load(Ordering::Acquire)
    }

    /// Moves the epoch on: typed handles resolved before take their slow path, which
    /// dispatches through the current tables. A swap calls it for the owner of every
    /// command whose dispatch it changed.
    pub(crate) fn next_epoch(&self) {
        self.word.fetch_add(1 << 8, Ordering::AcqRel);
    }

    /// Starts a new instance generation: typed handles resolved against the old
    /// instance take their slow path and reach the new one.
    pub(crate) fn next_generation(&self) {
        self.reloads.fetch_add(1, Ordering::AcqRel);
        self.next_epoch();
        self.audit.record(
            &self.id,
            "lifecycle",
            Decision::Transition,
            "reloaded: a new instance serves",
        );
    }
}

impl std::fmt::Debug for PluginSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginSlot")
            .field("id", &self.id)
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
impl PluginSlot {
    /// A slot of plugin `id` (version 1.0.0, no permissions), as a runtime makes one
    /// before start-up, with an audit of its own and a gate of its own.
    pub(crate) fn for_tests(id: &str) -> PluginSlot {
        let manifest = Arc::new(Manifest::builder(id, "1.0.0").build().unwrap());
        let id: Arc<str> = Arc::from(id);
        let audit = Arc::new(Audit::new(16, None).unwrap());
        let name = audit.naming().name(&id);
        PluginSlot::new(manifest, id, name, audit, Arc::new(Gate::default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::time::{Duration, Instant};

    fn active_slot() -> PluginSlot {
        let slot = PluginSlot::for_tests("racer");
        slot.resolve_at_startup();
        slot.transition(State::Loaded).unwrap();
        slot.transition(State::Active).unwrap();
        slot
    }

    /// Four threads race to disable and enable one plugin for half a second, as a host
    /// operation and a lazy wake's failure path could: every move is decided on the
    /// state it leaves, so the moves that succeeded alternate, and the state at the end
    /// is the last one's. (A move made by an `xor` of the state read before it, tried
    /// on 2026-12-07, fails this in every run: two threads both "disable" an active
    /// plugin and leave it active.)
    #[test]
    fn racing_transitions_are_each_decided_on_the_state_they_leave() {
        let slot = active_slot();
        let (disabled, enabled) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let until = Instant::now() + Duration::from_millis(500);
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    while Instant::now() < until {
                        if slot.transition(State::Disabled).is_ok() {
                            disabled.fetch_add(1, Ordering::Relaxed);
                        }
                        if slot.transition(State::Active).is_ok() {
                            enabled.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        let (disabled, enabled) = (disabled.into_inner(), enabled.into_inner());
        assert!(disabled > 0, "the threads raced");
        match slot.state() {
            State::Active => assert_eq!(disabled, enabled, "each enable undid one disable"),
            State::Disabled => assert_eq!(disabled, enabled + 1, "one disable is left"),
            other => panic!("a race left the plugin {other} ({disabled} disables, {enabled} enables)"),
        }
    }

    /// A move the state does not allow fails without changing the word, the epoch kept.
    #[test]
    fn a_refused_transition_changes_nothing() {
        let slot = active_slot();
        slot.next_epoch();
        let word = slot.word();
        let error = slot.transition(State::Loaded).unwrap_err();
        assert_eq!(
            error,
            LifecycleError::InvalidTransition {
                plugin: "racer".to_owned(),
                from: State::Active,
                to: State::Loaded,
            }
        );
        assert_eq!(slot.word(), word);
        assert_eq!(slot.transition(State::Disabled), Ok(State::Active));
        assert_eq!(slot.word(), (word & !0xff) | State::Disabled as u64);
    }
}
