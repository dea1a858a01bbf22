//! Commands: request/response calls into a plugin, by typed handle, by string id, or
//! across a JSON boundary.
//!
//! Command ids are namespaced, `"<plugin-id>:<name>"`, and a plugin can register only in
//! its own namespace. Every command can be reached three ways, fastest first:
//!
//! 1. a [`CommandHandle`] resolved once with [`Host::command`](crate::Host::command): an
//!    index into the frozen table, a state check and an indirect call;
//! 2. a string id, [`Host::execute`](crate::Host::execute): one hash lookup more;
//! 3. JSON, [`Host::execute_json`](crate::Host::execute_json): for CLIs and scripts.
//!
//! All three run the same middleware chain and the same handler.

pub(crate) mod cache;
pub(crate) mod chain;
mod decode;
mod error;
mod handle;
pub(crate) mod index;
mod json;
mod layer;
mod pending;
mod running;
mod supersede;
pub(crate) mod typed_middleware;

pub use error::{DispatchError, DispatchErrorKind};
pub(crate) use error::{guard_down, refused};
pub use handle::CommandHandle;
pub use layer::{Downstream, Layer, LayeredHandle, Layers};
pub(crate) use pending::{AsyncCommand, start as start_async};
pub use pending::{BoxFuture, Pending};
pub(crate) use supersede::supersede;

use std::any::{Any, TypeId, type_name};
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use self::chain::{Chain, HostGuard};
use self::json::{asynchronous, asynchronous_json, contained, decode, encode, execute_json, json_adapter};
use self::running::{audit_rejection, call_handler, run, run_chain, run_entered_chain};
use super::quiescence::{self, Inside, SECTION};
use super::{Call, Observe, RawCall, Refused, Tables};
use crate::error::PluginError;
use crate::lifecycle::State;
use crate::permissions::CommandsExecute;
use crate::support::panic_message;

/// Key-value metadata passed along with a command, read by middleware (for example an
/// auth token). Borrowed, so passing it allocates nothing.
pub type Metadata<'a> = &'a [(&'a str, &'a str)];

/// A command handler.
pub(crate) type DynHandler<Req, Resp> = dyn Fn(&RawCall<'_>, Req) -> Result<Resp, PluginError> + Send + Sync;

/// A command handler as registered.
pub(crate) type Handler<Req, Resp> = Arc<DynHandler<Req, Resp>>;

/// A command's handler behind `dyn Any` in the tables, with the raw pointer that
/// dispatch calls through.
struct Typed<Req, Resp> {
    /// Owns the handler.
    _handler: Handler<Req, Resp>,
    /// `Arc::as_ptr` of the handler: a call loads it and calls, without the `Arc`
    /// header's arithmetic (for a `dyn` value, its offset depends on the alignment the
    /// vtable records).
    raw: *const DynHandler<Req, Resp>,
}

// SAFETY: `raw` points into `_handler`, which is `Send + Sync` and lives as long.
unsafe impl<Req, Resp> Send for Typed<Req, Resp> {}
// SAFETY: as above.
unsafe impl<Req, Resp> Sync for Typed<Req, Resp> {}

/// A handler erased for the tables: the owning `Arc` (whose identity tells two tables'
/// entries of one handler apart from a new one) and the address of its `Typed`, read
/// by dispatch once the types are checked.
#[derive(Clone)]
struct ErasedHandler {
    owner: Arc<dyn Any + Send + Sync>,
    typed: std::ptr::NonNull<()>,
}

// SAFETY: `typed` points into `owner`, which is `Send + Sync` and lives as long.
unsafe impl Send for ErasedHandler {}
// SAFETY: as above.
unsafe impl Sync for ErasedHandler {}

impl ErasedHandler {
    fn new<Req: 'static, Resp: 'static>(handler: Handler<Req, Resp>) -> ErasedHandler {
        let raw = Arc::as_ptr(&handler);
        let owner: Arc<dyn Any + Send + Sync> = Arc::new(Typed { _handler: handler, raw });
        let typed = std::ptr::NonNull::from(&*owner).cast::<()>();
        ErasedHandler { owner, typed }
    }
}

type JsonAdapter =
    fn(&RawCall<'_>, &CommandEntry, serde_json::Value, Metadata<'_>) -> Result<serde_json::Value, DispatchError>;

/// The JSON way into an async command: the response comes later.
type AsyncJsonAdapter = fn(
    &RawCall<'_>,
    &CommandEntry,
    serde_json::Value,
    Metadata<'_>,
) -> Result<Pending<serde_json::Value>, DispatchError>;

/// A command as registered by a plugin, before the tables are frozen.
pub(crate) struct CommandRegistration {
    pub(crate) id: String,
    /// `TypeId::of::<(Req, Resp)>()`: one compare checks both types.
    types: TypeId,
    request: (TypeId, &'static str),
    response: (TypeId, &'static str),
    handler: ErasedHandler,
    json: JsonAdapter,
    json_async: Option<AsyncJsonAdapter>,
}

/// A command in the frozen table.
pub(crate) struct CommandEntry {
    pub(crate) id: String,
    pub(crate) owner: usize,
    /// `TypeId::of::<(Req, Resp)>()`: one compare checks both types.
    pub(crate) types: TypeId,
    request: (TypeId, &'static str),
    response: (TypeId, &'static str),
    /// A `Handler<Req, Resp>`.
    handler: ErasedHandler,
    json: JsonAdapter,
    /// For an async command, whose handler returns a [`Pending`].
    json_async: Option<AsyncJsonAdapter>,
    /// The handler is async: synchronous callers are told to use the async way in.
    pub(crate) asynchronous: bool,
    pub(crate) middleware: Chain,
    /// No middleware and no metrics: calls take the inlined fast path.
    direct: bool,
    /// `types` when the command is direct, otherwise the `TypeId` of a type no command
    /// takes: a string-id dispatch checks "direct, and of these types" with one compare.
    direct_types: TypeId,
    /// Record metrics for this command (the host was built with metrics on).
    pub(crate) metered: bool,
    /// Run the command in a span (a `tracing` subscriber existed when the host was built).
    pub(crate) traced: bool,
    /// The guards the application declared for this command: each must be active.
    pub(crate) guards: Vec<HostGuard>,
}

impl CommandRegistration {
    pub(crate) fn new<Req, Resp>(id: String, handler: Handler<Req, Resp>) -> CommandRegistration
    where
        Req: DeserializeOwned + Send + 'static,
        Resp: Serialize + Send + 'static,
    {
        CommandRegistration::with_adapters(id, handler, type_name::<Resp>(), json_adapter::<Req, Resp>, None)
    }

    /// An async command: its handler returns the [`Pending`] future of a `Resp`.
    pub(crate) fn new_async<Req, Resp>(id: String, handler: Handler<Req, Pending<Resp>>) -> CommandRegistration
    where
        Req: DeserializeOwned + Send + 'static,
        Resp: Serialize + Send + 'static,
    {
        // A command whose response is the future, named by what it resolves to, with
        // the JSON ways in swapped: the sync one refuses, the async one awaits.
        CommandRegistration::with_adapters(
            id,
            handler,
            type_name::<Resp>(),
            asynchronous_json,
            Some(pending::json_adapter::<Req, Resp>),
        )
    }

    fn with_adapters<Req: 'static, Resp: 'static>(
        id: String,
        handler: Handler<Req, Resp>,
        response_name: &'static str,
        json: JsonAdapter,
        json_async: Option<AsyncJsonAdapter>,
    ) -> CommandRegistration {
        CommandRegistration {
            id,
            types: TypeId::of::<(Req, Resp)>(),
            request: (TypeId::of::<Req>(), type_name::<Req>()),
            response: (TypeId::of::<Resp>(), response_name),
            handler: ErasedHandler::new(handler),
            json,
            json_async,
        }
    }

    pub(crate) fn freeze(&self, owner: usize, observe: Observe) -> CommandEntry {
        CommandEntry {
            id: self.id.clone(),
            owner,
            types: self.types,
            request: self.request,
            response: self.response,
            handler: self.handler.clone(),
            json: self.json,
            json_async: self.json_async,
            asynchronous: self.json_async.is_some(),
            middleware: Chain::default(),
            direct: false,
            direct_types: TypeId::of::<NotDirect>(),
            metered: observe.metrics,
            traced: observe.spans,
            guards: Vec::new(),
        }
        .with_direct(!observe.any())
    }
}

/// The types of no command: [`CommandEntry::direct_types`] of a command with a chain.
enum NotDirect {}

impl CommandEntry {
    /// The typed handler, if the types match. The types are compared as the `TypeId`
    /// of the pair recorded at registration, which spares the virtual call of
    /// `Any::downcast_ref` and a second compare.
    #[inline(always)]
    fn handler<Req: 'static, Resp: 'static>(&self) -> Result<&DynHandler<Req, Resp>, DispatchError> {
        if !self.is::<Req, Resp>() {
            return Err(self.wrong_type::<Req, Resp>());
        }
        // SAFETY: just checked.
        Ok(unsafe { self.handler_unchecked() })
    }

    /// This entry, direct or not.
    pub(crate) fn with_direct(mut self, direct: bool) -> CommandEntry {
        self.set_direct(direct);
        self
    }

    /// Sets whether calls take the inlined fast path (a freeze, once the chain and the
    /// guards are known).
    pub(crate) fn set_direct(&mut self, direct: bool) {
        self.direct = direct;
        self.direct_types = if direct { self.types } else { TypeId::of::<NotDirect>() };
    }

    /// Whether the command runs a middleware chain and nothing else: no guard the
    /// application declared, no metrics, no span.
    pub(crate) fn plain_chain(&self) -> bool {
        !self.middleware.is_empty() && self.guards.is_empty() && !self.metered && !self.traced
    }

    /// Whether the command takes a `Req` and answers a `Resp`.
    #[inline(always)]
    fn is<Req: 'static, Resp: 'static>(&self) -> bool {
        self.types == TypeId::of::<(Req, Resp)>()
    }

    /// The typed handler.
    ///
    /// # Safety
    ///
    /// [`CommandEntry::is`] holds for `Req` and `Resp`.
    #[inline(always)]
    unsafe fn handler_unchecked<Req: 'static, Resp: 'static>(&self) -> &DynHandler<Req, Resp> {
        // SAFETY: `CommandRegistration::with_adapters::<Req, Resp>` erased a
        // `Typed<Req, Resp>` and recorded `TypeId::of::<(Req, Resp)>()` beside it, which
        // the caller compared (equal `TypeId`s are equal types); `raw` points into the
        // handler that the same allocation owns, which the entry keeps alive.
        unsafe { &*(*self.handler.typed.as_ptr().cast::<Typed<Req, Resp>>()).raw }
    }

    #[cold]
    fn wrong_type<Req, Resp>(&self) -> DispatchError {
        if self.asynchronous {
            return asynchronous(self);
        }
        DispatchError::from(DispatchErrorKind::WrongType {
            id: self.id.clone(),
            expected_request: self.request.1,
            expected_response: self.response.1,
            request: type_name::<Req>(),
            response: type_name::<Resp>(),
        })
    }
}

/// Dispatching commands: by typed handle, by string id, or across the JSON boundary.
impl<'h, P> Call<'h, P> {
    /// Resolves a command once, for the fastest repeated dispatch.
    pub fn command<Req: 'static, Resp: 'static>(&self, id: &str) -> Result<CommandHandle<'h, Req, Resp>, DispatchError>
    where
        P: CommandsExecute,
    {
        let () = crate::permissions::Proof::<P>::COMMANDS_EXECUTE;
        CommandHandle::resolve(self.raw, id)
    }

    /// Resolves a command once with its layers named in order, as a tuple of
    /// [`Layer`] types: while the command's chain is those layers, the handle calls them
    /// as one function built for them (see [`LayeredHandle`]).
    pub fn command_with_layers<Req: 'static, Resp: 'static, L: Layers<Req, Resp>>(
        &self,
        id: &str,
    ) -> Result<LayeredHandle<'h, Req, Resp, L>, DispatchError>
    where
        P: CommandsExecute,
    {
        let () = crate::permissions::Proof::<P>::COMMANDS_EXECUTE;
        LayeredHandle::resolve(self.raw, id)
    }

    /// Runs a command by id.
    #[inline]
    pub fn execute<Req: 'static, Resp: 'static>(&self, id: &str, request: Req) -> Result<Resp, DispatchError>
    where
        P: CommandsExecute,
    {
        let () = crate::permissions::Proof::<P>::COMMANDS_EXECUTE;
        execute(&self.raw, id, request, &[])
    }

    /// Runs a command by id, with metadata for middleware.
    #[inline]
    pub fn execute_with<Req: 'static, Resp: 'static>(
        &self,
        id: &str,
        request: Req,
        metadata: Metadata<'_>,
    ) -> Result<Resp, DispatchError>
    where
        P: CommandsExecute,
    {
        let () = crate::permissions::Proof::<P>::COMMANDS_EXECUTE;
        execute(&self.raw, id, request, metadata)
    }

    /// Runs a command with a JSON request and response.
    pub fn execute_json(&self, id: &str, request: serde_json::Value) -> Result<serde_json::Value, DispatchError>
    where
        P: CommandsExecute,
    {
        let () = crate::permissions::Proof::<P>::COMMANDS_EXECUTE;
        execute_json(&self.raw, id, request, &[])
    }

    /// Runs a command with a JSON request and response, with metadata for middleware.
    pub fn execute_json_with(
        &self,
        id: &str,
        request: serde_json::Value,
        metadata: Metadata<'_>,
    ) -> Result<serde_json::Value, DispatchError>
    where
        P: CommandsExecute,
    {
        let () = crate::permissions::Proof::<P>::COMMANDS_EXECUTE;
        execute_json(&self.raw, id, request, metadata)
    }

    /// Every command id, in registration order.
    pub fn command_ids(&self) -> Vec<String> {
        let Ok(inside) = quiescence::enter(SECTION) else {
            return Vec::new();
        };
        let tables = self.raw.runtime.tables(&inside);
        tables.commands.iter().map(|command| command.id.clone()).collect()
    }
}

/// Finds command `id` and checks that the calling plugin may run it.
#[inline(always)]
fn lookup<'t>(call: &RawCall<'_>, tables: &'t Tables, id: &str) -> Result<&'t CommandEntry, DispatchError> {
    let entry = match tables.command_index.get(id, &tables.commands) {
        Some(index) => &tables.commands[index],
        None => return Err(unknown_command(call, tables, id)),
    };
    // A plugin running another plugin's command is a run-time permission decision; the
    // application's own calls are not.
    if let Some(invoker) = call.current_position()
        && invoker != entry.owner
    {
        check_execute(call, invoker, entry)?;
    }
    Ok(entry)
}

#[cold]
fn check_execute(call: &RawCall<'_>, invoker: usize, entry: &CommandEntry) -> Result<(), DispatchError> {
    call.runtime
        .check_permission(invoker, "commands", "execute", entry.owner)
        .map_err(|denied| DispatchError::from(DispatchErrorKind::Denied(denied)))
}

/// For an id missing from the tables: wakes the lazy plugin that declares it, if one
/// has not been used yet. `Ok(true)` when it did (look again), `Ok(false)` when no
/// dormant plugin declares the id, and the plugin's failure when it could not activate.
#[cold]
pub(super) fn wake_for(call: &RawCall<'_>, id: &str) -> Result<bool, DispatchError> {
    let Some(position) = call.runtime.dormant_command(id) else {
        return Ok(false);
    };
    match call.runtime.wake(position) {
        Ok(()) => Ok(true),
        Err(failure) => Err(DispatchError::from(DispatchErrorKind::NotActive {
            command: id.to_owned(),
            plugin: call.runtime.plugin_id(position).to_owned(),
            state: call.runtime.plugin(position).state(),
            failure: Some(failure),
        })),
    }
}

/// An id that is not in the tables: the plugin owning its namespace is not running
/// (failed, say, and then the error says why), or the id is mistyped.
#[cold]
fn unknown_command(call: &RawCall<'_>, tables: &Tables, id: &str) -> DispatchError {
    let namespace = id.split_once(':').map(|(namespace, _)| namespace);
    if let Some(owner) = namespace.and_then(|namespace| call.runtime.position_of(namespace)) {
        let state = call.runtime.plugin(owner).state();
        if call.runtime.is_dormant(owner)
            && let Some(declared) = &call.runtime.plugin(owner).manifest.contributes
        {
            // A lazy plugin not used yet: its commands are the ones it declares.
            let plugin = call.runtime.plugin_id(owner);
            let ids: Vec<String> = declared
                .commands
                .iter()
                .map(|name| format!("{plugin}:{name}"))
                .collect();
            let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
            return DispatchError::from(DispatchErrorKind::UnknownCommand {
                id: id.to_owned(),
                suggestion: patchpanel_manifest::catalogue::closest(id, &ids).map(str::to_owned),
            });
        }
        if state != State::Active {
            return refused(call.runtime, id, owner, Refused::Inactive(state));
        }
    }
    let ids: Vec<&str> = tables.commands.iter().map(|entry| entry.id.as_str()).collect();
    DispatchError::from(DispatchErrorKind::UnknownCommand {
        id: id.to_owned(),
        suggestion: patchpanel_manifest::catalogue::closest(id, &ids).map(str::to_owned),
    })
}

/// Runs `run` on command `id`, inside its plugin: enters a section, looks the command
/// up in the current tables, then moves this thread's entry onto the owning plugin and
/// checks its state. The entry is left when `run` returns.
#[inline(always)]
fn entered<R>(
    call: &RawCall<'_>,
    id: &str,
    run: impl FnOnce(&CommandEntry) -> Result<R, DispatchError>,
) -> Result<R, DispatchError> {
    let Ok(inside) = quiescence::enter(SECTION) else {
        return Err(DispatchError::from(DispatchErrorKind::TooDeep {
            command: id.to_owned(),
        }));
    };
    let tables = call.runtime.tables(&inside);
    let entry = match lookup(call, tables, id) {
        Ok(entry) => entry,
        // A lazy plugin's command before its first use: wake it, and look again.
        Err(error) => match wake_for(call, id)? {
            true => lookup(call, call.runtime.tables(&inside), id)?,
            false => return Err(error),
        },
    };
    let slot = call.runtime.plugin(entry.owner);
    inside.retarget(slot.key());
    let state = slot.state();
    if state != State::Active {
        return Err(not_active(call, entry, state));
    }
    let result = run(entry);
    drop(inside);
    result
}

/// The fast path's find: command `id` in the tables of the section `inside` (entered
/// on the record's fast path), when `direct` says the frozen entry allows the call
/// without a chain and its plugin runs it for the application or for itself (no
/// permission to decide); the section is then moved onto the plugin, which is active.
/// `None` leaves everything else to the general entry.
#[inline(always)]
fn direct_entry<'h: 't, 't>(
    call: &RawCall<'h>,
    inside: &'t Inside,
    id: &str,
    direct: impl FnOnce(&CommandEntry) -> bool,
) -> Option<&'t CommandEntry> {
    let tables = call.runtime.tables(inside);
    let index = tables.command_index.get(id, &tables.commands)?;
    // SAFETY: the index holds positions of `tables.commands`.
    let entry = unsafe { tables.commands.get_unchecked(index) };
    if !direct(entry) || call.current_position().is_some_and(|invoker| invoker != entry.owner) {
        return None;
    }
    // SAFETY: a frozen command's owner is a position of the runtime's plugins.
    let slot = unsafe { call.runtime.plugins.get_unchecked(entry.owner) };
    inside.retarget_entered_fast(slot.key());
    slot.is_active().then_some(entry)
}

/// Runs a command by string id. The fast path is the one the frozen entry allows: a
/// direct command (no guard, middleware or observation) of an active plugin, run by
/// the application or by its own plugin (no permission to decide), with the types it
/// was registered with. Everything else, errors included, is [`execute_slowly`]'s.
#[inline(always)]
fn execute<Req: 'static, Resp: 'static>(
    call: &RawCall<'_>,
    id: &str,
    request: Req,
    metadata: Metadata<'_>,
) -> Result<Resp, DispatchError> {
    if let Some(inside) = quiescence::enter_fast(SECTION) {
        let found = direct_entry(call, &inside, id, |entry| {
            entry.direct_types == TypeId::of::<(Req, Resp)>()
        });
        if let Some(entry) = found {
            // SAFETY: `entry.is::<Req, Resp>()` holds (`direct_types` is `types`).
            let handler = unsafe { entry.handler_unchecked::<Req, Resp>() };
            let result = call_handler(call, entry, handler, request);
            drop(inside);
            return result;
        }
        drop(inside);
    }
    execute_slowly(call, id, request, metadata)
}

/// [`execute`] off its fast path: a lazy plugin to wake, a permission to decide, a
/// chain to run, a refusal or an error to build.
#[inline(never)]
fn execute_slowly<Req: 'static, Resp: 'static>(
    call: &RawCall<'_>,
    id: &str,
    request: Req,
    metadata: Metadata<'_>,
) -> Result<Resp, DispatchError> {
    entered(call, id, |entry| {
        run(call, entry, entry.handler::<Req, Resp>()?, request, metadata)
    })
}

#[cold]
fn too_deep(entry: &CommandEntry) -> DispatchError {
    DispatchError::from(DispatchErrorKind::TooDeep {
        command: entry.id.clone(),
    })
}

/// The error for a command whose plugin was found in `state` at its door.
#[cold]
fn not_active(call: &RawCall<'_>, entry: &CommandEntry, state: State) -> DispatchError {
    refused(call.runtime, &entry.id, entry.owner, Refused::Inactive(state))
}

#[cold]
fn handler_error(call: &RawCall<'_>, entry: &CommandEntry, source: PluginError) -> DispatchError {
    call.runtime.audit_failure(
        entry.owner,
        format!("command {}", entry.id),
        crate::error::error_chain(&source),
    );
    DispatchError::from(DispatchErrorKind::Handler {
        command: entry.id.clone(),
        plugin: call.runtime.plugin_id(entry.owner).to_owned(),
        source,
    })
}

/// A panic in the handler (`middleware` is `None`) or in the middleware of plugin
/// `middleware`.
#[cold]
fn handler_panic(
    call: &RawCall<'_>,
    entry: &CommandEntry,
    middleware: Option<usize>,
    payload: &(dyn Any + Send),
) -> DispatchError {
    let (owner, prefix) = match middleware {
        Some(owner) => (owner, "in middleware: "),
        None => (entry.owner, ""),
    };
    panicked_in(call.runtime, &entry.id, owner, prefix, payload)
}

/// The error for a panic in plugin `owner`'s code while it ran `command`, audited.
#[cold]
pub(super) fn panicked_in(
    runtime: &crate::runtime::Runtime,
    command: &str,
    owner: usize,
    prefix: &str,
    payload: &(dyn Any + Send),
) -> DispatchError {
    runtime.audit_failure(
        owner,
        format!("command {command}"),
        format!("{prefix}panicked: {}", panic_message(payload)),
    );
    DispatchError::from(DispatchErrorKind::Panicked {
        command: command.to_owned(),
        plugin: runtime.plugin_id(owner).to_owned(),
        message: format!("{prefix}{}", panic_message(payload)),
    })
}
