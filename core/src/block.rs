//! The blocking bridge: [`block_on`] waits for a future on the calling thread, for
//! synchronous code (a CLI, a test, `main`) that calls an async command.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;

/// Runs `future` to completion on this thread, parking it while the future waits.
///
/// This is for code that runs outside any async runtime. Inside one (a tokio task, an
/// axum handler) await the future instead: blocking a runtime's worker thread stalls
/// every task scheduled on it, and a future that needs that runtime's reactor (a tokio
/// socket or timer) would never be woken here. The core does not detect a runtime, since
/// it depends on none.
///
/// ```
/// let answer = patchpanel::block_on(async { 6 * 7 });
/// assert_eq!(answer, 42);
/// ```
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    loop {
        match future.as_mut().poll(&mut context) {
            Poll::Ready(output) => return output,
            // A wake-up that came before the park makes the park return at once.
            Poll::Pending => std::thread::park(),
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
