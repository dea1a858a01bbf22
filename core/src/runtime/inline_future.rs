//! [`InlineFuture`], [`SmallFuture`] and [`Eventual`]: a plugin's small future kept in
//! the value that awaits it (an async command's [`Pending`](crate::commands::Pending), a hook's,
//! inbox's or service's [`Deferred`](crate::hooks::Deferred)), instead of in a box of its
//! own.
//!
//! A plugin's future is made by its handler's code, its type erased by the tables.
//! Boxing it costs an allocation and a free a call (about 130 instructions of the ~300
//! an async command through a handle cost, counted with callgrind). Most handlers'
//! futures are a few words (a request, a handle, the state of a short `async` block), so
//! a future that fits in [`ROOM`] bytes, at an alignment of at most 16, lives in the
//! awaiting value itself, behind a table of two functions (poll, drop); a larger one is
//! boxed as before. [`SmallFuture`] is either; which it is is decided by the future's
//! type, when it is started. [`Eventual`] is a value known now or a `SmallFuture` of it,
//! polled to the value once: the state of both awaiting values, so the pinning is
//! argued here once.
//!
//! The same idea as the `stackfuture` crate's `StackFuture`; ours is a few lines and
//! falls back to a plain box, so a large future is one indirect call a poll, not two.

use std::future::Future;
use std::marker::PhantomPinned;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The bytes a future may take to be kept inline: twelve words. The runtime adds 24
/// bytes to a handler's future (its in-flight ticket and the command's site), which
/// leaves 72 for the handler's own: an `AsyncCall` (16), a `String` request (24) and
/// the state of a short `async` block around them. Each byte more costs about 0.4
/// instructions a call in moves (64 bytes: 175 a call; 96: 188; 128: 202), so the room
/// is not larger.
pub(crate) const ROOM: usize = 96;

/// The storage, aligned for any future of alignment up to 16.
#[repr(C, align(16))]
struct Room([MaybeUninit<u8>; ROOM]);

/// What an [`InlineFuture`] does with the future in its room, by the future's type.
struct VTable<T> {
    poll: unsafe fn(*mut u8, &mut Context<'_>) -> Poll<T>,
    drop: unsafe fn(*mut u8),
}

/// A future of at most [`ROOM`] bytes, stored in place. It is `!Unpin`: once polled it
/// stays where it is until it is dropped, as a pinned future must.
pub(crate) struct InlineFuture<T> {
    room: Room,
    /// A static table, made for the future's type. A pointer rather than a reference so
    /// that `T` need not be `'static` where the type is named; it also leaves the type
    /// `!Sync` (a `Box<dyn Future + Send>` is not `Sync` either) and `Send` only by the
    /// impl below.
    vtable: *const VTable<T>,
    /// Pinned in place once polled.
    _pinned: PhantomPinned,
}

impl<T> InlineFuture<T> {
    /// Whether a future of type `F` fits: its size and its alignment.
    pub(crate) const fn fits<F>() -> bool {
        size_of::<F>() <= ROOM && align_of::<F>() <= align_of::<Room>()
    }

    /// Keeps `future` inline, or hands it back when it does not [fit](InlineFuture::fits)
    /// (a test of its type, folded away when the caller compiles).
    #[inline(always)]
    pub(crate) fn new<F: Future<Output = T> + Send + 'static>(future: F) -> Result<InlineFuture<T>, F> {
        if !Self::fits::<F>() {
            return Err(future);
        }
        let mut room = Room([MaybeUninit::uninit(); ROOM]);
        // SAFETY: `F` fits the room's size and alignment (tested above).
        unsafe { room.0.as_mut_ptr().cast::<F>().write(future) };
        Ok(InlineFuture {
            room,
            vtable: const {
                &VTable {
                    poll: poll_raw::<F>,
                    drop: drop_raw::<F>,
                }
            },
            _pinned: PhantomPinned,
        })
    }
}

/// Polls the `F` at `future`.
///
/// # Safety
/// `future` holds a live `F` that stays where it is until it is dropped.
unsafe fn poll_raw<F: Future>(future: *mut u8, task: &mut Context<'_>) -> Poll<F::Output> {
    // SAFETY: the caller's contract.
    unsafe { Pin::new_unchecked(&mut *future.cast::<F>()) }.poll(task)
}

/// Drops the `F` at `future` in place.
///
/// # Safety
/// `future` holds a live `F`, not used again.
unsafe fn drop_raw<F>(future: *mut u8) {
    // SAFETY: the caller's contract.
    unsafe { future.cast::<F>().drop_in_place() }
}

// SAFETY: every future put in an `InlineFuture` is `Send` (`InlineFuture::new`'s bound);
// the vtable is immutable static data.
unsafe impl<T> Send for InlineFuture<T> {}

impl<T> Future for InlineFuture<T> {
    type Output = T;

    #[inline]
    fn poll(self: Pin<&mut Self>, task: &mut Context<'_>) -> Poll<T> {
        // SAFETY: the room is pinned with `self` (the type is `!Unpin`), and holds the
        // live future its vtable (a static) was made for until `drop`.
        unsafe {
            let this = self.get_unchecked_mut();
            ((*this.vtable).poll)(this.room.0.as_mut_ptr().cast(), task)
        }
    }
}

impl<T> Drop for InlineFuture<T> {
    fn drop(&mut self) {
        // SAFETY: the room holds the live future its vtable (a static) was made for;
        // dropped here, in place, once.
        unsafe { ((*self.vtable).drop)(self.room.0.as_mut_ptr().cast()) }
    }
}

/// A plugin's future with its type erased: kept inline when it
/// [fits](InlineFuture::fits), boxed when it does not. What a
/// [`Pending`](crate::commands::Pending) or a [`Deferred`](crate::hooks::Deferred) holds
/// while the plugin's future runs. `!Unpin`, as its inline variant is.
pub(crate) enum SmallFuture<T> {
    /// In place.
    Inline(InlineFuture<T>),
    /// In a box of its own.
    Boxed(Pin<Box<dyn Future<Output = T> + Send>>),
}

impl<T> SmallFuture<T> {
    /// Keeps `future` inline when its type fits, else boxes it.
    #[inline(always)]
    pub(crate) fn new<F: Future<Output = T> + Send + 'static>(future: F) -> SmallFuture<T> {
        match InlineFuture::new(future) {
            Ok(inline) => SmallFuture::Inline(inline),
            Err(large) => SmallFuture::Boxed(Box::pin(large)),
        }
    }
}

impl<T> Future for SmallFuture<T> {
    type Output = T;

    #[inline]
    fn poll(self: Pin<&mut Self>, task: &mut Context<'_>) -> Poll<T> {
        // SAFETY: the inline variant is pinned with `self` (structurally: it is never
        // moved out while `self` is pinned, only dropped in place); the boxed one is
        // pinned in its box.
        match unsafe { self.get_unchecked_mut() } {
            SmallFuture::Inline(future) => unsafe { Pin::new_unchecked(future) }.poll(task),
            SmallFuture::Boxed(future) => future.as_mut().poll(task),
        }
    }
}

/// A value known now, or the [`SmallFuture`] of it: the state of a
/// [`Pending`](crate::commands::Pending) and of a [`Deferred`](crate::hooks::Deferred).
/// Polled, it gives its value once ([`Eventual::poll_once`]); the future is dropped in
/// place as soon as it completes, so what it holds (a call's count in flight) goes then,
/// not when the awaiting value is dropped.
pub(crate) enum Eventual<T> {
    /// Known; `None` once given.
    Ready(Option<T>),
    /// The plugin's future, running: in place when it is small, else boxed.
    Running(SmallFuture<T>),
}

impl<T> Eventual<T> {
    /// `future`'s value, later: kept inline when its type fits, boxed when it does not.
    #[inline(always)]
    pub(crate) fn running<F: Future<Output = T> + Send + 'static>(future: F) -> Eventual<T> {
        Eventual::Running(SmallFuture::new(future))
    }

    /// The value, once; polled again after it was given, `given()` (what a poll after
    /// completion answers for the holder).
    #[inline(always)]
    pub(crate) fn poll_once(self: Pin<&mut Self>, task: &mut Context<'_>, given: impl FnOnce() -> T) -> Poll<T> {
        // SAFETY: the running `SmallFuture` is pinned with `self` (structurally): it is
        // polled where it is and dropped there, by the assignment below, which drops the
        // old state in place. A ready value is not pinned and is only moved out.
        let this = unsafe { self.get_unchecked_mut() };
        match this {
            Eventual::Ready(value) => Poll::Ready(value.take().unwrap_or_else(given)),
            Eventual::Running(future) => {
                // SAFETY: as above.
                let polled = unsafe { Pin::new_unchecked(future) }.poll(task);
                if polled.is_ready() {
                    // The plugin's future (and what it holds) goes now.
                    *this = Eventual::Ready(None);
                }
                polled
            }
        }
    }

    /// `ready`, `done` (given) or `running`, for `Debug`.
    pub(crate) fn describe(&self) -> &'static str {
        match self {
            Eventual::Ready(Some(_)) => "ready",
            Eventual::Ready(None) => "done",
            Eventual::Running(_) => "running",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Waker;

    /// Counts its drops; polls ready with its value on the second poll, so that a test
    /// sees it polled in place twice.
    struct Twice {
        value: u64,
        polled: bool,
        drops: Arc<AtomicUsize>,
        /// Where the first poll saw it: the second must see the same address.
        at: usize,
    }

    /// A `Twice` of `value`, not polled yet, counting its drops in `drops`.
    fn twice(value: u64, drops: &Arc<AtomicUsize>) -> Twice {
        Twice {
            value,
            polled: false,
            drops: Arc::clone(drops),
            at: 0,
        }
    }

    impl Future for Twice {
        type Output = u64;
        fn poll(self: Pin<&mut Self>, task: &mut Context<'_>) -> Poll<u64> {
            // SAFETY: nothing is moved out.
            let this = unsafe { self.get_unchecked_mut() };
            let here = this as *mut Twice as usize;
            if !this.polled {
                this.polled = true;
                this.at = here;
                task.waker().wake_by_ref();
                return Poll::Pending;
            }
            assert_eq!(this.at, here, "an inline future moved between polls");
            Poll::Ready(this.value)
        }
    }

    impl Drop for Twice {
        fn drop(&mut self) {
            self.drops.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_future_is_polled_in_place_and_dropped_once() {
        assert!(InlineFuture::<u64>::fits::<Twice>());
        let drops = Arc::new(AtomicUsize::new(0));
        let Ok(future) = InlineFuture::new(twice(42, &drops)) else {
            panic!("a small future fits");
        };
        {
            let mut future = std::pin::pin!(future);
            let mut task = Context::from_waker(Waker::noop());
            assert_eq!(future.as_mut().poll(&mut task), Poll::Pending);
            assert_eq!(future.as_mut().poll(&mut task), Poll::Ready(42));
            assert_eq!(drops.load(Ordering::SeqCst), 0);
        }
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    }

    /// An eventual value is given once, its future dropped in place the moment it
    /// completes (before the holder is), and a poll after that answers what the holder
    /// says; one known at once is given at the first poll.
    #[test]
    fn an_eventual_value_is_given_once_and_its_future_dropped_when_it_completes() {
        let drops = Arc::new(AtomicUsize::new(0));
        let eventual = Eventual::running(twice(7, &drops));
        assert_eq!(eventual.describe(), "running");
        let mut eventual = std::pin::pin!(eventual);
        let mut task = Context::from_waker(Waker::noop());
        assert_eq!(eventual.as_mut().poll_once(&mut task, || 0), Poll::Pending);
        assert_eq!(drops.load(Ordering::SeqCst), 0);
        assert_eq!(eventual.as_mut().poll_once(&mut task, || 0), Poll::Ready(7));
        assert_eq!(drops.load(Ordering::SeqCst), 1, "dropped as it completed");
        assert_eq!(eventual.describe(), "done");
        assert_eq!(eventual.as_mut().poll_once(&mut task, || 99), Poll::Ready(99));
        assert_eq!(drops.load(Ordering::SeqCst), 1);

        let mut known = std::pin::pin!(Eventual::Ready(Some(5_u64)));
        assert_eq!(known.describe(), "ready");
        assert_eq!(known.as_mut().poll_once(&mut task, || 0), Poll::Ready(5));
        assert_eq!(known.as_mut().poll_once(&mut task, || 1), Poll::Ready(1));
    }

    #[test]
    fn an_unpolled_future_is_dropped_once() {
        let drops = Arc::new(AtomicUsize::new(0));
        let future = InlineFuture::new(twice(1, &drops));
        assert!(future.is_ok());
        drop(future);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_small_future_is_inline_and_a_large_one_boxed() {
        assert!(matches!(
            SmallFuture::new(std::future::ready(1_u64)),
            SmallFuture::Inline(_)
        ));
        let large = SmallFuture::new(std::future::ready([7_u8; ROOM + 1]));
        assert!(matches!(large, SmallFuture::Boxed(_)));
        assert_eq!(crate::block::block_on(large), [7_u8; ROOM + 1]);
        assert_eq!(crate::block::block_on(SmallFuture::new(std::future::ready(3_u8))), 3);
    }

    #[test]
    fn what_fits_is_decided_by_size_and_alignment() {
        assert!(InlineFuture::<()>::fits::<[u8; ROOM]>());
        assert!(!InlineFuture::<()>::fits::<[u8; ROOM + 1]>());
        #[repr(align(32))]
        struct Wide;
        assert!(!InlineFuture::<()>::fits::<Wide>());
        #[repr(align(16))]
        struct Sixteen;
        assert!(InlineFuture::<()>::fits::<Sixteen>());
        // One that does not fit comes back whole.
        let large = std::future::ready([7u8; ROOM + 1]);
        match InlineFuture::new(large) {
            Ok(_) => panic!("a future of ROOM + 1 bytes was kept inline"),
            Err(back) => assert_eq!(crate::block::block_on(back), [7u8; ROOM + 1]),
        }
    }
}
