//! [`Call`]: the handle through which code running inside the host dispatches.
//!
//! Command handlers, subscribers, hook implementations and inbox handlers receive one,
//! and the application gets one from [`Host::call`](crate::Host::call). Each feature
//! module adds its dispatch methods to `Call` in one `impl` block of its own; the host
//! forwards to them.

use std::marker::PhantomData;
use std::sync::Arc;

use super::Runtime;
use super::inflight::Anchor;
use crate::permissions::{HostCaller, PermissionDenied};

/// The untyped core of a [`Call`]: the runtime, and who is calling on whose behalf.
#[derive(Clone, Copy)]
pub(crate) struct RawCall<'h> {
    pub(crate) runtime: &'h Runtime,
    /// Who invoked the code now running ([`NOBODY`] for the application).
    invoker: u32,
    /// Whose code is running; the invoker of anything it dispatches.
    current: u32,
}

/// The application, in [`RawCall`]'s compact plugin positions.
const NOBODY: u32 = u32::MAX;

impl<'h> RawCall<'h> {
    pub(crate) fn new(runtime: &'h Runtime) -> RawCall<'h> {
        RawCall {
            runtime,
            invoker: NOBODY,
            current: NOBODY,
        }
    }

    fn plugin_at(&self, position: u32) -> Option<&'h str> {
        (position != NOBODY).then(|| self.runtime.plugin_id(position as usize))
    }

    /// The call that plugin `owner`'s code receives when this call dispatches to it.
    /// Positions fit in `u32`: a host of four billion plugins is not a use case.
    #[inline(always)]
    pub(crate) fn enter(&self, owner: usize) -> RawCall<'h> {
        RawCall {
            runtime: self.runtime,
            invoker: self.current,
            current: owner as u32,
        }
    }

    /// The position of the plugin whose code is running, if any.
    #[inline(always)]
    pub(crate) fn current_position(&self) -> Option<usize> {
        (self.current != NOBODY).then_some(self.current as usize)
    }

    /// The run-time check of a permission used on the dispatch path: the running
    /// plugin's manifest must declare it (the application holds everything). The held
    /// permissions were precomputed from the manifest, so an allowed use costs a load
    /// and a test; a refusal goes through the permission checker, which audits it.
    #[inline(always)]
    pub(crate) fn may(&self, permission: (u16, &'static str, &'static str)) -> Result<(), Box<PermissionDenied>> {
        match self.current_position() {
            Some(position) if !self.runtime.plugin(position).held.holds(permission) => {
                self.refuse(position, permission)
            }
            _ => Ok(()),
        }
    }

    #[cold]
    fn refuse(&self, position: usize, (_, resource, action): (u16, &str, &str)) -> Result<(), Box<PermissionDenied>> {
        self.runtime.check_permission(position, resource, action, position)
    }

    /// The plugin whose code is running, or `None` for the application.
    pub(crate) fn plugin(&self) -> Option<&'h str> {
        self.plugin_at(self.current)
    }

    /// The plugin that invoked the code now running, or `None` for the application.
    pub(crate) fn invoker(&self) -> Option<&'h str> {
        self.plugin_at(self.invoker)
    }
}

impl std::fmt::Debug for RawCall<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawCall")
            .field("invoker", &self.invoker())
            .field("plugin", &self.plugin())
            .finish()
    }
}

/// What an async handler is handed: the owned form of [`Call`], which a future can keep
/// across `.await`s (a [`Call`] borrows the host for the length of one synchronous
/// call, and an async handler's future outlives that).
///
/// Its [`AsyncCall::with`] runs synchronous code as the plugin, with a [`Call`] that
/// has everything a synchronous handler's has (publish, services, hooks, messages,
/// other commands), under the same compile-time permissions.
///
/// ```
/// use patchpanel::{AsyncCall, Context, Host, Plugin, PluginError, PluginSpec};
///
/// #[patchpanel::register_plugin(id = "clock", version = "1.0.0", permissions = { commands = ["register"] })]
/// #[derive(Default)]
/// struct Clock;
///
/// impl Plugin for Clock {
///     fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
///         context.command_async("now", |call: AsyncCall<Self>, (): ()| async move {
///             // Awaiting I/O would go here; the call stays counted until it returns.
///             Ok(format!("{} says noon", call.plugin()))
///         })?;
///         Ok(())
///     }
/// }
///
/// let host = Host::builder().plugins(vec![PluginSpec::registered::<Clock>()?]).build()?;
/// let pending = host.execute_async::<(), String>("clock:now", ());
/// assert_eq!(patchpanel::blocking::block_on(pending)?, "clock says noon");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Guide: [async plugins](crate::guide::async_plugins).
pub struct AsyncCall<P = HostCaller> {
    hold: Hold,
    invoker: u32,
    current: u32,
    _plugin: PhantomData<fn() -> P>,
}

/// What keeps an [`AsyncCall`]'s runtime alive.
#[derive(Clone)]
enum Hold {
    /// The runtime itself.
    Runtime(Arc<Runtime>),
    /// The record of the plugin instance whose async handler the call was made for
    /// (which holds the runtime), taken with the call's ticket in one read-modify-write
    /// ([`Anchor::arrive_held`]).
    Instance(Anchor),
}

impl Hold {
    #[inline]
    fn runtime(&self) -> &Arc<Runtime> {
        match self {
            Hold::Runtime(runtime) => runtime,
            Hold::Instance(anchor) => anchor.runtime(),
        }
    }
}

impl<P> AsyncCall<P> {
    /// The owned form of `call`, for a future to keep.
    pub(crate) fn from_raw(call: &RawCall<'_>) -> AsyncCall<P> {
        AsyncCall::with_hold(Hold::Runtime(call.runtime.shared()), call)
    }

    /// The owned form of `call`, for the future of an async handler of the instance
    /// `anchor` is the record of, taken by [`Anchor::arrive_held`] with the call's ticket.
    pub(crate) fn held(anchor: Anchor, call: &RawCall<'_>) -> AsyncCall<P> {
        AsyncCall::with_hold(Hold::Instance(anchor), call)
    }

    #[inline]
    fn with_hold(hold: Hold, call: &RawCall<'_>) -> AsyncCall<P> {
        AsyncCall {
            hold,
            invoker: call.invoker,
            current: call.current,
            _plugin: PhantomData,
        }
    }

    /// The plugin this code runs as (`None` for the application).
    pub fn plugin(&self) -> &str {
        RawCall::new(self.hold.runtime())
            .plugin_at(self.current)
            .unwrap_or("the application")
    }

    /// The plugin that invoked the running command, or `None` when the application did.
    pub fn invoker(&self) -> Option<&str> {
        RawCall::new(self.hold.runtime()).plugin_at(self.invoker)
    }

    /// Runs synchronous code as this plugin, with a [`Call`]. Do not hold anything the
    /// closure returns across an `.await` that borrows the host.
    pub fn with<R>(&self, run: impl FnOnce(&Call<'_, P>) -> R) -> R {
        let raw = RawCall {
            runtime: self.hold.runtime(),
            invoker: self.invoker,
            current: self.current,
        };
        run(&Call::typed(raw))
    }
}

impl<P> Clone for AsyncCall<P> {
    fn clone(&self) -> Self {
        AsyncCall {
            hold: self.hold.clone(),
            invoker: self.invoker,
            current: self.current,
            _plugin: PhantomData,
        }
    }
}

impl<P> std::fmt::Debug for AsyncCall<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncCall")
            .field("invoker", &self.invoker())
            .field("plugin", &self.plugin())
            .finish()
    }
}

/// The handle through which code running inside the host dispatches.
///
/// `P` is the plugin on whose behalf the call is made, and each method that needs a
/// permission requires it of `P` at compile time: a handler of a plugin whose manifest
/// does not declare `events.publish` cannot call [`Call::publish`]. The application's
/// calls are `Call<'_, HostCaller>`, which holds every permission.
///
/// It also knows who invoked the running code, so that a handler can tell a call made
/// by the application from one made by another plugin.
///
/// Guide: [talking between plugins](crate::guide::talking).
#[repr(transparent)]
pub struct Call<'h, P = HostCaller> {
    pub(crate) raw: RawCall<'h>,
    _plugin: PhantomData<fn() -> P>,
}

impl<P> Clone for Call<'_, P> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<P> Copy for Call<'_, P> {}

impl<P> std::fmt::Debug for Call<'_, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call")
            .field("invoker", &self.invoker())
            .field("plugin", &self.plugin())
            .finish()
    }
}

impl<'h, P> Call<'h, P> {
    #[inline(always)]
    pub(crate) fn typed(raw: RawCall<'h>) -> Call<'h, P> {
        Call {
            raw,
            _plugin: PhantomData,
        }
    }

    /// `raw` seen as a typed call, without a copy (a handler's wrapper passes on the
    /// call it was given).
    #[inline(always)]
    pub(crate) fn typed_ref<'r>(raw: &'r RawCall<'h>) -> &'r Call<'h, P> {
        // SAFETY: `Call` is `repr(transparent)` over `RawCall` (its other field is a
        // zero-sized `PhantomData`), so the two have one layout.
        unsafe { &*std::ptr::from_ref(raw).cast::<Call<'h, P>>() }
    }

    /// The plugin that invoked the code now running, or `None` when the application
    /// did.
    pub fn invoker(&self) -> Option<&'h str> {
        self.raw.invoker()
    }

    /// The plugin whose code is running, or `None` for the application. Anything
    /// dispatched through this call is made on its behalf.
    pub fn plugin(&self) -> Option<&'h str> {
        self.raw.plugin()
    }
}

/// Something went wrong in a plugin's handler and was contained; the host keeps the
/// most recent of these (see [`Host::incidents`](crate::Host::incidents)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Incident {
    /// The plugin whose code failed.
    pub plugin: String,
    /// Where: `event handler for greeter::Greeted`, `inbox`...
    pub site: String,
    /// What happened, with the cause chain.
    pub message: String,
}
