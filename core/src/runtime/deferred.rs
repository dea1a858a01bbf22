//! Deferred answers: the future an async hook implementation, an async inbox or an
//! async service call hands back, counted as a call in flight in the plugin that
//! answers until it completes or is dropped.
//!
//! Async commands have their own [`Pending`](crate::commands::Pending), which also carries the
//! command's dispatch errors; everything else async that a plugin answers goes through
//! [`Deferred`]. The rules are the same: the answer is started inside a section that
//! found the answering plugin active, the instance's in-flight count holds it from there
//! (so `disable` waits for it and `reload` lets it finish on the old instance), and a
//! panic while it is polled is caught, audited against that plugin, and turned into the
//! answer's own failure value.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use super::inflight::{Site, Ticket};
use super::inline_future::Eventual;
use crate::support::panic_message;

/// An answer a plugin gives later: a future of `T`, counted as a call in flight in the
/// answering plugin while it is pending. It owns what it needs and can move between
/// tasks and threads; dropping it unfinished cancels the plugin's future.
///
/// A small future (as for an async command's [`Pending`](crate::commands::Pending)) is
/// kept inside it, with no allocation; a larger one is boxed. So a `Deferred` is
/// `!Unpin`: `.await` it, or pin it to poll it by hand.
///
/// Async hook implementations answer with a [`HookFuture`](crate::hooks::HookFuture)
/// (`Deferred<Option<Out>>`), and [`Deferred::all`] and [`Deferred::first`] await a
/// hook's answers in call order; async inboxes and services answer through
/// [`Call::request_async`](crate::Call::request_async) and
/// [`Service::with_async`](crate::services::Service::with_async).
#[must_use = "a deferred answer does nothing unless it is awaited"]
pub struct Deferred<T> {
    state: Eventual<T>,
}

/// The answer of an async hook implementation: `Some(out)`, or `None` to pass (and
/// also `None` when it panicked, as for a synchronous implementation). Declare an async
/// hook as `declare_hook::<Args, HookFuture<Out>>`, implement it with
/// [`Context::implement_hook_async`](crate::Context::implement_hook_async), and await
/// what [`Hook::call_all`](crate::hooks::Hook::call_all) returns with [`Deferred::all`].
pub type HookFuture<Out> = Deferred<Option<Out>>;

impl<T: Send + 'static> Deferred<T> {
    /// An answer known at once.
    pub(crate) fn ready(value: T) -> Deferred<T> {
        Deferred {
            state: Eventual::Ready(Some(value)),
        }
    }

    /// Starts `future` as the answer of the call `ticket` counts in (taken inside a
    /// section that found the answering plugin active). `on_panic(ticket, message)` is
    /// the answer when the future panics; `site` names the call in the audit record.
    pub(crate) fn start(
        ticket: Ticket,
        site: Site,
        on_panic: impl FnOnce(&Ticket, String) -> T + Send + 'static,
        future: impl Future<Output = T> + Send + 'static,
    ) -> Deferred<T> {
        let guarded = Guarded {
            future,
            ticket,
            site,
            on_panic: Some(on_panic),
        };
        Deferred {
            state: Eventual::running(guarded),
        }
    }
}

impl<Out: Send + 'static> Deferred<Option<Out>> {
    /// Awaits a hook's async answers in call order and collects the `Some`s, as
    /// [`Hook::call_all`](crate::hooks::Hook::call_all) does for synchronous ones. Each
    /// implementation's future runs only when its turn comes.
    pub async fn all(answers: Vec<Deferred<Option<Out>>>) -> Vec<Out> {
        let mut collected = Vec::with_capacity(answers.len());
        for answer in answers {
            if let Some(out) = answer.await {
                collected.push(out);
            }
        }
        collected
    }

    /// Awaits a hook's async answers in call order until one is `Some`, as
    /// [`Hook::first`](crate::hooks::Hook::first) does; the implementations after it never
    /// run (their futures are dropped unpolled).
    pub async fn first(answers: Vec<Deferred<Option<Out>>>) -> Option<Out> {
        for answer in answers {
            if let Some(out) = answer.await {
                return Some(out);
            }
        }
        None
    }
}

// A `Deferred` is `!Unpin`, as most futures are: a small future is pinned in place in
// it once polled. Pin it (`std::pin::pin!`, `Box::pin`) to poll it by hand.
impl<T> Future for Deferred<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, task: &mut TaskContext<'_>) -> Poll<T> {
        // SAFETY: `state` is pinned with `self` (structurally; it is never moved out).
        let state = unsafe { self.map_unchecked_mut(|deferred| &mut deferred.state) };
        state.poll_once(task, || panic!("a deferred answer is not polled after it completed"))
    }
}

impl<T> std::fmt::Debug for Deferred<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deferred")
            .field("state", &self.state.describe())
            .finish()
    }
}

/// The plugin's future, polled under a panic guard, counted in flight by its ticket
/// until it is dropped.
struct Guarded<Fut, F> {
    future: Fut,
    ticket: Ticket,
    site: Site,
    on_panic: Option<F>,
}

impl<T, Fut: Future<Output = T>, F: FnOnce(&Ticket, String) -> T> Future for Guarded<Fut, F> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, task: &mut TaskContext<'_>) -> Poll<T> {
        // SAFETY: `future` is never moved out of the pinned `Guarded`; no other field is
        // structurally pinned.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above.
        let future = unsafe { Pin::new_unchecked(&mut this.future) };
        match catch_unwind(AssertUnwindSafe(|| future.poll(task))) {
            Ok(polled) => polled,
            Err(payload) => {
                let message = panic_message(payload.as_ref());
                this.ticket.audit_failure(this.site, format!("panicked: {message}"));
                let on_panic = this.on_panic.take().expect("a panicked answer is not polled again");
                Poll::Ready(on_panic(&this.ticket, message))
            }
        }
    }
}
