//! [`CommandHandle`]: a command resolved once, for the fastest dispatch.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr::NonNull;
use std::sync::Arc;

use super::typed_middleware::{Target, TypedChain, TypedStart};
use super::{
    CommandEntry, DispatchError, Metadata, execute, handler_error, handler_panic, lookup, not_active, run, run_chain,
    run_entered_chain, too_deep,
};
use crate::error::PluginError;
use crate::lifecycle::State;
use crate::runtime::quiescence::{self, Inside};
use crate::runtime::{PluginSlot, RawCall, Tables};

/// A command resolved once, for the fastest dispatch.
///
/// It follows the plugin's lifecycle: while the plugin is disabled a call fails with
/// [`DispatchErrorKind::NotActive`](crate::commands::DispatchErrorKind::NotActive), and after a reload a call reaches the new instance
/// (through a slower path than before: resolve the handle again to regain the fast
/// one).
///
/// ```
/// # use patchpanel::{Context, Host, Plugin, PluginError, PluginSpec};
/// # #[patchpanel::register_plugin(id = "math", version = "1.0.0", permissions = { commands = ["register"] })]
/// # #[derive(Default)]
/// # struct Math;
/// # impl Plugin for Math {
/// #     fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
/// #         context.command("double", |_, n: u64| Ok(n * 2))?;
/// #         Ok(())
/// #     }
/// # }
/// # let host = Host::builder()
/// #     .plugins(vec![PluginSpec::registered::<Math>()?])
/// #     .build()?;
/// let double = host.command::<u64, u64>("math:double")?;
/// assert_eq!(double.call(21)?, 42);
/// // Its `Debug` names the plan it was resolved with: `direct` (no middleware, not
/// // observed), `typed chain` (typed middleware alone), `chain`, or `checked`.
/// assert_eq!(format!("{double:?}"), r#"CommandHandle { id: "math:double", plan: "direct" }"#);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Guide: [talking between plugins](crate::guide::talking).
pub struct CommandHandle<'h, Req, Resp> {
    /// The caller, the command and its handler: what a call runs, and what a typed chain
    /// ends in.
    target: Target<'h, Req, Resp>,
    slot: &'h PluginSlot,
    /// The slot's word that lets a call take the fast path: active, in the epoch the
    /// handle was resolved in; or an impossible word when the command has guards,
    /// middleware or observation, which always take the chain. Everything a call checks
    /// is in this one compare.
    fast: u64,
    /// The epoch the handle was resolved in: while the slot's differs, the command may
    /// dispatch differently now (a reload, a changed chain), and calls go through the
    /// current tables.
    epoch: u64,
    /// The first entry of the command's typed chain, when its middleware is typed
    /// middleware alone (and `fast` has [`CHAINED`]).
    chain: Option<TypedStart<Req, Resp>>,
    /// Keeps `entry`, `handler` and `chain` alive, even after a reload swapped the tables.
    _tables: Arc<Tables>,
}

// SAFETY: the pointers are into `_tables`, which the handle keeps alive and nobody
// mutates; handlers are `Send + Sync`.
unsafe impl<Req, Resp> Send for CommandHandle<'_, Req, Resp> {}
// SAFETY: as above.
unsafe impl<Req, Resp> Sync for CommandHandle<'_, Req, Resp> {}

/// Set in a handle's expected word when its command runs a middleware chain and nothing
/// else (no guard, no observation): a bit no slot word has (states are 0 to 7), so the
/// direct path's compare fails and the slow path knows the plan with one compare more.
const CHAINED: u64 = 0x80;

impl<'h, Req: 'static, Resp: 'static> CommandHandle<'h, Req, Resp> {
    pub(crate) fn resolve(call: RawCall<'h>, id: &str) -> Result<CommandHandle<'h, Req, Resp>, DispatchError> {
        let mut tables = call.runtime.tables_arc();
        if let Err(error) = lookup(&call, &tables, id) {
            // A lazy plugin's command before its first use: wake it, and look again.
            if !super::wake_for(&call, id)? {
                return Err(error);
            }
            tables = call.runtime.tables_arc();
        }
        let entry = lookup(&call, &tables, id)?;
        let handler = entry.handler::<Req, Resp>()?;
        let slot = call.runtime.plugin(entry.owner);
        // Read after the tables: a swap moves the epochs of the commands it changes
        // after it installs the new tables, so these tables are at least as new as this
        // epoch (an older epoch only sends calls to the slow path).
        let active = slot.active_word();
        let mut chain = None;
        // The plan the entry allows, in the word a call compares.
        let fast = if entry.direct {
            active
        } else if entry.plain_chain() {
            debug_assert!(slot.gated(), "installed tables gate the owner of a chained command");
            // Typed middleware alone: the handle walks its typed chain.
            chain = entry.middleware.typed::<Req, Resp>().map(TypedChain::start);
            active | CHAINED
        } else {
            // A slot word's low byte is a state (0 to 7), so `u64::MAX` never matches.
            u64::MAX
        };
        Ok(CommandHandle {
            target: Target {
                call,
                inner: call.enter(entry.owner),
                entry: NonNull::from(entry),
                handler: NonNull::from(handler),
            },
            slot,
            fast,
            epoch: active >> 8,
            chain,
            _tables: tables,
        })
    }

    #[inline(always)]
    fn entry(&self) -> &CommandEntry {
        self.target.entry()
    }

    /// Runs the command.
    #[inline(always)]
    pub fn call(&self, request: Req) -> Result<Resp, DispatchError> {
        self.call_with(request, &[])
    }

    /// Runs the command with metadata for middleware.
    #[inline(always)]
    pub fn call_with(&self, request: Req, metadata: Metadata<'_>) -> Result<Resp, DispatchError> {
        if let Some(inside) = quiescence::enter_fast(self.slot.key()) {
            if self.slot.word() == self.fast {
                return self.call_leaving(inside, request);
            }
            return self.call_slow::<true>(inside, request, metadata);
        }
        self.call_entering_slowly(request, metadata)
    }

    /// The direct call: the handler, under its panic guard, in the section `inside`,
    /// which is left as soon as the handler returns (reporting a failure needs nothing
    /// the section keeps). The failures read the entry from the handle when they happen,
    /// so the call keeps nothing of it across the handler.
    #[inline(always)]
    fn call_leaving(&self, inside: Inside, request: Req) -> Result<Resp, DispatchError> {
        self.failure(self.direct(inside, request))
    }

    /// The handler's outcome, the section left: what [`CommandHandle::call_leaving`] and
    /// an async handle's `call_async` turn into their results.
    #[inline(always)]
    fn direct(&self, inside: Inside, request: Req) -> std::thread::Result<Result<Resp, PluginError>> {
        // SAFETY: see the `Send` impl.
        let handler = unsafe { self.target.handler.as_ref() };
        let outcome = catch_unwind(AssertUnwindSafe(|| handler(&self.target.inner, request)));
        drop(inside);
        outcome
    }

    /// The handler's outcome as the call's result: a failure audited and attributed.
    #[inline(always)]
    fn failure(&self, outcome: std::thread::Result<Result<Resp, PluginError>>) -> Result<Resp, DispatchError> {
        match outcome {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(error)) => Err(self.handler_failed(error)),
            Err(payload) => Err(self.handler_panicked(payload)),
        }
    }

    #[cold]
    #[inline(never)]
    fn handler_failed(&self, error: PluginError) -> DispatchError {
        handler_error(&self.target.call, self.entry(), error)
    }

    #[cold]
    #[inline(never)]
    fn handler_panicked(&self, payload: Box<dyn Any + Send>) -> DispatchError {
        handler_panic(&self.target.call, self.entry(), None, payload.as_ref())
    }

    /// [`CommandHandle::call_with`] when the thread's record sends the entry to its slow
    /// path (the thread's first call, a grace period, calls nested too deeply).
    #[cold]
    #[inline(never)]
    fn call_entering_slowly(&self, request: Req, metadata: Metadata<'_>) -> Result<Resp, DispatchError> {
        let Ok(inside) = quiescence::enter(self.slot.key()) else {
            return Err(too_deep(self.entry()));
        };
        if self.slot.word() == self.fast {
            return self.call_leaving(inside, request);
        }
        self.call_slow::<false>(inside, request, metadata)
    }

    /// The plugin is not active, its epoch moved since the handle was resolved, or the
    /// command has guards or middleware or is observed (metrics, spans).
    ///
    /// `FAST`: `inside` was entered on the fast path, so moving it is a store and a
    /// compiler fence.
    #[inline(never)]
    fn call_slow<const FAST: bool>(
        &self,
        inside: Inside,
        request: Req,
        metadata: Metadata<'_>,
    ) -> Result<Resp, DispatchError> {
        let word = self.slot.word();
        if word | CHAINED == self.fast {
            // The plan of a command with middleware and nothing else. Its plugin is
            // gated (a disable waits for the gate's callers too), so the call's entry
            // moves onto the dispatch gate, holding one of the two keys throughout; while
            // the gate is armed, the whole chain is entered with it, and a chain of typed
            // middleware alone is walked as its typed chain, with no check of its own.
            // SAFETY: see the `Send` impl.
            let handler = unsafe { self.target.handler.as_ref() };
            let gate = self.target.call.runtime.gate();
            retarget::<FAST>(&inside, gate.key());
            if gate.is_armed() {
                let result = match self.chain {
                    // SAFETY: the handle keeps the chain's tables alive (see the `Send` impl).
                    Some(start) => unsafe { start.run(&self.target, request, metadata) },
                    None => run_entered_chain(
                        &self.target.call,
                        &self.target.inner,
                        self.entry(),
                        handler,
                        request,
                        metadata,
                        true,
                    ),
                };
                drop(inside);
                return result;
            }
            // Behind a disarmed gate, back into the plugin, and into each layer's.
            inside.retarget(self.slot.key());
            let result = run_chain(&self.target.call, self.entry(), handler, request, metadata);
            drop(inside);
            return result;
        }
        if word >> 8 != self.epoch {
            // Reloaded, or its chain changed: the command as it runs now is in the
            // current tables.
            drop(inside);
            return execute(&self.target.call, &self.entry().id, request, metadata);
        }
        let state = State::from_u8((word & 0xff) as u8);
        if state != State::Active {
            return Err(not_active(&self.target.call, self.entry(), state));
        }
        // SAFETY: see the `Send` impl.
        let handler = unsafe { self.target.handler.as_ref() };
        let result = run(&self.target.call, self.entry(), handler, request, metadata);
        drop(inside);
        result
    }

    /// The command id.
    pub fn id(&self) -> &str {
        &self.entry().id
    }

    /// The typed chain the handle was resolved with, when its plan is one.
    pub(crate) fn typed_chain(&self) -> Option<&TypedChain<Req, Resp>> {
        self.chain?;
        self.entry().middleware.typed::<Req, Resp>()
    }

    /// [`CommandHandle::call_with`] for a handle whose chain `walk` runs (a
    /// [`LayeredHandle`](super::LayeredHandle)'s layers, inlined): while the plan holds
    /// and the dispatch gate is armed, the call moves onto the gate and `walk` runs the
    /// whole chain; anything else is the slow path's.
    #[inline(always)]
    pub(crate) fn call_walking(
        &self,
        request: Req,
        metadata: Metadata<'_>,
        walk: impl FnOnce(&Target<'_, Req, Resp>, Req) -> Result<Resp, DispatchError>,
    ) -> Result<Resp, DispatchError> {
        if let Some(inside) = quiescence::enter_fast(self.slot.key()) {
            if self.slot.word() | CHAINED == self.fast {
                let gate = self.target.call.runtime.gate();
                retarget::<true>(&inside, gate.key());
                if gate.is_armed() {
                    let result = walk(&self.target, request);
                    drop(inside);
                    return result;
                }
            }
            // Entered on the slot or on the gate: the slow path moves it where its plan
            // needs it.
            return self.call_slow::<true>(inside, request, metadata);
        }
        self.call_entering_slowly(request, metadata)
    }
}

/// Moves the innermost entry of `inside` to `key`; `FAST` when it was entered on the
/// fast path (its record is expedited, and a compiler fence is the whole fence).
#[inline(always)]
fn retarget<const FAST: bool>(inside: &Inside, key: usize) {
    if FAST {
        inside.retarget_entered_fast(key);
    } else {
        inside.retarget(key);
    }
}

impl<Req, Resp> Clone for CommandHandle<'_, Req, Resp> {
    fn clone(&self) -> Self {
        CommandHandle {
            target: self.target,
            slot: self.slot,
            fast: self.fast,
            epoch: self.epoch,
            chain: self.chain,
            _tables: Arc::clone(&self._tables),
        }
    }
}

impl<Req, Resp> std::fmt::Debug for CommandHandle<'_, Req, Resp> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The plan the handle was resolved with (after a reload or a changed chain, its
        // calls go through the current tables whatever this says).
        let plan = match self.fast {
            u64::MAX => "checked",
            fast if fast & CHAINED != 0 && self.chain.is_some() => "typed chain",
            fast if fast & CHAINED != 0 => "chain",
            _ => "direct",
        };
        f.debug_struct("CommandHandle")
            .field("id", &self.target.entry().id)
            .field("plan", &plan)
            .finish()
    }
}

/// An async command resolved once: `host.command::<Req, Pending<Resp>>(id)`.
impl<Req: 'static, Resp: Send + 'static> CommandHandle<'_, Req, super::Pending<Resp>> {
    /// Runs the async command: the future of its response, to be awaited. A dispatch
    /// error (the plugin is not active, a guard rejected the call) is the future's
    /// output, ready at once.
    ///
    /// ```
    /// # use patchpanel::{Context, Host, commands::Pending, Plugin, PluginError, PluginSpec};
    /// # #[patchpanel::register_plugin(id = "math", version = "1.0.0", permissions = { commands = ["register"] })]
    /// # #[derive(Default)]
    /// # struct Math;
    /// # impl Plugin for Math {
    /// #     fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
    /// #         context.command_async("double", |_, n: u64| async move { Ok(n * 2) })?;
    /// #         Ok(())
    /// #     }
    /// # }
    /// # let host = Host::builder().plugins(vec![PluginSpec::registered::<Math>()?]).build()?;
    /// let double = host.command::<u64, Pending<u64>>("math:double")?;
    /// assert_eq!(patchpanel::blocking::block_on(double.call_async(21))?, 42);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn call_async(&self, request: Req) -> super::Pending<Resp> {
        if let Some(inside) = quiescence::enter_fast(self.slot.key())
            && self.slot.word() == self.fast
        {
            // The direct call, as `call_with` makes it, with the handler's outcome turned
            // into the `Pending` at once rather than through a `Result` of one.
            return match self.direct(inside, request) {
                Ok(Ok(pending)) => pending,
                failed => self
                    .failure(failed)
                    .unwrap_or_else(|error| super::Pending::ready(Err(error))),
            };
        }
        self.call(request)
            .unwrap_or_else(|error| super::Pending::ready(Err(error)))
    }
}
