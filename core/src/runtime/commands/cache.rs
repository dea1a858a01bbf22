//! Opt-in result caching for pure commands (the guide's `CachingRegistry`).
//!
//! A command registered with [`Context::command_cached`](crate::Context::command_cached)
//! keeps its successful responses, keyed by request, for a time-to-live and up to a
//! number of entries. A repeated call with an equal request is answered from the cache
//! without running the handler. The cache sits where the handler would run: the lookup,
//! the state check, the application's guards and every middleware still run for a hit,
//! so caching never lets a call past a guard that would have rejected it.
//!
//! The cache belongs to one plugin instance: a reload or a reconfiguration makes a new
//! instance with an empty cache, and disabling the plugin empties it, so nothing cached
//! outlives the code and configuration that computed it. Errors and panics are never
//! cached.

use std::collections::VecDeque;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::support::{FxHashMap, lock};

/// How long and how many of a command's results are kept.
///
/// ```
/// use std::time::Duration;
/// let policy = patchpanel::commands::CachePolicy::new(Duration::from_secs(30), 1_000);
/// assert_eq!(policy.ttl(), Duration::from_secs(30));
/// assert_eq!(policy.capacity(), 1_000);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CachePolicy {
    ttl: Duration,
    capacity: usize,
}

impl CachePolicy {
    /// Results live for `ttl`, and at most `capacity` are kept (the oldest goes first).
    /// A capacity of 0 keeps nothing.
    pub const fn new(ttl: Duration, capacity: usize) -> CachePolicy {
        CachePolicy { ttl, capacity }
    }

    /// How long a result is answered from the cache.
    pub const fn ttl(&self) -> Duration {
        self.ttl
    }

    /// How many results are kept at most.
    pub const fn capacity(&self) -> usize {
        self.capacity
    }
}

/// A cache the host can empty without knowing its types.
pub(crate) trait Invalidate: Send + Sync {
    /// Forgets every result.
    fn clear(&self);
}

/// One command's results.
pub(crate) struct ResultCache<Req, Resp> {
    policy: CachePolicy,
    state: Mutex<Entries<Req, Resp>>,
}

struct Entries<Req, Resp> {
    map: FxHashMap<Req, Entry<Resp>>,
    /// Insertion order, for eviction: `(sequence, key)`. An entry replaced later has a
    /// newer sequence in the map, and its old place here is skipped.
    order: VecDeque<(u64, Req)>,
    next: u64,
}

struct Entry<Resp> {
    response: Resp,
    expires: Instant,
    sequence: u64,
}

impl<Req: Hash + Eq + Clone, Resp: Clone> ResultCache<Req, Resp> {
    pub(crate) fn new(policy: CachePolicy) -> ResultCache<Req, Resp> {
        ResultCache {
            policy,
            state: Mutex::new(Entries {
                map: FxHashMap::default(),
                order: VecDeque::new(),
                next: 0,
            }),
        }
    }

    /// The cached response to `request`, if one is still fresh.
    pub(crate) fn get(&self, request: &Req) -> Option<Resp> {
        let mut entries = lock(&self.state);
        let entry = entries.map.get(request)?;
        if entry.expires > Instant::now() {
            return Some(entry.response.clone());
        }
        entries.map.remove(request);
        None
    }

    /// Keeps `response` to `request`, evicting the oldest results beyond the capacity.
    pub(crate) fn insert(&self, request: Req, response: Resp) {
        if self.policy.capacity == 0 {
            return;
        }
        let expires = Instant::now() + self.policy.ttl;
        let mut entries = lock(&self.state);
        let entries = &mut *entries;
        let sequence = entries.next;
        entries.next += 1;
        let replaced = entries
            .map
            .insert(
                request.clone(),
                Entry {
                    response,
                    expires,
                    sequence,
                },
            )
            .is_some();
        entries.order.push_back((sequence, request));
        if !replaced {
            while entries.map.len() > self.policy.capacity {
                let Some((sequence, oldest)) = entries.order.pop_front() else {
                    break;
                };
                if entries.map.get(&oldest).is_some_and(|entry| entry.sequence == sequence) {
                    entries.map.remove(&oldest);
                }
            }
        }
        // Places left by replaced or expired entries: dropped once they outnumber the
        // live ones, so the queue stays within twice the capacity.
        if entries.order.len() > 2 * self.policy.capacity {
            let map = &entries.map;
            entries
                .order
                .retain(|(sequence, key)| map.get(key).is_some_and(|entry| entry.sequence == *sequence));
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        lock(&self.state).map.len()
    }
}

impl<Req: Send, Resp: Send> Invalidate for ResultCache<Req, Resp> {
    fn clear(&self) {
        let mut entries = lock(&self.state);
        entries.map.clear();
        entries.order.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_result_goes_first_and_a_replaced_one_keeps_its_new_place() {
        let cache = ResultCache::<u32, u32>::new(CachePolicy::new(Duration::from_secs(60), 2));
        cache.insert(1, 10);
        cache.insert(2, 20);
        cache.insert(1, 11); // replaced: now newer than 2
        cache.insert(3, 30); // evicts 2, the oldest
        assert_eq!(cache.get(&1), Some(11));
        assert_eq!(cache.get(&2), None);
        assert_eq!(cache.get(&3), Some(30));
        assert_eq!(cache.len(), 2);
        for n in 0..100 {
            cache.insert(n % 3, n);
        }
        assert_eq!(cache.len(), 2);
        assert!(lock(&cache.state).order.len() <= 4);
        cache.clear();
        assert_eq!(cache.get(&1), None);
    }

    #[test]
    fn capacity_zero_keeps_nothing_and_an_expired_result_is_dropped() {
        let none = ResultCache::<u32, u32>::new(CachePolicy::new(Duration::from_secs(60), 0));
        none.insert(1, 1);
        assert_eq!(none.get(&1), None);
        let brief = ResultCache::<u32, u32>::new(CachePolicy::new(Duration::ZERO, 4));
        brief.insert(1, 1);
        assert_eq!(brief.get(&1), None);
        assert_eq!(brief.len(), 0);
    }
}
