//! Small futures for the async tests: one that suspends once, and a gate that futures
//! wait on until the test opens it. No executor: they work under `patchpanel::blocking::block_on`.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll, Waker};

/// Returns `Pending` once (waking itself), so that a handler really suspends.
pub struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, task: &mut TaskContext<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        task.waker().wake_by_ref();
        Poll::Pending
    }
}

/// A future that suspends once before it completes.
pub fn yield_once() -> YieldOnce {
    YieldOnce(false)
}

/// A gate that handlers wait on until the test opens it.
#[derive(Clone, Default)]
pub struct Gate(Arc<Mutex<(bool, Vec<Waker>)>>);

impl Gate {
    /// Opens the gate and wakes every waiting future.
    pub fn open(&self) {
        let mut state = self.0.lock().unwrap();
        state.0 = true;
        for waker in state.1.drain(..) {
            waker.wake();
        }
    }
    /// A future that completes once the gate is open.
    pub fn wait(&self) -> GateWait {
        GateWait(self.clone())
    }
}

/// The future of [`Gate::wait`].
pub struct GateWait(Gate);

impl Future for GateWait {
    type Output = ();
    fn poll(self: Pin<&mut Self>, task: &mut TaskContext<'_>) -> Poll<()> {
        let mut state = (self.0).0.lock().unwrap();
        if state.0 {
            Poll::Ready(())
        } else {
            state.1.push(task.waker().clone());
            Poll::Pending
        }
    }
}
