//! The blocking bridge: [`block_on`] waits for a future on the calling thread, for
//! synchronous code (a CLI, a test, `main`) that calls an async command.

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;
use std::time::Instant;

/// Runs `future` to completion on this thread, parking it while the future waits.
///
/// This is for code that runs outside any async runtime. Inside one (a tokio task, an
/// axum handler) await the future instead: blocking a runtime's worker thread stalls
/// every task scheduled on it, and a future that needs that runtime's reactor (a tokio
/// socket or timer) would never be woken here. The core does not detect a runtime, since
/// it depends on none by default; [`try_block_on`] with feature `tokio` does.
///
/// ```
/// let answer = patchpanel::blocking::block_on(async { 6 * 7 });
/// assert_eq!(answer, 42);
/// ```
pub fn block_on<F: Future>(future: F) -> F::Output {
    match drive(future, None) {
        Some(output) => output,
        None => unreachable!("a drive without a deadline only returns with the output"),
    }
}

/// Runs `future` on this thread until it completes or `until` passes. At the deadline
/// the future is dropped, which cancels it (its destructors run here, now), and the
/// result is `None`.
///
/// The first poll uses a no-op waker and allocates nothing, so the synchronous lifecycle
/// methods, which reach the host as futures that are ready at once, cost a poll.
pub(crate) fn drive<F: Future>(future: F, until: Option<Instant>) -> Option<F::Output> {
    let mut future = pin!(future);
    if let Poll::Ready(output) = future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        return Some(output);
    }
    // Polled again with a waker that can wake this thread: a future must accept a new
    // waker at any poll, and registers it then.
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    loop {
        match future.as_mut().poll(&mut context) {
            Poll::Ready(output) => return Some(output),
            // A wake-up that came before the park makes the park return at once.
            Poll::Pending => match until {
                None => std::thread::park(),
                Some(until) => {
                    let now = Instant::now();
                    if now >= until {
                        return None;
                    }
                    std::thread::park_timeout(until - now);
                }
            },
        }
    }
}

/// Wakes the thread that waits in [`block_on`].
struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// The caller's async runtime, carried to a thread the core starts so that code run
/// there finds it (with feature `tokio`: the tokio runtime the caller runs in).
pub(crate) struct RuntimeContext {
    #[cfg(feature = "tokio")]
    handle: Option<tokio::runtime::Handle>,
}

impl RuntimeContext {
    /// The runtime this thread runs in, if any.
    pub(crate) fn current() -> RuntimeContext {
        RuntimeContext {
            #[cfg(feature = "tokio")]
            handle: tokio::runtime::Handle::try_current().ok(),
        }
    }

    /// Enters it on this thread until the guard drops.
    pub(crate) fn enter(&self) -> impl Sized + '_ {
        #[cfg(feature = "tokio")]
        return self.handle.as_ref().map(tokio::runtime::Handle::enter);
        #[cfg(not(feature = "tokio"))]
        ()
    }
}

/// Why [`try_block_on`] refused to block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    /// The calling thread is inside an async runtime, whose other tasks blocking would
    /// stall (and whose reactor the future may need).
    #[error(
        "refused to block inside an async runtime (a tokio task or `block_on`): await the future instead, or run the blocking code with `tokio::task::spawn_blocking`"
    )]
    InsideRuntime,
}

/// [`block_on`], refused inside an async runtime: the blocking bridge for code that may
/// or may not be called from async code. Without feature `tokio` it cannot tell, and
/// always blocks.
///
/// ```
/// assert_eq!(patchpanel::blocking::try_block_on(async { 6 * 7 }), Ok(42));
/// ```
pub fn try_block_on<F: Future>(future: F) -> Result<F::Output, BlockError> {
    #[cfg(feature = "tokio")]
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(BlockError::InsideRuntime);
    }
    Ok(block_on(future))
}

/// Runs blocking `work` (a file read, a DNS lookup, a synchronous client) on a thread of
/// its own, and returns a future of its result: async code that must do blocking I/O
/// awaits it instead of blocking its executor. It needs no runtime, so a plugin's
/// [`activate_async`](crate::Plugin::activate_async) can use it whichever executor
/// drives it. A panic in `work` resumes in the task that awaits the result.
///
/// Each call starts a thread: this is for start-up work and occasional calls, not for a
/// request path. With an executor at hand, its own (`tokio::task::spawn_blocking`)
/// pools the threads. With feature `tokio`, `work` runs inside the caller's tokio
/// runtime (if it has one), so it may use tokio handles.
///
/// ```
/// let contents = patchpanel::blocking::block_on(patchpanel::blocking::unblock(|| std::fs::read_to_string("Cargo.toml")));
/// assert!(contents.unwrap().contains("[package]"));
/// ```
pub fn unblock<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Unblock<T> {
    let shared = Arc::new(Mutex::new(Handoff {
        output: None,
        waker: None,
    }));
    let theirs = Arc::clone(&shared);
    let runtime = RuntimeContext::current();
    let spawned = std::thread::Builder::new()
        .name("patchpanel-unblock".to_owned())
        .spawn(move || {
            let _entered = runtime.enter();
            let output = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
            let waker = {
                let mut handoff = crate::support::lock(&theirs);
                handoff.output = Some(output);
                handoff.waker.take()
            };
            if let Some(waker) = waker {
                waker.wake();
            }
        });
    if let Err(error) = spawned {
        crate::support::lock(&shared).output = Some(Err(Box::new(format!("no thread for unblock: {error}"))));
    }
    Unblock { shared }
}

/// The future of [`unblock`]'s result.
#[must_use = "the work runs anyway; awaiting the future is the only way to its result"]
pub struct Unblock<T> {
    shared: Arc<Mutex<Handoff<T>>>,
}

struct Handoff<T> {
    output: Option<std::thread::Result<T>>,
    waker: Option<Waker>,
}

impl<T> Future for Unblock<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, task: &mut Context<'_>) -> Poll<T> {
        let mut handoff = crate::support::lock(&self.shared);
        match handoff.output.take() {
            Some(Ok(output)) => Poll::Ready(output),
            Some(Err(panic)) => {
                drop(handoff);
                std::panic::resume_unwind(panic)
            }
            None => {
                handoff.waker = Some(task.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl<T> std::fmt::Debug for Unblock<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Unblock").finish_non_exhaustive()
    }
}
