//! The dispatch gate: one word that lets a publish skip the per-subscriber state checks,
//! and a command's middleware chain the per-layer ones, while every *gated* plugin (one
//! that subscribes to an event, registers a middleware layer or owns a command that has
//! middleware) is active.
//!
//! A publish, or a chain, enters the gate (its key on the thread's record, as a call
//! enters a plugin) and reads the word once. Armed, the walk calls each subscriber, and
//! the chain each layer, with no check of its own: one store (which subscriber or layer
//! runs, for attribution) and the call. Disarmed, the walk moves its entry onto each
//! subscriber's plugin and checks its state, as a call does, and the chain enters every
//! layer's plugin and checks each one's state at its turn.
//!
//! Writers pay instead, as with a plugin's own state: a gated plugin that leaves
//! `active` disarms the gate in the same transition ([`PluginSlot::transition`]), and a
//! writer that must know no call into it starts again (disable, shutdown) waits, after
//! its barrier, for the threads inside the gate as well as for those inside the plugin.
//! Either a publish or chain reads the word after the barrier and checks states, or the
//! writer sees it inside the gate and waits for it. The gate is re-armed, when every
//! gated plugin is active again, by [`Runtime::rearm`](super::Runtime::rearm):
//! after a swap of the tables and after an enable. The word carries a version, so an
//! attempt to re-arm that raced with a disarm fails rather than undoing it. A swap of
//! the tables moves the version too (it disarms, then re-arms): an event channel's
//! plan is then one compare of the word, covering both the gate and its tables.
//!
//! [`PluginSlot::transition`]: super::PluginSlot::transition

use std::sync::atomic::{AtomicU64, Ordering};

/// The gate; the runtime and every slot share it.
#[derive(Debug, Default)]
pub(crate) struct Gate {
    /// `version << 1 | armed`. Starts disarmed: start-up arms it once the plugins are
    /// active.
    word: AtomicU64,
}

impl Gate {
    /// The key a publish publishes on its thread's record while it walks an armed gate.
    #[inline(always)]
    pub(crate) fn key(&self) -> usize {
        self as *const Gate as usize
    }

    /// Whether every subscribing plugin was active when last checked and none has left
    /// `active` since.
    #[inline(always)]
    pub(crate) fn is_armed(&self) -> bool {
        self.word.load(Ordering::Acquire) & 1 == 1
    }

    /// The word itself: equal to a word read earlier only while nothing disarmed the
    /// gate and no swap of the tables happened since (both move the version, which only
    /// grows), so an [`EventChannel`](super::EventChannel) keeps the word it last saw
    /// armed with its own tables current and compares it with this one load.
    #[inline(always)]
    pub(crate) fn word(&self) -> u64 {
        self.word.load(Ordering::Acquire)
    }

    /// Disarms the gate, and moves its version on so that a concurrent re-arm fails.
    pub(crate) fn disarm(&self) {
        let _ = self
            .word
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |word| Some((word + 2) & !1));
    }

    /// Arms the gate if `all_active` (asked after the word is read) holds and no disarm
    /// happened meanwhile.
    pub(crate) fn try_arm(&self, all_active: impl FnOnce() -> bool) {
        let word = self.word.load(Ordering::SeqCst);
        if word & 1 == 1 || !all_active() {
            return;
        }
        let _ = self
            .word
            .compare_exchange(word, word | 1, Ordering::SeqCst, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_disarm_during_an_arm_attempt_wins() {
        let gate = Gate::default();
        assert!(!gate.is_armed());
        gate.try_arm(|| true);
        assert!(gate.is_armed());
        gate.disarm();
        assert!(!gate.is_armed());
        // A writer disarms while the check runs: the attempt fails.
        gate.try_arm(|| {
            gate.disarm();
            true
        });
        assert!(!gate.is_armed());
        gate.try_arm(|| false);
        assert!(!gate.is_armed());
        gate.try_arm(|| true);
        assert!(gate.is_armed());
    }
}
