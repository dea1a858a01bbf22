//! Async commands: handlers that return futures, and the dispatch that awaits them.
//!
//! An async command is registered with [`Context::command_async`](crate::Context::command_async).
//! Inside the runtime it is a command like any other whose response is a [`Pending`]:
//! the lookup, the lazy wake-up, the state check, the application's guards and the
//! middleware chain all run synchronously, at the moment of the call, exactly as for a
//! synchronous command; the handler then starts its future and the call returns it.
//! Awaiting it runs the handler to completion, on whatever executor the caller uses:
//! the core depends on none.
//!
//! - **Quiescence.** The call is counted in its plugin instance's in-flight count
//!   ([`InFlight`]) from the state check until its future completes or is dropped.
//!   `disable` and shutdown wait for the count to drain before deactivating; `reload`
//!   switches new calls to the new instance at once and deactivates the old instance
//!   when the calls it was serving have finished.
//! - **Middleware** runs before the handler's future starts. It sees and may change the
//!   request, and may reject the call; the response it sees is the [`Pending`] future
//!   (`invocation.response::<Pending<Resp>>()`), not the value the future resolves to.
//! - **Failures.** A handler's error and a panic while its future is polled become the
//!   same [`DispatchErrorKind::Handler`] and [`DispatchErrorKind::Panicked`] errors as
//!   for a synchronous command, and are audited the same way.
//! - **Synchronous callers** of an async command get [`DispatchErrorKind::Asynchronous`],
//!   which names the async way in; [`crate::blocking::block_on`] is the blocking bridge for code
//!   outside any async runtime.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{CommandEntry, DispatchError, DispatchErrorKind, Metadata, entered, run};
use crate::error::PluginError;
use crate::permissions::CommandsExecute;
use crate::runtime::inflight::{Anchor, Site, Ticket};
use crate::runtime::inline_future::Eventual;
use crate::runtime::{Call, RawCall};
use crate::support::panic_message;

/// A boxed future that can move between threads, as async handlers return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The result of an async command, to be awaited: it owns what it needs (no borrow of
/// the host), so it can be sent to another task or thread.
///
/// While it is pending, the command's plugin instance counts the call as in flight:
/// disabling the plugin waits for it, and a reload lets it finish on the old instance.
/// Dropping it unfinished ends the call (the handler's future is dropped).
///
/// A handler's future of up to 72 bytes is kept inside it, with no allocation; a larger
/// one is boxed. So a `Pending` is `!Unpin`, as most futures are: `.await` it, or pin it
/// (`std::pin::pin!`, `Box::pin`) to poll it by hand.
#[must_use = "a pending command does nothing unless it is awaited"]
pub struct Pending<Resp> {
    state: Eventual<Result<Resp, DispatchError>>,
}

impl<Resp> Pending<Resp> {
    /// A result known at once: a synchronous command run through the async way in, or a
    /// dispatch that failed before any handler ran.
    pub(crate) fn ready(result: Result<Resp, DispatchError>) -> Pending<Resp> {
        Pending {
            state: Eventual::Ready(Some(result)),
        }
    }

    /// A handler's future: kept inline when its type fits, boxed when it does not.
    #[inline(always)]
    fn running<F>(future: F) -> Pending<Resp>
    where
        F: Future<Output = Result<Resp, DispatchError>> + Send + 'static,
    {
        Pending {
            state: Eventual::running(future),
        }
    }

    /// Maps the eventual response.
    fn map<T: 'static>(self, map: impl FnOnce(Resp) -> Result<T, DispatchError> + Send + 'static) -> Pending<T>
    where
        Resp: Send + 'static,
    {
        match self.state {
            Eventual::Ready(Some(result)) => Pending::ready(result.and_then(map)),
            Eventual::Ready(None) => Pending::ready(Err(polled_after_completion())),
            running @ Eventual::Running(_) => {
                let future = Pending { state: running };
                Pending::running(async move { future.await.and_then(map) })
            }
        }
    }
}

// A `Pending` is `!Unpin`, as most futures are: an inline future is pinned in place
// once polled. Pin it (`std::pin::pin!`, `Box::pin`) to poll it by hand; `.await` does.
impl<Resp> Future for Pending<Resp> {
    type Output = Result<Resp, DispatchError>;

    fn poll(self: Pin<&mut Self>, task: &mut TaskContext<'_>) -> Poll<Self::Output> {
        // SAFETY: `state` is pinned with `self` (structurally; it is never moved out).
        let state = unsafe { self.map_unchecked_mut(|pending| &mut pending.state) };
        state.poll_once(task, || Err(polled_after_completion()))
    }
}

impl<Resp> std::fmt::Debug for Pending<Resp> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("state", &self.state.describe())
            .finish()
    }
}

#[cold]
fn polled_after_completion() -> DispatchError {
    DispatchError::from(DispatchErrorKind::NoResponse {
        command: "(a pending command polled again after it completed)".to_owned(),
    })
}

/// What every call of one async command shares, made once at registration: the
/// instance's in-flight count (which also keeps alive the runtime, for the handler's
/// [`AsyncCall`](crate::AsyncCall) and for auditing its failures) and the command's
/// site there (its id).
pub(crate) struct AsyncCommand {
    anchor: Anchor,
    site: Site,
}

impl AsyncCommand {
    pub(crate) fn new(anchor: Anchor, command: &str) -> AsyncCommand {
        let site = anchor.site(command.to_owned());
        AsyncCommand { anchor, site }
    }
}

/// Wraps an async handler as the synchronous handler the tables hold: it counts the
/// call in flight, starts the future, and returns it as a [`Pending`] that audits and
/// converts its failures.
pub(crate) fn start<Req, Resp, Fut>(
    command: AsyncCommand,
    handler: impl Fn(&RawCall<'_>, Anchor, Req) -> Fut + Send + Sync + 'static,
) -> impl Fn(&RawCall<'_>, Req) -> Result<Pending<Resp>, PluginError> + Send + Sync + 'static
where
    Req: Send + 'static,
    Resp: Send + 'static,
    Fut: Future<Output = Result<Resp, PluginError>> + Send + 'static,
{
    move |call: &RawCall<'_>, request: Req| {
        // Inside the section that found the plugin active: a lifecycle change that
        // waits for the sections is ordered after this count. If the handler panics
        // while making its future, the ticket leaves as the panic unwinds. The hold is
        // the handler's `AsyncCall`'s, taken with the ticket.
        let (ticket, hold) = command.anchor.arrive_held();
        let future = handler(call, hold, request);
        Ok(Pending::running(Awaited {
            future,
            ticket,
            site: command.site,
        }))
    }
}

/// A handler's future, polled under a panic guard, with its failures audited and turned
/// into dispatch errors as a synchronous handler's are; counted in flight by its ticket
/// until it is dropped.
struct Awaited<Fut> {
    future: Fut,
    ticket: Ticket,
    site: Site,
}

impl<Resp, Fut: Future<Output = Result<Resp, PluginError>>> Future for Awaited<Fut> {
    type Output = Result<Resp, DispatchError>;

    fn poll(self: Pin<&mut Self>, task: &mut TaskContext<'_>) -> Poll<Self::Output> {
        // SAFETY: `future` is never moved out of the pinned `Awaited`; the other fields
        // are not structurally pinned.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above, `future` stays where it is for as long as `self` is pinned.
        let future = unsafe { Pin::new_unchecked(&mut this.future) };
        match catch_unwind(AssertUnwindSafe(|| future.poll(task))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(Ok(response))) => Poll::Ready(Ok(response)),
            Ok(Poll::Ready(Err(error))) => Poll::Ready(Err(this.handler_error(error))),
            Err(payload) => Poll::Ready(Err(this.panicked(payload.as_ref()))),
        }
    }
}

impl<Fut> Awaited<Fut> {
    #[cold]
    fn handler_error(&self, source: PluginError) -> DispatchError {
        let command = self.ticket.site_name(self.site);
        self.ticket.runtime().audit_failure(
            self.ticket.owner(),
            format!("command {command}"),
            crate::error::error_chain(&source),
        );
        DispatchError::from(DispatchErrorKind::Handler {
            command,
            plugin: self.ticket.plugin_id().to_owned(),
            source,
        })
    }

    #[cold]
    fn panicked(&self, payload: &(dyn std::any::Any + Send)) -> DispatchError {
        let command = self.ticket.site_name(self.site);
        let message = panic_message(payload);
        self.ticket.runtime().audit_failure(
            self.ticket.owner(),
            format!("command {command}"),
            format!("panicked: {message}"),
        );
        DispatchError::from(DispatchErrorKind::Panicked {
            command,
            plugin: self.ticket.plugin_id().to_owned(),
            message: message.to_string(),
        })
    }
}

/// The JSON way into an async command: decode, start, and encode the response when it
/// comes.
pub(super) fn json_adapter<Req, Resp>(
    call: &RawCall<'_>,
    entry: &CommandEntry,
    request: serde_json::Value,
    metadata: Metadata<'_>,
) -> Result<Pending<serde_json::Value>, DispatchError>
where
    Req: DeserializeOwned + 'static,
    Resp: Serialize + Send + 'static,
{
    // The request's and response's serde impls are the plugin's code: a panic in either
    // is the command's, as a panic in its handler is.
    let request: Req = super::contained(call, entry, || super::decode(entry, request))?;
    let pending: Pending<Resp> = run(call, entry, entry.handler::<Req, Pending<Resp>>()?, request, metadata)?;
    let (runtime, owner, command) = (call.runtime.shared(), entry.owner, entry.id.clone());
    Ok(pending.map(move |response| {
        catch_unwind(AssertUnwindSafe(|| super::encode(&command, &response)))
            .unwrap_or_else(|payload| Err(super::panicked_in(&runtime, &command, owner, "", payload.as_ref())))
    }))
}

/// Dispatching async commands. Each method runs the dispatch at once and returns a
/// [`Pending`] that owns everything it needs; a synchronous command given to them runs
/// at once and its result is ready.
impl<P> Call<'_, P> {
    /// Runs a command by id, the async way: an async command's future, or a synchronous
    /// command's result, to be awaited.
    pub fn execute_async<Req: 'static, Resp: Send + 'static>(&self, id: &str, request: Req) -> Pending<Resp>
    where
        P: CommandsExecute,
    {
        self.execute_async_with(id, request, &[])
    }

    /// [`Call::execute_async`] with metadata for middleware.
    pub fn execute_async_with<Req: 'static, Resp: Send + 'static>(
        &self,
        id: &str,
        request: Req,
        metadata: Metadata<'_>,
    ) -> Pending<Resp>
    where
        P: CommandsExecute,
    {
        let () = crate::permissions::Proof::<P>::COMMANDS_EXECUTE;
        let call = &self.raw;
        let started = entered(call, id, |entry| {
            if entry.asynchronous {
                run(call, entry, entry.handler::<Req, Pending<Resp>>()?, request, metadata)
            } else {
                run(call, entry, entry.handler::<Req, Resp>()?, request, metadata)
                    .map(|response| Pending::ready(Ok(response)))
            }
        });
        started.unwrap_or_else(|error| Pending::ready(Err(error)))
    }

    /// Runs a command with a JSON request and response, the async way.
    pub fn execute_json_async(&self, id: &str, request: serde_json::Value) -> Pending<serde_json::Value>
    where
        P: CommandsExecute,
    {
        self.execute_json_async_with(id, request, &[])
    }

    /// [`Call::execute_json_async`] with metadata for middleware: the way in of a
    /// server, which turns request headers into metadata.
    pub fn execute_json_async_with(
        &self,
        id: &str,
        request: serde_json::Value,
        metadata: Metadata<'_>,
    ) -> Pending<serde_json::Value>
    where
        P: CommandsExecute,
    {
        let () = crate::permissions::Proof::<P>::COMMANDS_EXECUTE;
        let call = &self.raw;
        let started = entered(call, id, |entry| match entry.json_async {
            Some(adapter) => adapter(call, entry, request, metadata),
            None => (entry.json)(call, entry, request, metadata).map(|response| Pending::ready(Ok(response))),
        });
        started.unwrap_or_else(|error| Pending::ready(Err(error)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::inline_future::{InlineFuture, ROOM};

    /// A future of `N` words, ready at once.
    struct Words<const N: usize>(#[allow(dead_code)] [usize; N]);

    impl<const N: usize> Future for Words<N> {
        type Output = Result<u8, PluginError>;
        fn poll(self: Pin<&mut Self>, _: &mut TaskContext<'_>) -> Poll<Self::Output> {
            Poll::Ready(Ok(0))
        }
    }

    /// What `InlineFuture`'s documentation promises a handler: its own future of up to
    /// 72 bytes is kept inline (the runtime adds a ticket and a site, 24 bytes).
    #[test]
    fn a_handler_future_of_72_bytes_is_kept_inline_and_one_of_80_is_boxed() {
        assert_eq!(ROOM, 96);
        assert!(InlineFuture::<()>::fits::<Awaited<Words<9>>>());
        assert!(!InlineFuture::<()>::fits::<Awaited<Words<10>>>());
    }
}
