//! Helpers shared by every layer: the hash map of the frozen tables, panic messages and
//! lock recovery. A leaf: it depends on nothing else in the crate.

use std::any::Any;
use std::sync::{Mutex, MutexGuard};

/// A hash map with rustc's Fx hash, for tables keyed by `TypeId`s and ids that the
/// plugins compiled into the binary chose. Hash flooding is not a concern for trusted
/// keys, so SipHash's cost is not needed.
pub(crate) type FxHashMap<K, V> = rustc_hash::FxHashMap<K, V>;

/// A hash set with rustc's Fx hash, as [`FxHashMap`].
pub(crate) type FxHashSet<T> = rustc_hash::FxHashSet<T>;

/// Whether two strings are equal, in a `const fn` (where `==` on `str` is not
/// available): the compile-time checks of permissions, of `#[subscribe]`'s crate and of
/// `link_plugins!` compare ids and names with it.
pub(crate) const fn same_str(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut index = 0;
    while index < a.len() {
        if a[index] != b[index] {
            return false;
        }
        index += 1;
    }
    true
}

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

/// Runs `f`, turning a panic into `Err` with its message and location, without the
/// panic hook printing it: for third-party code whose panics the caller reports as a
/// typed error of its own (redb panics on some corrupt files in debug builds).
///
/// The first call installs a panic hook that stays silent on threads inside this function
/// and hands every other panic to the hook that was installed before it.
#[cfg(feature = "redb")]
pub(crate) fn catch_quietly<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    use std::cell::{Cell, RefCell};
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::sync::Once;

    thread_local! {
        static QUIET: Cell<bool> = const { Cell::new(false) };
        static CAUGHT: RefCell<Option<String>> = const { RefCell::new(None) };
    }
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if QUIET.with(Cell::get) {
                let message = panic_message(info.payload());
                let text = match info.location() {
                    Some(at) => format!("{message} (at {}:{})", at.file(), at.line()),
                    None => message.to_owned(),
                };
                CAUGHT.with(|caught| *caught.borrow_mut() = Some(text));
            } else {
                previous(info);
            }
        }));
    });
    let was_quiet = QUIET.with(|quiet| quiet.replace(true));
    let result = catch_unwind(AssertUnwindSafe(f));
    QUIET.with(|quiet| quiet.set(was_quiet));
    result.map_err(|payload| {
        CAUGHT
            .with(|caught| caught.borrow_mut().take())
            .unwrap_or_else(|| panic_message(payload.as_ref()))
    })
}

/// How much of a caller's string an error message quotes.
pub(crate) const QUOTE_MAX_CHARS: usize = 80;

/// A caller's string as an error message quotes it, in backticks: whole when short,
/// otherwise its first [`QUOTE_MAX_CHARS`] characters and how long it was, so that a
/// 4 MB id does not make a 4 MB message. The error value keeps the whole string.
pub(crate) struct Quoted<'a>(pub(crate) &'a str);

impl std::fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.char_indices().nth(QUOTE_MAX_CHARS) {
            None => write!(f, "`{}`", self.0),
            Some((end, _)) => write!(f, "`{}…` ({} bytes)", &self.0[..end], self.0.len()),
        }
    }
}

/// How much of a third party's message (serde's, which may quote the input) an error
/// message keeps.
pub(crate) const CLIP_MAX_CHARS: usize = 200;

/// A message cut at [`CLIP_MAX_CHARS`] characters, saying how long it was.
pub(crate) struct Clipped<'a>(pub(crate) &'a str);

impl std::fmt::Display for Clipped<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.char_indices().nth(CLIP_MAX_CHARS) {
            None => f.write_str(self.0),
            Some((end, _)) => write!(f, "{}… ({} bytes in all)", &self.0[..end], self.0.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_quotes_are_cut_and_say_how_long_they_were() {
        assert_eq!(Quoted("kv-store:get").to_string(), "`kv-store:get`");
        let long = "é".repeat(100);
        assert_eq!(Quoted(&long).to_string(), format!("`{}…` (200 bytes)", "é".repeat(80)));
    }
}
