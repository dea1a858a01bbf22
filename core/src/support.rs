//! Helpers shared by every layer: the hash map of the frozen tables, panic messages and
//! lock recovery. A leaf: it depends on nothing else in the crate.

use std::any::Any;
use std::sync::{Mutex, MutexGuard};

/// A hash map with rustc's Fx hash, for tables keyed by `TypeId`s and ids that the
/// plugins compiled into the binary chose. Hash flooding is not a concern for trusted
/// keys, so SipHash's cost is not needed.
pub(crate) type FxHashMap<K, V> = rustc_hash::FxHashMap<K, V>;

/// The message of a caught panic, for errors and incidents.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<&str>() {
        (*message).to_owned()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "a panic with a non-string payload".to_owned()
    }
}

/// Locks `mutex`, recovering it if a panic poisoned it. Plugin code runs under a panic
/// guard before it can poison a host lock mid-update, so a poisoned lock still holds
/// consistent data.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
