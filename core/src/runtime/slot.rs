//! One plugin's place in the runtime: its identity, its lifecycle state and the
//! instance generation, readable by dispatch without a lock.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::gate::Gate;
use super::quiescence::{self, Inside};
use crate::audit::{Audit, Decision};
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
    pub(crate) fn new(manifest: Arc<Manifest>, id: Arc<str>, audit: Arc<Audit>, gate: Arc<Gate>) -> PluginSlot {
        debug_assert_eq!(*id, *manifest.id);
        PluginSlot {
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

    /// Moves to `to` if the lifecycle allows it, keeping the epoch. Transitions are
    /// made under the host's lifecycle lock, so two cannot race; a swap of the tables
    /// may move the epoch meanwhile, which the update keeps.
    pub(crate) fn transition(&self, to: State) -> Result<State, LifecycleError> {
        let from = State::from_u8((self.word() & 0xff) as u8);
        let Some(text) = State::move_text(from, to) else {
            return Err(LifecycleError::InvalidTransition {
                plugin: self.id.to_string(),
                from,
                to,
            });
        };
        // Only the state byte changes: a swap's epoch moves add above it, and transitions
        // are made under the host's lifecycle lock, so the byte is `from` until this xor.
        self.word.fetch_xor(from as u64 ^ to as u64, Ordering::SeqCst);
        if from == State::Active && to != State::Active && self.gated() {
            // After the state, before any barrier: a publish that reads the gate armed
            // is inside it, and a writer that waits waits for it too.
            self.gate.disarm();
        }
        self.audit.record_transition(&self.id, text);
        Ok(from)
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
