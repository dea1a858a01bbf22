//! Middleware: a chain around command execution.
//!
//! A middleware sees every command its pattern matches. It can inspect the request and
//! its metadata, change the request, short-circuit with a response or an error, and
//! post-process the response after calling [`Next::run`]. The chain is ordered by
//! declared priority (higher runs first, outermost), then by the owning plugins'
//! activation order (dependencies first), then by registration order. Each command's
//! chain is computed once, when the tables are frozen.
//!
//! A middleware runs inside its own plugin (a disabled plugin's middleware steps aside,
//! and disabling it waits for the calls running through it), while the command's own
//! plugin is entered for the whole chain: disabling the command's plugin waits for
//! calls whose middleware is still running. A chain is entered once, when it starts:
//! while every plugin with subscriptions, middleware or a command with middleware is
//! active (the runtime's dispatch gate is armed), the call enters the gate and its
//! layers run with no state check of their own; otherwise it enters all of its chain's
//! plugins, with one fence, and checks each one's state at its turn. Either way,
//! disabling a middleware's plugin also waits for calls that have not reached its layer
//! yet, and once `disable` returns, no call runs through it. (So a handler or middleware
//! running in a chain cannot disable such a plugin: it would wait for itself, and gets
//! [`LifecycleError::InsideCall`](crate::lifecycle::LifecycleError::InsideCall).)
//!
//! `commands.intercept` at its default scope wraps only the plugin's own commands
//! (`auth:*` below); a pattern that can match another plugin's (`*`) needs
//! `scope = "all"`, or activation fails with a permission error.
//!
//! ```
//! use patchpanel::{Context, Host, Manifest, Plugin, PluginError, PluginSpec};
//!
//! #[patchpanel::register_plugin(
//!     id = "auth",
//!     version = "1.0.0",
//!     permissions = { commands = ["intercept", "register"] },
//! )]
//! #[derive(Default)]
//! struct Auth;
//!
//! impl Plugin for Auth {
//!     fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
//!         context.middleware("auth:*", 100, |invocation, next| {
//!             if invocation.metadata("token") != Some("secret") {
//!                 return Err(invocation.reject("missing or wrong token"));
//!             }
//!             next.run(invocation)
//!         })?;
//!         context.command("ping", |_, (): ()| Ok("pong".to_owned()))?;
//!         Ok(())
//!     }
//! }
//!
//! let host = Host::builder()
//!     .plugins(vec![PluginSpec::registered::<Auth>()?])
//!     .build()?;
//! assert_eq!(
//!     host.execute::<(), String>("auth:ping", ()).unwrap_err().to_string(),
//!     "command `auth:ping` was rejected: missing or wrong token"
//! );
//! assert_eq!(host.execute_with::<(), String>("auth:ping", (), &[("token", "secret")])?, "pong");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::any::{Any, TypeId};
use std::cell::{RefCell, RefMut};
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr::NonNull;
use std::sync::Arc;

use super::typed_middleware::{AnyTypedLayer, TypedChain};
use super::{CommandEntry, DispatchError, DispatchErrorKind, Metadata};
use crate::runtime::PluginSlot;

/// A middleware function, as the chain calls it.
pub(crate) type MiddlewareDyn = dyn Fn(&mut Invocation<'_>, Next<'_>) -> Result<(), DispatchError> + Send + Sync;

/// A middleware function.
pub(crate) type MiddlewareFn = Arc<MiddlewareDyn>;

/// The owner of a chain's last entry, the handler's: whom a panic there blames.
const HANDLER: usize = usize::MAX;

/// [`Invocation::panicked_in`] while no panic came up through a layer's turn.
const NO_PANIC: usize = usize::MAX - 1;

/// One command passing through the middleware chain.
pub struct Invocation<'a> {
    /// Whose code panicked, once a panic came up through a layer's turn: the plugin of
    /// the innermost layer it passed (its own), or [`HANDLER`]; [`NO_PANIC`] while none did.
    panicked_in: usize,
    /// The chain runs behind the armed dispatch gate: every layer's plugin is active and
    /// stays so until the chain ends, so no layer checks its state.
    planned: bool,
    metadata: Metadata<'a>,
    /// The request and response slots, the handler, and the call and command they are
    /// for, behind one pointer (making an invocation is a few stores).
    ends: &'a dyn Ends,
    /// Set when an error came up from further down the chain, so that the middleware
    /// whose own error it is (the first to return it) is the one audited. A chain is a
    /// line (a `Next` runs once), so it is never set when a layer starts.
    failed_below: bool,
}

/// The typed ends of a chain, which the invocation holds behind one pointer (so that
/// making an invocation is a few stores):
/// the request and response slots that middleware reads and writes by type, and the
/// command's handler at the end.
pub(crate) trait Ends {
    /// A `RefCell<Option<Req>>`: shared with the handler's end of the chain, which takes
    /// the request without a downcast.
    fn request(&self) -> &dyn Any;
    /// A `RefCell<Option<Resp>>`.
    fn response(&self) -> &dyn Any;
    /// Runs the command's handler on the request, leaving its response in the slot.
    fn run_handler(&self) -> Result<(), DispatchError>;
    /// The command id.
    fn command(&self) -> &str;
    /// The plugin that invoked the command, or `None` when the application did.
    fn invoker(&self) -> Option<&str>;
    /// The runtime the command runs in.
    fn runtime(&self) -> &crate::runtime::Runtime;
    /// The names of the command's request and response types.
    fn types(&self) -> (&'static str, &'static str);
}

impl<'a> Invocation<'a> {
    pub(crate) fn new(metadata: Metadata<'a>, ends: &'a dyn Ends, planned: bool) -> Invocation<'a> {
        Invocation {
            panicked_in: NO_PANIC,
            planned,
            metadata,
            ends,
            failed_below: false,
        }
    }

    /// The command id, `plugin:name`.
    pub fn command(&self) -> &str {
        self.ends.command()
    }

    /// The plugin that invoked the command, or `None` when the application did.
    pub fn invoker(&self) -> Option<&str> {
        self.ends.invoker()
    }

    /// A metadata value passed with the command.
    pub fn metadata(&self, key: &str) -> Option<&'a str> {
        self.metadata.iter().find(|(k, _)| *k == key).map(|(_, value)| *value)
    }

    /// The request, if it is a `T` and the handler has not taken it yet. Drop the guard
    /// before calling [`Next::run`].
    pub fn request<T: 'static>(&self) -> Option<RefMut<'a, T>> {
        slot::<T>(self.ends.request())
    }

    /// The response, if it is a `T` and has been produced.
    pub fn response<T: 'static>(&self) -> Option<RefMut<'a, T>> {
        slot::<T>(self.ends.response())
    }

    /// Sets the response. Returns false (and sets nothing) if the command does not
    /// respond with a `T`. A middleware that responds without calling `next`
    /// short-circuits the command.
    pub fn respond<T: 'static>(&self, response: T) -> bool {
        match self
            .ends
            .response()
            .downcast_ref::<RefCell<Option<T>>>()
            .map(RefCell::try_borrow_mut)
        {
            Some(Ok(mut slot)) => {
                *slot = Some(response);
                true
            }
            _ => false,
        }
    }

    /// The request and response slots, if the command takes a `Req` and answers a `Resp`
    /// (a typed middleware's adapter).
    #[allow(clippy::type_complexity)]
    pub(crate) fn slots<Req: 'static, Resp: 'static>(
        &self,
    ) -> Option<(&'a RefCell<Option<Req>>, &'a RefCell<Option<Resp>>)> {
        let ends = self.ends;
        Some((ends.request().downcast_ref()?, ends.response().downcast_ref()?))
    }

    /// The chain's ends, which outlive the invocation.
    pub(crate) fn ends(&self) -> &'a dyn Ends {
        self.ends
    }

    /// The metadata passed with the command.
    pub(crate) fn all_metadata(&self) -> Metadata<'a> {
        self.metadata
    }

    /// An error that rejects this command, with the reason given.
    pub fn reject(&self, reason: impl Into<String>) -> DispatchError {
        DispatchError::rejected(self.command(), reason.into())
    }

    /// The plugin whose middleware panicked, or `None` when the command's handler did
    /// (or nothing did).
    pub(crate) fn panicked_in(&self) -> Option<usize> {
        (self.panicked_in != HANDLER && self.panicked_in != NO_PANIC).then_some(self.panicked_in)
    }

    /// Runs `layer`, with the entries after it as its `next`; its plugin is known to be
    /// active. The handler's entry runs through here too (its owner is [`HANDLER`]).
    ///
    /// The turn is guarded: a panic in the layer's code (before its `next`, or after it
    /// returned) is first caught here, noted as the layer's, and resumed, so the chain's
    /// one guard above attributes it exactly. The guard is a landing pad, not work: a
    /// turn that does not panic costs the indirect call and, for attribution, one store
    /// when it returns (which forgets a panic caught on the way).
    #[inline(always)]
    fn run_layer(&mut self, layer: &MiddlewareEntry) -> Result<(), DispatchError> {
        // SAFETY: see `MiddlewareEntry::raw`.
        let handler = unsafe { &*layer.raw };
        let turn = catch_unwind(AssertUnwindSafe(|| handler(self, Next::after(layer))));
        match turn {
            Ok(result) => {
                // The turn returned: a panic noted below it was caught on the way (a
                // layer that turns its `next`'s panic into an error, say) and blames
                // nobody now; a later panic is noted afresh.
                self.panicked_in = NO_PANIC;
                result.map_err(|error| layer_failed(self, layer.owner, error))
            }
            Err(payload) => self.panicked(layer.owner, payload),
        }
    }

    /// A panic came up through `owner`'s turn: the first turn it reaches is the one it
    /// started in (the layers below caught it first), so a panic already noted keeps its
    /// plugin. The unwinding goes on with the payload as it was.
    #[cold]
    #[inline(never)]
    fn panicked(&mut self, owner: usize, payload: Box<dyn Any + Send>) -> ! {
        if self.panicked_in == NO_PANIC {
            self.panicked_in = owner;
        }
        std::panic::resume_unwind(payload)
    }
}

/// The function of a chain's last entry: the command's handler, reached as a layer is
/// (which made [`HANDLER`] the running one).
fn terminal(invocation: &mut Invocation<'_>, _past_the_end: Next<'_>) -> Result<(), DispatchError> {
    let result = invocation.ends.run_handler();
    if result.is_err() {
        invocation.failed_below = true;
    }
    result
}

impl std::fmt::Debug for Invocation<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Invocation")
            .field("command", &self.command())
            .field("invoker", &self.invoker())
            .finish_non_exhaustive()
    }
}

/// The rest of the chain, ending at the command's handler.
pub struct Next<'a> {
    /// The next entry of a [`Chain`]: a layer, or the last entry, the handler's.
    at: NonNull<MiddlewareEntry>,
    _chain: PhantomData<&'a MiddlewareEntry>,
}

impl<'a> Next<'a> {
    /// The chain from `entry` on, which is one of a [`Chain`]'s entries.
    #[inline(always)]
    fn at(entry: &'a MiddlewareEntry) -> Next<'a> {
        Next {
            at: NonNull::from(entry),
            _chain: PhantomData,
        }
    }

    /// The chain after `entry`; never run when `entry` is the last (the handler's).
    #[inline(always)]
    fn after(entry: &'a MiddlewareEntry) -> Next<'a> {
        Next {
            // SAFETY: one past an element of the chain's slice is in bounds or its end.
            at: unsafe { NonNull::from(entry).add(1) },
            _chain: PhantomData,
        }
    }

    /// The entry this `Next` starts at.
    #[inline(always)]
    fn entry(&self) -> &'a MiddlewareEntry {
        // SAFETY: a `Next` that is run points at an entry of a live chain: every chain
        // ends with the handler's entry, and the one past it is never run.
        unsafe { self.at.as_ref() }
    }

    /// Runs the rest of the chain and the handler. Middleware of a disabled or failed
    /// plugin steps aside; a guard of one rejects the command.
    ///
    /// The chain was entered once when it started, so a layer's turn is an indirect
    /// call under a landing pad (which attributes a panic to the layer it started in)
    /// and one store when it returns; behind a disarmed dispatch gate, a state check too.
    #[inline]
    pub fn run(self, invocation: &mut Invocation<'_>) -> Result<(), DispatchError> {
        self.run_rest(invocation)
    }

    /// The rest of the chain from this entry.
    #[inline(always)]
    fn run_rest(self, invocation: &mut Invocation<'_>) -> Result<(), DispatchError> {
        if invocation.planned {
            // The handler's entry runs as a layer does, so nothing tests for the end.
            return invocation.run_layer(self.entry());
        }
        self.run_checked(invocation)
    }

    /// [`Next::run`] behind a disarmed gate: each layer's plugin's state is checked.
    #[inline(never)]
    fn run_checked(self, invocation: &mut Invocation<'_>) -> Result<(), DispatchError> {
        let mut layer = self.entry();
        while !layer.is_terminal() {
            if layer.slot().is_active() {
                return invocation.run_layer(layer);
            }
            if layer.guard {
                return Err(guard_layer_down(invocation, layer));
            }
            layer = Next::after(layer).entry();
        }
        invocation.run_layer(layer)
    }
}

/// The layer of a guard whose plugin is not active: the command is rejected.
#[cold]
#[inline(never)]
fn guard_layer_down(invocation: &Invocation<'_>, layer: &MiddlewareEntry) -> DispatchError {
    super::guard_down(
        invocation.ends.runtime(),
        invocation.ends.command(),
        layer.owner,
        layer.slot().state(),
    )
}

/// A layer returned an error: audited as a rejection by the first layer to return it
/// (the one whose own error it is), passed through by the layers above.
#[cold]
#[inline(never)]
fn layer_failed(invocation: &mut Invocation<'_>, owner: usize, error: DispatchError) -> DispatchError {
    if !invocation.failed_below {
        super::audit_rejection(invocation.ends.runtime(), invocation.ends.command(), owner, &error);
    }
    invocation.failed_below = true;
    error
}

impl std::fmt::Debug for Next<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut remaining = 0;
        let mut layer = self.entry();
        while !layer.is_terminal() {
            remaining += 1;
            layer = Next::after(layer).entry();
        }
        f.debug_struct("Next").field("remaining", &remaining).finish()
    }
}

/// Takes the value out of a request or response slot of command `command`: the
/// handler's end takes the request, a typed layer's adapter the request and then the
/// response. Empty, the chain has no value to give (a middleware took it, or answered
/// nothing): [`DispatchErrorKind::NoResponse`]; still borrowed by a middleware's guard:
/// [`DispatchErrorKind::RequestHeld`].
#[inline(always)]
pub(crate) fn take_slot<T>(slot: &RefCell<Option<T>>, command: &str) -> Result<T, DispatchError> {
    match slot.try_borrow_mut().map(|mut slot| slot.take()) {
        Ok(Some(value)) => Ok(value),
        Ok(None) => Err(no_response(command)),
        Err(_) => Err(held(command)),
    }
}

/// Puts `value` in a request or response slot of command `command`; a middleware's
/// guard still borrowing it is [`DispatchErrorKind::RequestHeld`].
#[inline(always)]
pub(crate) fn put_slot<T>(slot: &RefCell<Option<T>>, value: T, command: &str) -> Result<(), DispatchError> {
    *slot.try_borrow_mut().map_err(|_| held(command))? = Some(value);
    Ok(())
}

/// The error for a chain that ended without a response.
#[cold]
pub(crate) fn no_response(command: &str) -> DispatchError {
    DispatchError::from(DispatchErrorKind::NoResponse {
        command: command.to_owned(),
    })
}

/// The error for a request or response a middleware still held.
#[cold]
fn held(command: &str) -> DispatchError {
    DispatchError::from(DispatchErrorKind::RequestHeld {
        command: command.to_owned(),
    })
}

fn slot<'a, T: 'static>(cell: &'a dyn Any) -> Option<RefMut<'a, T>> {
    let borrowed = cell.downcast_ref::<RefCell<Option<T>>>()?.try_borrow_mut().ok()?;
    RefMut::filter_map(borrowed, Option::as_mut).ok()
}

/// Which commands a middleware applies to: `*` (all), `prefix*`, or one exact id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Pattern {
    All,
    Prefix(String),
    Exact(String),
}

impl Pattern {
    pub(crate) fn parse(pattern: &str) -> Pattern {
        match pattern.strip_suffix('*') {
            Some("") => Pattern::All,
            Some(prefix) => Pattern::Prefix(prefix.to_owned()),
            None => Pattern::Exact(pattern.to_owned()),
        }
    }

    /// The pattern as it was written.
    pub(crate) fn text(&self) -> String {
        match self {
            Pattern::All => "*".to_owned(),
            Pattern::Prefix(prefix) => format!("{prefix}*"),
            Pattern::Exact(exact) => exact.clone(),
        }
    }

    /// Whose commands the pattern can reach, for plugin `plugin`'s permission check:
    /// the plugin itself when every id it can match is in its namespace
    /// (`<plugin>:name`, `<plugin>:*`), the other plugin an exact id names, or the
    /// pattern as written (`*`, `gre*`) when it can match any plugin's commands.
    pub(crate) fn reach<'a>(&'a self, plugin: &'a str) -> std::borrow::Cow<'a, str> {
        let in_own = |text: &str| text.strip_prefix(plugin).is_some_and(|rest| rest.starts_with(':'));
        match self {
            Pattern::Exact(id) if in_own(id) => plugin.into(),
            Pattern::Prefix(prefix) if in_own(prefix) => plugin.into(),
            Pattern::Exact(id) => id.split_once(':').map_or(id.as_str(), |(owner, _)| owner).into(),
            Pattern::Prefix(_) | Pattern::All => self.text().into(),
        }
    }

    pub(crate) fn matches(&self, id: &str) -> bool {
        match self {
            Pattern::All => true,
            Pattern::Prefix(prefix) => id.starts_with(prefix.as_str()),
            Pattern::Exact(exact) => id == exact,
        }
    }
}

/// A guard the application declared: the commands matching `pattern` run only while
/// plugin `plugin` is active, whether or not it registered anything.
#[derive(Clone, Debug)]
pub(crate) struct HostGuard {
    pub(crate) pattern: Pattern,
    pub(crate) plugin: Arc<str>,
    /// Its position, or `None` when no such plugin runs in this host.
    pub(crate) position: Option<usize>,
}

/// A middleware as registered.
pub(crate) struct MiddlewareRegistration {
    pub(crate) pattern: Pattern,
    pub(crate) priority: i32,
    /// A guard fails closed: while its plugin is not active, the command is rejected.
    pub(crate) guard: bool,
    pub(crate) handler: MiddlewareFn,
    /// A typed middleware's typed form (`handler` is then its adapter).
    pub(crate) typed: Option<Arc<dyn AnyTypedLayer>>,
}

/// A command's middleware chain as a call walks it: its layers, highest priority first,
/// then one last entry that runs the command's handler, so that a [`Next`] is one
/// pointer and a layer's turn tests nothing about where the chain ends. Empty when the
/// command has no middleware.
#[derive(Clone, Default)]
pub(crate) struct Chain {
    entries: Box<[MiddlewareEntry]>,
    /// When every layer is typed middleware of the command's types: the same layers as a
    /// `TypedChain<Req, Resp>`, which a typed handle walks behind the armed gate.
    typed: Option<Arc<dyn Any + Send + Sync>>,
}

impl Chain {
    /// The chain of `layers` around a command of the `types` given.
    pub(crate) fn new(mut layers: Vec<MiddlewareEntry>, types: TypeId) -> Chain {
        if layers.is_empty() {
            return Chain::default();
        }
        let typed = layers
            .iter()
            .all(|layer| !layer.guard && layer.typed.as_ref().is_some_and(|typed| typed.types() == types))
            .then(|| layers[0].typed.as_ref()?.chain(&layers))
            .flatten();
        layers.push(MiddlewareEntry::terminal());
        Chain {
            entries: layers.into_boxed_slice(),
            typed,
        }
    }

    /// The typed chain, if every layer is typed middleware of the command's types.
    pub(crate) fn typed<Req: 'static, Resp: 'static>(&self) -> Option<&TypedChain<Req, Resp>> {
        self.typed.as_ref()?.downcast_ref()
    }

    /// The layers, without the handler's entry.
    pub(crate) fn layers(&self) -> &[MiddlewareEntry] {
        self.entries.split_last().map_or(&[], |(_, layers)| layers)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Runs the whole chain; it has layers.
    #[inline(always)]
    pub(crate) fn run(&self, invocation: &mut Invocation<'_>) -> Result<(), DispatchError> {
        debug_assert!(!self.is_empty());
        // SAFETY: a chain with layers ends with the handler's entry, so it has a first.
        Next::at(unsafe { self.entries.get_unchecked(0) }).run_rest(invocation)
    }
}

/// A middleware in the frozen tables, or a chain's last entry.
#[derive(Clone)]
pub(crate) struct MiddlewareEntry {
    /// The plugin whose layer this is; [`HANDLER`] for a chain's last entry.
    pub(crate) owner: usize,
    priority: i32,
    guard: bool,
    pattern: Pattern,
    handler: MiddlewareFn,
    /// A typed middleware's typed form.
    typed: Option<Arc<dyn AnyTypedLayer>>,
    /// `Arc::as_ptr` of `handler`: the chain calls through it, without the `Arc`
    /// header's arithmetic.
    raw: *const MiddlewareDyn,
    /// The owner's slot in the runtime, found once at the freeze: a layer's turn reads
    /// its state word without indexing the runtime's plugins, and its address is the
    /// key the chain enters it under. Null in a chain's last entry.
    slot: *const PluginSlot,
}

// SAFETY: `raw` points into `handler`, which is `Send + Sync` and lives as long; `slot`
// points into the runtime's plugins, which never move and outlive every table (the
// runtime owns the tables), and a `PluginSlot` is `Sync`.
unsafe impl Send for MiddlewareEntry {}
// SAFETY: as above.
unsafe impl Sync for MiddlewareEntry {}

impl MiddlewareEntry {
    /// A chain's last entry: the command's handler, run as a layer is.
    fn terminal() -> MiddlewareEntry {
        static TERMINAL: std::sync::LazyLock<MiddlewareFn> = std::sync::LazyLock::new(|| Arc::new(terminal));
        let handler = Arc::clone(&TERMINAL);
        MiddlewareEntry {
            owner: HANDLER,
            priority: 0,
            guard: false,
            pattern: Pattern::All,
            raw: Arc::as_ptr(&handler),
            handler,
            typed: None,
            slot: std::ptr::null(),
        }
    }

    /// The typed form, if this is a typed middleware.
    pub(crate) fn typed(&self) -> Option<&dyn AnyTypedLayer> {
        self.typed.as_deref()
    }

    /// Whether this is a chain's last entry.
    #[inline(always)]
    fn is_terminal(&self) -> bool {
        self.owner == HANDLER
    }

    /// The owner's slot; not of a chain's last entry.
    #[inline(always)]
    pub(crate) fn slot(&self) -> &PluginSlot {
        // SAFETY: see the `Send` impl.
        unsafe { &*self.slot }
    }

    /// The key a call enters this layer's plugin under.
    #[inline(always)]
    pub(crate) fn key(&self) -> usize {
        self.slot as usize
    }

    /// The same middleware, in the same place: the same plugin's same function.
    pub(crate) fn same_layer(&self, other: &MiddlewareEntry) -> bool {
        self.owner == other.owner && self.guard == other.guard && Arc::ptr_eq(&self.handler, &other.handler)
    }
}

impl MiddlewareRegistration {
    /// The layer as the tables hold it; `slots` are the runtime's plugins.
    pub(crate) fn freeze(&self, owner: usize, slots: &[PluginSlot]) -> MiddlewareEntry {
        MiddlewareEntry {
            slot: &slots[owner],
            owner,
            priority: self.priority,
            guard: self.guard,
            pattern: self.pattern.clone(),
            handler: Arc::clone(&self.handler),
            typed: self.typed.clone(),
            raw: Arc::as_ptr(&self.handler),
        }
    }
}

/// Gives each command its chain: the matching middleware, highest priority first, then
/// in activation order. `middleware` arrives in activation and registration order, and
/// the sort is stable, so that order breaks priority ties.
pub(crate) fn attach(commands: &mut [CommandEntry], mut middleware: Vec<MiddlewareEntry>) {
    middleware.sort_by_key(|entry| (std::cmp::Reverse(entry.priority), entry.owner));
    for command in commands {
        command.middleware = Chain::new(
            middleware
                .iter()
                .filter(|m| m.pattern.matches(&command.id))
                .cloned()
                .collect(),
            command.types,
        );
        let direct = command.middleware.is_empty() && command.guards.is_empty() && !command.metered && !command.traced;
        command.set_direct(direct);
    }
}
