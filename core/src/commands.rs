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

use std::any::{Any, TypeId, type_name};
use std::cell::RefCell;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::dispatch::RawCall;
use crate::host::panic_message;
use crate::lifecycle::{SharedState, State};
use crate::middleware::{Invocation, MiddlewareEntry, Next};
use crate::permissions::PermissionDenied;
use crate::plugin::PluginError;

/// Key-value metadata passed along with a command, read by middleware (for example an
/// auth token). Borrowed, so passing it allocates nothing.
pub type Metadata<'a> = &'a [(&'a str, &'a str)];

/// A command handler as registered.
/// A command handler.
pub(crate) type DynHandler<Req, Resp> = dyn Fn(&RawCall<'_>, Req) -> Result<Resp, PluginError> + Send + Sync;

/// A command handler as registered.
pub(crate) type Handler<Req, Resp> = Arc<DynHandler<Req, Resp>>;

type JsonAdapter =
    fn(&RawCall<'_>, &CommandEntry, serde_json::Value, Metadata<'_>) -> Result<serde_json::Value, DispatchError>;

/// Why a dispatch failed. [`DispatchError::kind`] tells which way.
///
/// Boxed, so that every `Result` on the dispatch path fits in two registers; a failed
/// dispatch pays one allocation.
#[derive(Debug)]
pub struct DispatchError(Box<DispatchErrorKind>);

impl DispatchError {
    /// What went wrong.
    pub fn kind(&self) -> &DispatchErrorKind {
        &self.0
    }

    /// What went wrong, by value.
    pub fn into_kind(self) -> DispatchErrorKind {
        *self.0
    }
}

impl From<DispatchErrorKind> for DispatchError {
    #[cold]
    fn from(kind: DispatchErrorKind) -> DispatchError {
        DispatchError(Box::new(kind))
    }
}

impl std::fmt::Display for DispatchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for DispatchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// The ways a dispatch can fail.
#[derive(Debug, thiserror::Error)]
pub enum DispatchErrorKind {
    /// No command has this id.
    #[error("unknown command `{id}`{}", suggestion.as_ref().map(|s| format!("; did you mean `{s}`?")).unwrap_or_default())]
    UnknownCommand {
        /// The id asked for.
        id: String,
        /// The closest registered id, if one is close.
        suggestion: Option<String>,
    },
    /// The command exists with other request or response types.
    #[error(
        "command `{id}` takes `{expected_request}` and returns `{expected_response}`, but was called with `{request}` -> `{response}`"
    )]
    WrongType {
        /// The full command id, `plugin:name`.
        id: String,
        /// Its request type.
        expected_request: &'static str,
        /// Its response type.
        expected_response: &'static str,
        /// The request type used.
        request: &'static str,
        /// The response type asked for.
        response: &'static str,
    },
    /// The plugin that owns the command is not active.
    #[error("command `{command}` is unavailable: plugin `{plugin}` is {state}")]
    NotActive {
        /// The full command id, `plugin:name`.
        command: String,
        /// The id of the plugin that registered the command.
        plugin: String,
        /// The plugin's state.
        state: State,
    },
    /// The handler returned an error.
    #[error("command `{command}` failed in plugin `{plugin}`: {source}")]
    Handler {
        /// The full command id, `plugin:name`.
        command: String,
        /// The id of the plugin that registered the command.
        plugin: String,
        /// The handler's error.
        #[source]
        source: PluginError,
    },
    /// The handler panicked; the panic was caught.
    #[error("command `{command}` panicked in plugin `{plugin}`: {message}")]
    Panicked {
        /// The full command id, `plugin:name`.
        command: String,
        /// The id of the plugin that registered the command.
        plugin: String,
        /// The panic message.
        message: String,
    },
    /// Middleware refused the command.
    #[error("command `{command}` was rejected: {reason}")]
    Rejected {
        /// The full command id, `plugin:name`.
        command: String,
        /// Why, in the middleware's words.
        reason: String,
    },
    /// The JSON request did not fit the command's request type, or the response could
    /// not be serialized.
    #[error("command `{command}`: {message}")]
    Json {
        /// The full command id, `plugin:name`.
        command: String,
        /// What serde reported, with the expected type.
        message: String,
    },
    /// A middleware still held the request or response (from `Invocation::request` or
    /// `Invocation::response`) when the handler needed it.
    #[error("command `{command}`: a middleware held the request or response across `next.run`; drop the guard first")]
    RequestHeld {
        /// The full command id, `plugin:name`.
        command: String,
    },
    /// The calling plugin may not run this command.
    #[error(transparent)]
    Denied(Box<PermissionDenied>),
    /// Middleware ended the chain without calling the handler or giving a response.
    #[error("command `{command}` produced no response: a middleware neither called `next` nor responded")]
    NoResponse {
        /// The full command id, `plugin:name`.
        command: String,
    },
}

/// A command as registered by a plugin, before the tables are frozen.
pub(crate) struct CommandRegistration {
    pub(crate) id: String,
    request: (TypeId, &'static str),
    response: (TypeId, &'static str),
    handler: Arc<dyn Any + Send + Sync>,
    json: JsonAdapter,
}

/// A command in the frozen table.
pub(crate) struct CommandEntry {
    pub(crate) id: String,
    pub(crate) owner: usize,
    state: SharedState,
    request: (TypeId, &'static str),
    response: (TypeId, &'static str),
    /// A `Handler<Req, Resp>`.
    handler: Arc<dyn Any + Send + Sync>,
    json: JsonAdapter,
    pub(crate) middleware: Vec<MiddlewareEntry>,
    /// No middleware and no metrics: calls take the inlined fast path.
    pub(crate) direct: bool,
    /// Record metrics for this command (the host was built with metrics on).
    pub(crate) metered: bool,
}

impl CommandRegistration {
    pub(crate) fn new<Req, Resp>(id: String, handler: Handler<Req, Resp>) -> CommandRegistration
    where
        Req: DeserializeOwned + Send + 'static,
        Resp: Serialize + Send + 'static,
    {
        CommandRegistration {
            id,
            request: (TypeId::of::<Req>(), type_name::<Req>()),
            response: (TypeId::of::<Resp>(), type_name::<Resp>()),
            handler: Arc::new(handler),
            json: json_adapter::<Req, Resp>,
        }
    }

    pub(crate) fn freeze(&self, owner: usize, state: SharedState) -> CommandEntry {
        CommandEntry {
            id: self.id.clone(),
            owner,
            state,
            request: self.request,
            response: self.response,
            handler: Arc::clone(&self.handler),
            json: self.json,
            middleware: Vec::new(),
            direct: true,
            metered: false,
        }
    }
}

impl CommandEntry {
    /// The typed handler, if the types match.
    #[inline]
    fn handler<Req: 'static, Resp: 'static>(&self) -> Result<&DynHandler<Req, Resp>, DispatchError> {
        match self.handler.downcast_ref::<Handler<Req, Resp>>() {
            Some(handler) => Ok(&**handler),
            None => Err(self.wrong_type::<Req, Resp>()),
        }
    }

    #[cold]
    fn wrong_type<Req, Resp>(&self) -> DispatchError {
        DispatchError::from(DispatchErrorKind::WrongType {
            id: self.id.clone(),
            expected_request: self.request.1,
            expected_response: self.response.1,
            request: type_name::<Req>(),
            response: type_name::<Resp>(),
        })
    }
}

/// A command resolved once, for the fastest dispatch.
///
/// ```
/// # use patchpanel::{Context, Host, Manifest, Plugin, PluginError, PluginSpec};
/// # #[derive(Default)]
/// # struct Math;
/// # impl patchpanel::permissions::CommandsRegister for Math {}
/// # impl Plugin for Math {
/// #     fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
/// #         context.command("double", |_, n: u64| Ok(n * 2))?;
/// #         Ok(())
/// #     }
/// # }
/// # let host = Host::builder()
/// #     .plugins(vec![PluginSpec::new::<Math>(Manifest::builder("math", "1.0.0").build()?)])
/// #     .build()?;
/// let double = host.command::<u64, u64>("math:double")?;
/// assert_eq!(double.call(21)?, 42);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct CommandHandle<'h, Req, Resp> {
    call: RawCall<'h>,
    entry: &'h CommandEntry,
    handler: &'h DynHandler<Req, Resp>,
    _types: PhantomData<fn(Req) -> Resp>,
}

impl<'h, Req: 'static, Resp: 'static> CommandHandle<'h, Req, Resp> {
    pub(crate) fn resolve(call: RawCall<'h>, id: &str) -> Result<CommandHandle<'h, Req, Resp>, DispatchError> {
        let entry = lookup(&call, id)?;
        Ok(CommandHandle {
            call,
            entry,
            handler: entry.handler::<Req, Resp>()?,
            _types: PhantomData,
        })
    }

    /// Runs the command.
    #[inline]
    pub fn call(&self, request: Req) -> Result<Resp, DispatchError> {
        dispatch(&self.call, self.entry, self.handler, request, &[])
    }

    /// Runs the command with metadata for middleware.
    #[inline]
    pub fn call_with(&self, request: Req, metadata: Metadata<'_>) -> Result<Resp, DispatchError> {
        dispatch(&self.call, self.entry, self.handler, request, metadata)
    }

    /// The command id.
    pub fn id(&self) -> &'h str {
        &self.entry.id
    }
}

impl<Req, Resp> Clone for CommandHandle<'_, Req, Resp> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<Req, Resp> Copy for CommandHandle<'_, Req, Resp> {}

impl<Req, Resp> std::fmt::Debug for CommandHandle<'_, Req, Resp> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandHandle").field("id", &self.entry.id).finish()
    }
}

#[inline]
fn lookup<'h>(call: &RawCall<'h>, id: &str) -> Result<&'h CommandEntry, DispatchError> {
    let tables = call.tables();
    let entry = match tables.command_index.get(id, &tables.commands) {
        Some(index) => &tables.commands[index],
        None => return Err(unknown_command(call, id)),
    };
    // A plugin running another plugin's command is a run-time permission decision; the
    // application's own calls are not.
    if let Some(caller) = call.current_position()
        && caller != entry.owner
    {
        check_execute(call, caller, entry)?;
    }
    Ok(entry)
}

#[cold]
fn check_execute(call: &RawCall<'_>, caller: usize, entry: &CommandEntry) -> Result<(), DispatchError> {
    call.host
        .check_permission(caller, "commands", "execute", entry.owner)
        .map_err(|denied| DispatchError::from(DispatchErrorKind::Denied(denied)))
}

#[cold]
fn unknown_command(call: &RawCall<'_>, id: &str) -> DispatchError {
    let ids: Vec<&str> = call.tables().commands.iter().map(|entry| entry.id.as_str()).collect();
    DispatchError::from(DispatchErrorKind::UnknownCommand {
        id: id.to_owned(),
        suggestion: patchpanel_manifest::catalogue::closest(id, &ids).map(str::to_owned),
    })
}

/// Runs a command by string id.
#[inline]
pub(crate) fn execute<Req: 'static, Resp: 'static>(
    call: &RawCall<'_>,
    id: &str,
    request: Req,
    metadata: Metadata<'_>,
) -> Result<Resp, DispatchError> {
    let entry = lookup(call, id)?;
    dispatch(call, entry, entry.handler::<Req, Resp>()?, request, metadata)
}

/// Runs a command across the JSON boundary.
pub(crate) fn execute_json(
    call: &RawCall<'_>,
    id: &str,
    request: serde_json::Value,
    metadata: Metadata<'_>,
) -> Result<serde_json::Value, DispatchError> {
    let entry = lookup(call, id)?;
    (entry.json)(call, entry, request, metadata)
}

fn json_adapter<Req, Resp>(
    call: &RawCall<'_>,
    entry: &CommandEntry,
    request: serde_json::Value,
    metadata: Metadata<'_>,
) -> Result<serde_json::Value, DispatchError>
where
    Req: DeserializeOwned + 'static,
    Resp: Serialize + 'static,
{
    let request: Req = serde_json::from_value(request).map_err(|error| {
        DispatchError::from(DispatchErrorKind::Json {
            command: entry.id.clone(),
            message: format!("the request is not a valid `{}`: {error}", type_name::<Req>()),
        })
    })?;
    let response: Resp = dispatch(call, entry, entry.handler::<Req, Resp>()?, request, metadata)?;
    serde_json::to_value(response).map_err(|error| {
        DispatchError::from(DispatchErrorKind::Json {
            command: entry.id.clone(),
            message: format!("the response `{}` does not serialize: {error}", type_name::<Resp>()),
        })
    })
}

/// The one dispatch routine every way in ends at. The common case (an active plugin,
/// no middleware) is inlined into the caller: one state check and one guarded call.
#[inline(always)]
fn dispatch<Req: 'static, Resp: 'static>(
    call: &RawCall<'_>,
    entry: &CommandEntry,
    handler: &DynHandler<Req, Resp>,
    request: Req,
    metadata: Metadata<'_>,
) -> Result<Resp, DispatchError> {
    // Until a `tracing` subscriber exists anywhere in the process (one relaxed load),
    // dispatch skips spans entirely; the traced path below opens one per dispatch.
    if entry.direct && entry.state.is_active() && !tracing::dispatcher::has_been_set() {
        return call_handler(call, entry, handler, request);
    }
    dispatch_through_chain(call, entry, handler, request, metadata)
}

/// Runs the handler on behalf of its plugin, under a panic guard.
#[inline(always)]
fn call_handler<Req, Resp>(
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

/// An inactive plugin, a command with middleware or metrics, or a process with a
/// `tracing` subscriber: the dispatch runs in a span carrying the plugin and command,
/// and the chain under one panic guard, which knows which layer was running.
#[inline(never)]
fn dispatch_through_chain<Req: 'static, Resp: 'static>(
    call: &RawCall<'_>,
    entry: &CommandEntry,
    handler: &DynHandler<Req, Resp>,
    request: Req,
    metadata: Metadata<'_>,
) -> Result<Resp, DispatchError> {
    if !entry.state.is_active() {
        return Err(not_active(call, entry, call.host.state_at(entry.owner)));
    }
    let _span =
        tracing::debug_span!("patchpanel.dispatch", command = %entry.id, plugin = call.host.plugin_id_at(entry.owner))
            .entered();
    let started = entry.metered.then(std::time::Instant::now);
    let result = run_chain(call, entry, handler, request, metadata);
    if let Some(started) = started {
        record_command(call, entry, started, result.is_ok());
    }
    result
}

#[cold]
fn record_command(call: &RawCall<'_>, entry: &CommandEntry, started: std::time::Instant, ok: bool) {
    let plugin = call.host.plugin_id_at(entry.owner).to_owned();
    let labels = [("plugin", plugin), ("command", entry.id.clone())];
    ::metrics::counter!("patchpanel_commands_total", &labels).increment(1);
    ::metrics::histogram!("patchpanel_command_seconds", &labels).record(started.elapsed().as_secs_f64());
    if !ok {
        ::metrics::counter!("patchpanel_command_errors_total", &labels).increment(1);
    }
}

fn run_chain<Req: 'static, Resp: 'static>(
    call: &RawCall<'_>,
    entry: &CommandEntry,
    handler: &DynHandler<Req, Resp>,
    request: Req,
    metadata: Metadata<'_>,
) -> Result<Resp, DispatchError> {
    if entry.middleware.is_empty() {
        return call_handler(call, entry, handler, request);
    }
    let inner = call.enter(entry.owner);
    let request_slot = RefCell::new(Some(request));
    let response_slot: RefCell<Option<Resp>> = RefCell::new(None);
    let terminal = |_: &mut Invocation<'_>| -> Result<(), DispatchError> {
        let taken = request_slot.try_borrow_mut().map(|mut slot| slot.take());
        let request = match taken {
            Ok(Some(request)) => request,
            Ok(None) => {
                return Err(DispatchError::from(DispatchErrorKind::NoResponse {
                    command: entry.id.clone(),
                }));
            }
            Err(_) => {
                return Err(DispatchError::from(DispatchErrorKind::RequestHeld {
                    command: entry.id.clone(),
                }));
            }
        };
        let response = handler(&inner, request).map_err(|error| handler_error(call, entry, error))?;
        match response_slot.try_borrow_mut() {
            Ok(mut slot) => *slot = Some(response),
            Err(_) => {
                return Err(DispatchError::from(DispatchErrorKind::RequestHeld {
                    command: entry.id.clone(),
                }));
            }
        }
        Ok(())
    };
    let mut invocation = Invocation::new(call, &entry.id, metadata, &request_slot, &response_slot);
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        Next::new(&entry.middleware, &terminal).run(&mut invocation)
    }));
    let running = invocation.running();
    match outcome {
        Ok(result) => result?,
        Err(payload) => return Err(handler_panic(call, entry, running, payload.as_ref())),
    }
    response_slot.into_inner().ok_or_else(|| {
        DispatchError::from(DispatchErrorKind::NoResponse {
            command: entry.id.clone(),
        })
    })
}

#[cold]
fn not_active(call: &RawCall<'_>, entry: &CommandEntry, state: State) -> DispatchError {
    DispatchError::from(DispatchErrorKind::NotActive {
        command: entry.id.clone(),
        plugin: call.host.plugin_id_at(entry.owner).to_owned(),
        state,
    })
}

#[cold]
fn handler_error(call: &RawCall<'_>, entry: &CommandEntry, source: PluginError) -> DispatchError {
    DispatchError::from(DispatchErrorKind::Handler {
        command: entry.id.clone(),
        plugin: call.host.plugin_id_at(entry.owner).to_owned(),
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
    DispatchError::from(DispatchErrorKind::Panicked {
        command: entry.id.clone(),
        plugin: call.host.plugin_id_at(owner).to_owned(),
        message: format!("{prefix}{}", panic_message(payload)),
    })
}

crate::plugin::plugin_error_from!(DispatchError);
