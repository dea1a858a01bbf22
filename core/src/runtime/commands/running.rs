//! Running an entered, active command: its handler under a panic guard, or its guards,
//! observation and middleware chain, which is entered once (behind the armed dispatch
//! gate, or into each layer's plugin) and reaches the typed request, response and
//! handler through [`chain::Ends`].

use std::any::Any;
use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr::NonNull;

use super::chain::{self, Invocation, MiddlewareEntry};
use super::typed_middleware::Target;
use super::{
    CommandEntry, DispatchError, DispatchErrorKind, DynHandler, Metadata, guard_down, handler_error, handler_panic,
    refused,
};
use crate::lifecycle::State;
use crate::runtime::quiescence;
use crate::runtime::{RawCall, Refused};

/// Runs an entered, active command: directly when it has no middleware and nothing
/// observes it, through the chain otherwise.
#[inline(always)]
pub(super) fn run<Req: 'static, Resp: 'static>(
    call: &RawCall<'_>,
    entry: &CommandEntry,
    handler: &DynHandler<Req, Resp>,
    request: Req,
    metadata: Metadata<'_>,
) -> Result<Resp, DispatchError> {
    // Commands with nothing to observe and no middleware take the direct path.
    if entry.direct {
        return call_handler(call, entry, handler, request);
    }
    dispatch_through_chain(call, entry, handler, request, metadata)
}

/// Runs the handler on behalf of its plugin, under a panic guard.
#[inline(always)]
pub(super) fn call_handler<Req, Resp>(
    call: &RawCall<'_>,
    entry: &CommandEntry,
    handler: &DynHandler<Req, Resp>,
    request: Req,
) -> Result<Resp, DispatchError> {
    let inner = call.enter(entry.owner);
    match catch_unwind(AssertUnwindSafe(|| handler(&inner, request))) {
        Ok(Ok(response)) => Ok(response),
        Ok(Err(error)) => Err(handler_error(call, entry, error)),
        Err(payload) => Err(handler_panic(call, entry, None, payload.as_ref())),
    }
}

/// A command with guards, middleware, metrics or spans: its guards are checked first,
/// then the chain runs (in a span carrying the plugin and command when spans are on)
/// under one panic guard, which knows which layer was running.
#[inline(never)]
pub(super) fn dispatch_through_chain<Req: 'static, Resp: 'static>(
    call: &RawCall<'_>,
    entry: &CommandEntry,
    handler: &DynHandler<Req, Resp>,
    request: Req,
    metadata: Metadata<'_>,
) -> Result<Resp, DispatchError> {
    for guard in &entry.guards {
        match guard.position {
            Some(position) => {
                let state = call.runtime.plugin(position).state();
                if state != State::Active {
                    return Err(guard_down(call.runtime, &entry.id, position, state));
                }
            }
            None => {
                return Err(DispatchError::from(DispatchErrorKind::GuardDown {
                    command: entry.id.clone(),
                    guard: guard.plugin.to_string(),
                    state: None,
                    failure: None,
                }));
            }
        }
    }
    if entry.traced || entry.metered {
        return run_observed(call, entry, handler, request, metadata);
    }
    run_chain(call, entry, handler, request, metadata)
}

/// [`run_chain`] in a span carrying the plugin and command, or timed for metrics: kept
/// out of line, so that an unobserved chain carries no span to drop.
#[inline(never)]
fn run_observed<Req: 'static, Resp: 'static>(
    call: &RawCall<'_>,
    entry: &CommandEntry,
    handler: &DynHandler<Req, Resp>,
    request: Req,
    metadata: Metadata<'_>,
) -> Result<Resp, DispatchError> {
    let _span = entry.traced.then(|| {
        tracing::debug_span!(
            "patchpanel.dispatch",
            command = %entry.id,
            plugin = call.runtime.plugin_id(entry.owner)
        )
        .entered()
    });
    let started = entry.metered.then(std::time::Instant::now);
    let result = run_chain(call, entry, handler, request, metadata);
    if let Some(started) = started {
        record_command(call, entry, started, result.is_ok());
    }
    result
}

#[cold]
fn record_command(call: &RawCall<'_>, entry: &CommandEntry, started: std::time::Instant, ok: bool) {
    let plugin = call.runtime.plugin_id(entry.owner).to_owned();
    let labels = [("plugin", plugin), ("command", entry.id.clone())];
    ::metrics::counter!("patchpanel_commands_total", &labels).increment(1);
    ::metrics::histogram!("patchpanel_command_seconds", &labels).record(started.elapsed().as_secs_f64());
    if !ok {
        ::metrics::counter!("patchpanel_command_errors_total", &labels).increment(1);
    }
}

#[inline]
pub(super) fn run_chain<Req: 'static, Resp: 'static>(
    call: &RawCall<'_>,
    entry: &CommandEntry,
    handler: &DynHandler<Req, Resp>,
    request: Req,
    metadata: Metadata<'_>,
) -> Result<Resp, DispatchError> {
    if entry.middleware.is_empty() {
        return call_handler(call, entry, handler, request);
    }
    let runtime = call.runtime;
    // Behind the armed gate, every layer's plugin is active and a disable waits for this
    // entry; otherwise every layer's plugin is entered, and checked at its turn.
    let gate = runtime.gate();
    let (chain_entered, planned) = match quiescence::enter(gate.key()) {
        Ok(inside) if gate.is_armed() => (inside, true),
        Ok(inside) => {
            drop(inside);
            match quiescence::enter_each(entry.middleware.layers(), MiddlewareEntry::key) {
                Ok(inside) => (inside, false),
                Err(quiescence::TooDeep) => return Err(refused(runtime, &entry.id, entry.owner, Refused::TooDeep)),
            }
        }
        Err(quiescence::TooDeep) => return Err(refused(runtime, &entry.id, entry.owner, Refused::TooDeep)),
    };
    let inner = call.enter(entry.owner);
    if planned && let Some(chain) = entry.middleware.typed::<Req, Resp>() {
        // Typed middleware alone, behind the armed gate: the typed chain.
        let target = Target {
            call: *call,
            inner,
            entry: NonNull::from(entry),
            handler: NonNull::from(handler),
        };
        // SAFETY: `entry` holds the chain, and outlives this call.
        let result = unsafe { chain.start().run(&target, request, metadata) };
        drop(chain_entered);
        return result;
    }
    let result = run_entered_chain(call, &inner, entry, handler, request, metadata, planned);
    drop(chain_entered);
    result
}

/// Runs `entry`'s chain, which the call has entered: behind the armed dispatch gate
/// (`planned`), or into each layer's plugin. `inner` is the call the handler receives.
#[inline(always)]
pub(super) fn run_entered_chain<Req: 'static, Resp: 'static>(
    call: &RawCall<'_>,
    inner: &RawCall<'_>,
    entry: &CommandEntry,
    handler: &DynHandler<Req, Resp>,
    request: Req,
    metadata: Metadata<'_>,
    planned: bool,
) -> Result<Resp, DispatchError> {
    let ends = ChainEnds {
        request: RefCell::new(Some(request)),
        response: RefCell::new(None),
        handler,
        inner,
        call,
        entry,
    };
    let mut invocation = Invocation::new(metadata, &ends, planned);
    let outcome = catch_unwind(AssertUnwindSafe(|| entry.middleware.run(&mut invocation)));
    match outcome {
        Ok(result) => result?,
        Err(payload) => return Err(handler_panic(call, entry, invocation.panicked_in(), payload.as_ref())),
    }
    ends.response.into_inner().ok_or_else(|| chain::no_response(&entry.id))
}

/// A chain's typed ends ([`chain::Ends`]): its request and response slots and its
/// command's handler, on the stack of the call that runs the chain.
struct ChainEnds<'a, 'h, Req, Resp> {
    request: RefCell<Option<Req>>,
    response: RefCell<Option<Resp>>,
    handler: &'a DynHandler<Req, Resp>,
    /// What the handler receives: the call entered into the command's plugin.
    inner: &'a RawCall<'h>,
    call: &'a RawCall<'h>,
    entry: &'a CommandEntry,
}

impl<Req: 'static, Resp: 'static> chain::Ends for ChainEnds<'_, '_, Req, Resp> {
    fn request(&self) -> &dyn Any {
        &self.request
    }

    fn response(&self) -> &dyn Any {
        &self.response
    }

    fn command(&self) -> &str {
        &self.entry.id
    }

    fn invoker(&self) -> Option<&str> {
        self.call.plugin()
    }

    fn runtime(&self) -> &crate::runtime::Runtime {
        self.call.runtime
    }

    fn types(&self) -> (&'static str, &'static str) {
        (std::any::type_name::<Req>(), std::any::type_name::<Resp>())
    }

    fn run_handler(&self) -> Result<(), DispatchError> {
        let request = chain::take_slot(&self.request, &self.entry.id)?;
        let response =
            (self.handler)(self.inner, request).map_err(|error| handler_error(self.call, self.entry, error))?;
        chain::put_slot(&self.response, response, &self.entry.id)
    }
}

/// Audits an error that middleware of plugin `owner` returned itself (a rejection), as
/// the permission checker audits a denial.
#[cold]
pub(super) fn audit_rejection(runtime: &crate::runtime::Runtime, command: &str, owner: usize, error: &DispatchError) {
    runtime.audit.record(
        &runtime.plugin(owner).id,
        format!("middleware on {command}"),
        crate::audit::Decision::Denied,
        crate::error::error_chain(error),
    );
}
