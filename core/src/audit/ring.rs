//! The audit log's ring buffer: the last records in memory, a lifecycle transition in
//! twelve bytes.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::Arc;

use super::{AuditRecord, Decision};
use crate::lifecycle::State;

/// A plugin id as the ring names it in a transition: its place in the ring's table of
/// names, made once a plugin slot ([`Naming::name`]), so that keeping a transition copies
/// no id and counts no reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Named(u32);

/// Names plugins, each once, for its slot: [`Audit::naming`]. It holds the ring's lock:
/// nothing may be recorded, nor another `Naming` made, on its thread while it lives.
pub(crate) struct Naming<'a>(pub(super) std::sync::MutexGuard<'a, Ring>);

impl Naming<'_> {
    /// Makes room for `more` names at once (a host naming all its plugins: grown one
    /// push at a time, the table was copied seven times on the way to 100 names).
    pub(crate) fn reserve(&mut self, more: usize) {
        self.0.names.reserve(more);
    }

    /// The name transitions of `plugin` are kept under.
    pub(crate) fn name(&mut self, plugin: &Arc<str>) -> Named {
        let names = &mut self.0.names;
        names.push(Arc::clone(plugin));
        let index = names.len() - 1;
        assert!(index < 1 << 24, "fewer than 2^24 plugin slots share one audit log");
        Named(index as u32)
    }
}

/// The ring buffer. A lifecycle transition made for no consumer is an [`Entry`] of twelve
/// bytes and nothing else: no id to copy, no reference count to take, nothing to free
/// when it goes. Transitions are most of what a large host records (five a plugin over
/// its start-up and shutdown); kept as whole records, their 112-byte moves in and out of
/// the ring cost 140 instructions a plugin at start-up. Any other record is kept whole
/// in `records`, in order, and its entry marks where it stood.
///
/// Other records are not boxed: a box made every permission check's record (one a
/// registration) allocate and free, 430 instructions a registered command. Keeping
/// transitions whole but without their id's reference count saved nothing.
#[derive(Debug)]
pub(super) struct Ring {
    /// Every kept record, at most the audit's capacity: in order until it is full, and
    /// from then on a circle whose oldest entry is at `oldest`, overwritten in place.
    entries: Vec<Entry>,
    /// Where the oldest entry is once `entries` is full (zero until then).
    oldest: usize,
    /// The records of the [`Entry::RECORD`] entries, in the same order.
    records: VecDeque<AuditRecord>,
    /// The plugin ids [`Named`]s stand for.
    names: Vec<Arc<str>>,
}

/// One kept record, in twelve bytes: a transition's time, its plugin and its move, or
/// the mark of the next of [`Ring::records`]. Small enough that the default ring's 4,096
/// entries (48 KiB) stay under the 64 KiB from which freeing a block makes glibc
/// consolidate its free lists: at 24 bytes an entry, dropping a host whose plugin had
/// registered 10,000 commands paid 450 instructions a command for that.
#[derive(Clone, Copy, Debug)]
#[repr(C, packed(4))]
pub(super) struct Entry {
    // Packed: read by copy, never by reference.
    timestamp_ms: u64,
    /// `plugin << 8 | from << 3 | to` for a transition, [`Entry::RECORD`] for a record.
    word: u32,
}

// A move fits in six bits.
const _: () = assert!(State::ALL.len() <= 8);

impl Entry {
    /// The mark of a whole record: its low byte sets bits that no move (six bits) sets.
    const RECORD: Entry = Entry {
        timestamp_ms: 0,
        word: u32::MAX,
    };

    /// A transition of `plugin` at `timestamp_ms`, `from -> to`.
    #[inline(always)]
    pub(super) fn transition(timestamp_ms: u64, plugin: Named, from: State, to: State) -> Entry {
        Entry {
            timestamp_ms,
            word: plugin.0 << 8 | (from as u32) << 3 | to as u32,
        }
    }

    fn is_record(self) -> bool {
        self.word == Entry::RECORD.word
    }

    /// The transition's time, plugin and text, or `None` for a record.
    fn transition_parts(self) -> Option<(u64, Named, &'static str)> {
        let word = self.word;
        if self.is_record() {
            return None;
        }
        let (from, to) = (State::from_u8((word >> 3 & 7) as u8), State::from_u8((word & 7) as u8));
        let text = State::move_text(from, to).expect("the ring keeps allowed moves");
        Some((self.timestamp_ms, Named(word >> 8), text))
    }
}

impl Ring {
    /// An empty ring with room for `entries` entries and `records` whole records before
    /// either grows.
    pub(super) fn with_room(entries: usize, records: usize) -> Ring {
        Ring {
            entries: Vec::with_capacity(entries),
            oldest: 0,
            records: VecDeque::with_capacity(records),
            names: Vec::new(),
        }
    }

    /// Keeps `entry`; when the ring holds `capacity` already, the oldest entry is
    /// overwritten and its record, if it had one, returned to be dropped after the lock.
    #[inline(always)]
    pub(super) fn push(&mut self, entry: Entry, capacity: usize) -> Option<AuditRecord> {
        if self.entries.len() < capacity {
            self.entries.push(entry);
            return None;
        }
        let evicted = std::mem::replace(&mut self.entries[self.oldest], entry);
        self.oldest += 1;
        if self.oldest == self.entries.len() {
            self.oldest = 0;
        }
        if evicted.is_record() {
            self.records.pop_front()
        } else {
            None
        }
    }

    /// Whether `more` entries fit before the ring is full (so that none is evicted).
    pub(super) fn fits(&self, more: usize, capacity: usize) -> bool {
        self.entries.len().saturating_add(more) <= capacity
    }

    /// Keeps every move of `moves` for each of `plugins`, in that order, all at
    /// `timestamp_ms`; the caller has checked that they [fit](Ring::fits).
    pub(super) fn extend_transitions(
        &mut self,
        timestamp_ms: u64,
        plugins: impl ExactSizeIterator<Item = Named>,
        moves: &[(State, State)],
    ) {
        self.entries.reserve(plugins.len() * moves.len());
        for name in plugins {
            self.entries.extend(
                moves
                    .iter()
                    .map(|&(from, to)| Entry::transition(timestamp_ms, name, from, to)),
            );
        }
    }

    /// Keeps `record` whole, as [`Ring::push`] keeps an entry.
    #[inline(always)]
    pub(super) fn push_record(&mut self, record: AuditRecord, capacity: usize) -> Option<AuditRecord> {
        let evicted = self.push(Entry::RECORD, capacity);
        self.records.push_back(record);
        evicted
    }

    /// The kept records, oldest first, each with its plugin's id.
    pub(super) fn iter(&self) -> impl Iterator<Item = Seen<'_>> {
        let mut records = self.records.iter();
        let (newer, older) = self.entries.split_at(self.oldest);
        older
            .iter()
            .chain(newer)
            .map(move |entry| match entry.transition_parts() {
                Some((timestamp_ms, plugin, details)) => Seen::Transition {
                    timestamp_ms,
                    plugin: &self.names[plugin.0 as usize],
                    details,
                },
                None => Seen::Record(records.next().expect("a record for every record entry")),
            })
    }
}

/// A kept record as [`Ring::iter`] reads it.
pub(super) enum Seen<'r> {
    Transition {
        timestamp_ms: u64,
        plugin: &'r Arc<str>,
        details: &'static str,
    },
    Record(&'r AuditRecord),
}

impl Seen<'_> {
    pub(super) fn plugin(&self) -> &str {
        match self {
            Seen::Transition { plugin, .. } => plugin,
            Seen::Record(record) => &record.plugin,
        }
    }

    pub(super) fn to_record(&self) -> AuditRecord {
        match *self {
            Seen::Transition {
                timestamp_ms,
                plugin,
                details,
            } => transition_record(timestamp_ms, plugin, details, None),
            Seen::Record(record) => record.clone(),
        }
    }
}

/// Frees a record the ring let go of, after its lock. Tested where it is called, so that
/// nothing is moved when there is none (most of the time): the 112-byte `Option` was
/// copied on the way to its drop, 14 instructions a lifecycle transition.
#[inline(always)]
pub(super) fn free(evicted: Option<AuditRecord>) {
    #[cold]
    #[inline(never)]
    fn free_record(record: AuditRecord) {
        drop(record);
    }
    if let Some(record) = evicted {
        free_record(record);
    }
}

/// The record of a lifecycle transition.
pub(super) fn transition_record(
    timestamp_ms: u64,
    plugin: &Arc<str>,
    details: &'static str,
    on_behalf_of: Option<Arc<str>>,
) -> AuditRecord {
    AuditRecord {
        timestamp_ms: u128::from(timestamp_ms),
        plugin: Arc::clone(plugin),
        action: Cow::Borrowed("lifecycle"),
        decision: Decision::Transition,
        details: Cow::Borrowed(details),
        on_behalf_of,
    }
}
