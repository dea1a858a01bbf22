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
//! calls whose middleware is still running. A call enters all of its chain's plugins
//! when the chain starts, with one fence, and checks each one's state at its turn; so
//! disabling a middleware's plugin also waits for calls that have not reached its layer
//! yet, and once `disable` returns, no call runs through it.
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

use std::any::Any;
use std::cell::{RefCell, RefMut};
use std::sync::Arc;

use super::{CommandEntry, DispatchError, DispatchErrorKind, Metadata};
use crate::runtime::{PluginSlot, RawCall};

/// A middleware function, as the chain calls it.
pub(crate) type MiddlewareDyn = dyn Fn(&mut Invocation<'_>, Next<'_>) -> Result<(), DispatchError> + Send + Sync;

/// A middleware function.
pub(crate) type MiddlewareFn = Arc<MiddlewareDyn>;

/// [`Invocation::running`] once the handler runs.
const HANDLER: usize = usize::MAX;

/// One command passing through the middleware chain.
pub struct Invocation<'a> {
    call: RawCall<'a>,
    /// The plugin whose middleware is running; [`HANDLER`] once the handler runs.
    running: usize,
    command: &'a str,
    metadata: Metadata<'a>,
    /// A `RefCell<Option<Req>>`: shared with the handler's typed end of the chain, which
    /// takes the request without a downcast.
    request: &'a dyn Any,
    /// A `RefCell<Option<Resp>>`.
    response: &'a dyn Any,
    /// Set when an error came up from further down the chain, so that the middleware
    /// whose own error it is (the first to return it) is the one audited.
    failed_below: bool,
    /// The end of the chain: the command's handler. Held here rather than in every
    /// [`Next`], so that a `Next` is two words and travels in registers.
    terminal: Terminal<'a>,
}

/// The end of a chain: runs the command's handler on the invocation's request.
pub(crate) type Terminal<'a> = &'a dyn Fn(&mut Invocation<'_>) -> Result<(), DispatchError>;

impl<'a> Invocation<'a> {
    pub(crate) fn new(
        call: &RawCall<'a>,
        command: &'a str,
        metadata: Metadata<'a>,
        request: &'a dyn Any,
        response: &'a dyn Any,
        terminal: Terminal<'a>,
    ) -> Invocation<'a> {
        Invocation {
            terminal,
            call: *call,
            running: HANDLER,
            command,
            metadata,
            request,
            response,
            failed_below: false,
        }
    }

    /// The command id, `plugin:name`.
    pub fn command(&self) -> &str {
        self.command
    }

    /// The plugin that invoked the command, or `None` when the application did.
    pub fn invoker(&self) -> Option<&str> {
        self.call.plugin()
    }

    /// A metadata value passed with the command.
    pub fn metadata(&self, key: &str) -> Option<&'a str> {
        self.metadata.iter().find(|(k, _)| *k == key).map(|(_, value)| *value)
    }

    /// The request, if it is a `T` and the handler has not taken it yet. Drop the guard
    /// before calling [`Next::run`].
    pub fn request<T: 'static>(&self) -> Option<RefMut<'a, T>> {
        slot::<T>(self.request)
    }

    /// The response, if it is a `T` and has been produced.
    pub fn response<T: 'static>(&self) -> Option<RefMut<'a, T>> {
        slot::<T>(self.response)
    }

    /// Sets the response. Returns false (and sets nothing) if the command does not
    /// respond with a `T`. A middleware that responds without calling `next`
    /// short-circuits the command.
    pub fn respond<T: 'static>(&self, response: T) -> bool {
        match self
            .response
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

    /// An error that rejects this command, with the reason given.
    pub fn reject(&self, reason: impl Into<String>) -> DispatchError {
        DispatchError::from(DispatchErrorKind::Rejected {
            command: self.command.to_owned(),
            reason: reason.into(),
        })
    }

    pub(crate) fn running(&self) -> Option<usize> {
        (self.running != HANDLER).then_some(self.running)
    }
}

impl std::fmt::Debug for Invocation<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Invocation")
            .field("command", &self.command)
            .field("invoker", &self.invoker())
            .finish_non_exhaustive()
    }
}

/// The rest of the chain, ending at the command's handler.
pub struct Next<'a> {
    chain: &'a [MiddlewareEntry],
}

impl<'a> Next<'a> {
    pub(crate) fn new(chain: &'a [MiddlewareEntry]) -> Next<'a> {
        Next { chain }
    }

    /// Runs the rest of the chain and the handler. Middleware of a disabled or failed
    /// plugin steps aside; a guard of one rejects the command.
    ///
    /// The call entered every middleware's plugin when the chain started (one fence for
    /// all of them), so a layer's turn costs a state check and an indirect call.
    #[inline]
    pub fn run(self, invocation: &mut Invocation<'_>) -> Result<(), DispatchError> {
        let mut chain = self.chain;
        while let Some((first, rest)) = chain.split_first() {
            if first.slot().is_active() {
                invocation.running = first.owner;
                invocation.failed_below = false;
                // SAFETY: see `MiddlewareEntry::raw`.
                let handler = unsafe { &*first.raw };
                let result = handler(invocation, Next { chain: rest });
                if let Err(error) = &result {
                    layer_failed(invocation, first.owner, error);
                }
                return result;
            }
            if first.guard {
                return Err(guard_layer_down(invocation, first));
            }
            chain = rest;
        }
        invocation.running = HANDLER;
        let terminal = invocation.terminal;
        let result = terminal(invocation);
        invocation.failed_below = result.is_err();
        result
    }
}

/// The layer of a guard whose plugin is not active: the command is rejected.
#[cold]
#[inline(never)]
fn guard_layer_down(invocation: &Invocation<'_>, layer: &MiddlewareEntry) -> DispatchError {
    super::guard_down(
        invocation.call.runtime,
        invocation.command,
        layer.owner,
        layer.slot().state(),
    )
}

/// A layer returned an error: audited as a rejection by the first layer to return it
/// (the one whose own error it is), passed through by the layers above.
#[cold]
#[inline(never)]
fn layer_failed(invocation: &mut Invocation<'_>, owner: usize, error: &DispatchError) {
    if !invocation.failed_below {
        super::audit_rejection(invocation.call.runtime, invocation.command, owner, error);
    }
    invocation.failed_below = true;
}

impl std::fmt::Debug for Next<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Next").field("remaining", &self.chain.len()).finish()
    }
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
}

/// A middleware in the frozen tables.
#[derive(Clone)]
pub(crate) struct MiddlewareEntry {
    pub(crate) owner: usize,
    priority: i32,
    guard: bool,
    pattern: Pattern,
    handler: MiddlewareFn,
    /// `Arc::as_ptr` of `handler`: the chain calls through it, without the `Arc`
    /// header's arithmetic.
    raw: *const MiddlewareDyn,
    /// The owner's slot in the runtime, found once at the freeze: a layer's turn reads
    /// its state word without indexing the runtime's plugins, and its address is the
    /// key the chain enters it under.
    slot: *const PluginSlot,
}

// SAFETY: `raw` points into `handler`, which is `Send + Sync` and lives as long; `slot`
// points into the runtime's plugins, which never move and outlive every table (the
// runtime owns the tables), and a `PluginSlot` is `Sync`.
unsafe impl Send for MiddlewareEntry {}
// SAFETY: as above.
unsafe impl Sync for MiddlewareEntry {}

impl MiddlewareEntry {
    /// The owner's slot.
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
        command.middleware = middleware
            .iter()
            .filter(|m| m.pattern.matches(&command.id))
            .cloned()
            .collect();
        let direct = command.middleware.is_empty() && command.guards.is_empty() && !command.metered && !command.traced;
        command.set_direct(direct);
    }
}
