//! The frozen dispatch tables and [`Call`], the handle plugin code dispatches through.
//!
//! Plugins register handlers while they activate. Once every plugin has activated, the
//! host freezes those registrations into `Tables`: plain vectors and hash maps that are
//! only ever read. A dispatch therefore takes no lock and allocates nothing; the only
//! shared mutable state it reads is each plugin's lifecycle state, an atomic.
//!
//! Rebuilding the tables (on [`Host::reload`](crate::Host::reload)) needs `&mut Host`, so
//! the borrow checker rules out a dispatch or a handle that outlives the tables it uses.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::marker::PhantomData;
use std::sync::Arc;

use crate::commands::{self, CommandEntry, CommandHandle, DispatchError, Metadata};
use crate::context::Registrations;
use crate::events::{self, Delivery, EventChannel};
use crate::hooks::HookTable;
use crate::hooks::{Hook, HookError};
use crate::host::Host;
use crate::lifecycle::SharedState;
use crate::messaging::InboxEntry;
use crate::messaging::{self, MessageError};
use crate::middleware::MiddlewareEntry;
use crate::permissions::{App, CommandsExecute, EventsPublish, MessagingSend, ServicesConsume};
use crate::providers::ProviderEntry;
use crate::providers::{self, ServiceError};

/// A fast, non-cryptographic hasher (the Fx hash of rustc) for the frozen tables.
///
/// Keys are command ids and type ids chosen by the plugins compiled into the binary, not
/// by an attacker, so hash flooding is not a concern and SipHash's cost is not needed.
#[derive(Clone, Copy, Default)]
pub(crate) struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.add(u64::from_le_bytes(chunk.try_into().expect("chunks of eight")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut buffer = [0u8; 8];
            buffer[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(buffer));
        }
    }

    #[inline]
    fn write_u8(&mut self, value: u8) {
        self.add(u64::from(value));
    }

    #[inline]
    fn write_u64(&mut self, value: u64) {
        self.add(value);
    }

    #[inline]
    fn write_u128(&mut self, value: u128) {
        self.add(value as u64);
        self.add((value >> 64) as u64);
    }

    #[inline]
    fn write_usize(&mut self, value: usize) {
        self.add(value as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

/// A hash map with [`FxHasher`].
pub(crate) type FxHashMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// Hashes a command id. Ids are short (`plugin:name`), so up to 16 bytes are read as
/// two overlapping words and mixed with one folded multiply; longer ids fold in every
/// 16-byte block. Quality is ample for a table of trusted ids checked by full compare.
#[inline]
pub(crate) fn id_hash(id: &str) -> u64 {
    const K1: u64 = 0x2d35_8dcc_aa6c_78a5;
    const K2: u64 = 0x8bb8_4b93_962e_acc9;
    #[inline]
    fn fold(a: u64, b: u64) -> u64 {
        let product = u128::from(a ^ K1) * u128::from(b ^ K2);
        (product as u64) ^ ((product >> 64) as u64)
    }
    #[inline]
    fn word(bytes: &[u8]) -> u64 {
        u64::from_le_bytes(bytes[..8].try_into().expect("eight bytes"))
    }
    let bytes = id.as_bytes();
    let len = bytes.len();
    let (a, b) = if len >= 8 {
        (word(bytes), word(&bytes[len - 8..]))
    } else if len >= 4 {
        let half = |at: usize| u64::from(u32::from_le_bytes(bytes[at..at + 4].try_into().expect("four bytes")));
        (half(0), half(len - 4))
    } else if len > 0 {
        (
            u64::from(bytes[0]) | u64::from(bytes[len / 2]) << 8 | u64::from(bytes[len - 1]) << 16,
            0,
        )
    } else {
        (0, 0)
    };
    let mut seed = len as u64;
    if len > 16 {
        for block in bytes[8..len - 8].chunks(16) {
            let mut padded = [0u8; 16];
            padded[..block.len()].copy_from_slice(block);
            seed = fold(seed ^ word(&padded), word(&padded[8..]));
        }
    }
    fold(a ^ seed, b)
}

/// String equality with the common id lengths (8 to 16 bytes) compared as two words,
/// instead of a call to `memcmp`.
#[inline]
fn same_id(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let len = a.len();
    if len != b.len() {
        return false;
    }
    if (8..=16).contains(&len) {
        let word = |bytes: &[u8], at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("eight bytes"));
        word(a, 0) == word(b, 0) && word(a, len - 8) == word(b, len - 8)
    } else {
        a == b
    }
}

/// Command ids to positions in [`Tables::commands`]: open addressing with linear
/// probing over a power-of-two table kept at most half full.
#[derive(Default)]
pub(crate) struct CommandIndex {
    /// `(hash, position + 1)`; a position of 0 marks an empty slot.
    slots: Box<[(u64, usize)]>,
    mask: usize,
}

impl CommandIndex {
    pub(crate) fn build(commands: &[CommandEntry]) -> CommandIndex {
        let capacity = (commands.len() * 2).max(8).next_power_of_two();
        let mut slots = vec![(0_u64, 0_usize); capacity].into_boxed_slice();
        let mask = capacity - 1;
        for (position, command) in commands.iter().enumerate() {
            let hash = id_hash(&command.id);
            let mut index = hash as usize & mask;
            while slots[index].1 != 0 {
                index = (index + 1) & mask;
            }
            slots[index] = (hash, position + 1);
        }
        CommandIndex { slots, mask }
    }

    /// The position of command `id`.
    #[inline]
    pub(crate) fn get(&self, id: &str, commands: &[CommandEntry]) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let hash = id_hash(id);
        let mut index = hash as usize & self.mask;
        loop {
            let (slot_hash, position) = self.slots[index];
            if position == 0 {
                return None;
            }
            if slot_hash == hash && same_id(&commands[position - 1].id, id) {
                return Some(position - 1);
            }
            index = (index + 1) & self.mask;
        }
    }
}

/// Every registration, frozen for dispatch.
#[derive(Default)]
pub(crate) struct Tables {
    pub(crate) commands: Vec<CommandEntry>,
    pub(crate) command_index: CommandIndex,
    /// Event type -> `Vec<Subscriber<E>>`, in delivery order.
    pub(crate) events: FxHashMap<TypeId, Box<dyn Any + Send + Sync>>,
    pub(crate) providers: FxHashMap<TypeId, Vec<ProviderEntry>>,
    pub(crate) hooks: FxHashMap<Box<str>, HookTable>,
    pub(crate) inboxes: FxHashMap<(usize, TypeId), InboxEntry>,
    /// Record metrics (the host was built with them on).
    pub(crate) metrics: bool,
}

/// The untyped core of a [`Call`]: the host and who is calling on whose behalf.
#[derive(Clone, Copy)]
pub(crate) struct RawCall<'h> {
    pub(crate) host: &'h Host,
    /// Who invoked the code now running ([`NOBODY`] for the host).
    caller: u32,
    /// Whose code is running; the caller of anything it dispatches.
    current: u32,
}

/// The host itself, in [`Call`]'s compact plugin positions.
const NOBODY: u32 = u32::MAX;

impl<'h> RawCall<'h> {
    pub(crate) fn new(host: &'h Host) -> RawCall<'h> {
        RawCall {
            host,
            caller: NOBODY,
            current: NOBODY,
        }
    }

    fn plugin_at(&self, position: u32) -> Option<&'h str> {
        (position != NOBODY).then(|| self.host.plugin_id_at(position as usize))
    }

    /// The plugin that invoked the code now running, or `None` when the host (the
    /// application) did.
    pub(crate) fn caller(&self) -> Option<&'h str> {
        self.plugin_at(self.caller)
    }

    /// The plugin whose code is running, or `None` at the host level. Anything
    /// dispatched through this call is made on its behalf.
    pub(crate) fn plugin(&self) -> Option<&'h str> {
        self.plugin_at(self.current)
    }

    /// The call that plugin `owner`'s code receives when this call dispatches to it.
    /// Positions fit in `u32`: a host of four billion plugins is not a use case.
    #[inline(always)]
    pub(crate) fn enter(&self, owner: usize) -> RawCall<'h> {
        RawCall {
            host: self.host,
            caller: self.current,
            current: owner as u32,
        }
    }

    /// The position of the plugin whose code is running, if any.
    #[inline(always)]
    pub(crate) fn current_position(&self) -> Option<usize> {
        (self.current != NOBODY).then_some(self.current as usize)
    }

    pub(crate) fn tables(&self) -> &'h Tables {
        self.host.tables()
    }

    /// Resolves a command once, for the fastest repeated dispatch.
    pub(crate) fn command<Req: 'static, Resp: 'static>(
        &self,
        id: &str,
    ) -> Result<CommandHandle<'h, Req, Resp>, DispatchError> {
        CommandHandle::resolve(*self, id)
    }

    /// Runs a command by id.
    #[inline]
    pub(crate) fn execute<Req: 'static, Resp: 'static>(&self, id: &str, request: Req) -> Result<Resp, DispatchError> {
        commands::execute(self, id, request, &[])
    }

    /// Runs a command by id, with metadata for middleware.
    #[inline]
    pub(crate) fn execute_with<Req: 'static, Resp: 'static>(
        &self,
        id: &str,
        request: Req,
        metadata: Metadata<'_>,
    ) -> Result<Resp, DispatchError> {
        commands::execute(self, id, request, metadata)
    }

    /// Runs a command with a JSON request and response.
    pub(crate) fn execute_json(
        &self,
        id: &str,
        request: serde_json::Value,
        metadata: Metadata<'_>,
    ) -> Result<serde_json::Value, DispatchError> {
        commands::execute_json(self, id, request, metadata)
    }

    /// Publishes an event to its subscribers.
    #[inline]
    pub(crate) fn publish<E: 'static + Send + Sync>(&self, event: &E) -> Delivery {
        events::publish(self, event)
    }

    /// Resolves the subscribers of `E` once, for repeated publishing.
    pub(crate) fn channel<E: 'static + Send + Sync>(&self) -> EventChannel<'h, E> {
        EventChannel::resolve(*self)
    }

    /// The best active provider of service `T`.
    pub(crate) fn service<T: ?Sized + 'static>(&self) -> Result<Arc<T>, ServiceError> {
        providers::service(self)
    }

    /// Every active provider of service `T`, best first, with the providing plugin's id.
    pub(crate) fn services<T: ?Sized + 'static>(&self) -> Vec<(String, Arc<T>)> {
        providers::services(self)
    }

    /// A declared hook, for calling.
    pub(crate) fn hook<Args: 'static, Out: 'static>(&self, id: &str) -> Result<Hook<'h, Args, Out>, HookError> {
        Hook::resolve(*self, id)
    }

    /// Sends a message to plugin `to` and returns its reply.
    pub(crate) fn request<M: Send + 'static, R: Send + 'static>(
        &self,
        to: &str,
        message: M,
    ) -> Result<R, MessageError> {
        messaging::request(self, to, message)
    }

    /// Delivers a message to plugin `to`, dropping the reply; a failure of its handler is
    /// recorded as an [`Incident`].
    pub(crate) fn send<M: Send + 'static>(&self, to: &str, message: M) -> Result<(), MessageError> {
        messaging::send(self, to, message)
    }
}

impl std::fmt::Debug for RawCall<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawCall")
            .field("caller", &self.caller())
            .field("plugin", &self.plugin())
            .finish()
    }
}

/// The handle through which code running inside the host dispatches: command
/// handlers, subscribers, hooks and inbox handlers receive one, and the application
/// gets one from [`Host::call`](crate::Host::call).
///
/// `P` is the plugin on whose behalf the call is made, and each method that needs a
/// permission requires it of `P` at compile time: a handler of a plugin whose manifest
/// does not declare `events.publish` cannot call [`Call::publish`]. The application's
/// calls are `Call<'_, App>`, which holds every permission.
///
/// It also knows who is calling, so that a handler can tell a call made by the
/// application from one made by another plugin.
pub struct Call<'h, P = App> {
    raw: RawCall<'h>,
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
            .field("caller", &self.caller())
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

    /// The plugin that invoked the code now running, or `None` when the application
    /// did.
    pub fn caller(&self) -> Option<&'h str> {
        self.raw.caller()
    }

    /// The plugin whose code is running, or `None` for the application. Anything
    /// dispatched through this call is made on its behalf.
    pub fn plugin(&self) -> Option<&'h str> {
        self.raw.plugin()
    }

    /// Resolves a command once, for the fastest repeated dispatch.
    pub fn command<Req: 'static, Resp: 'static>(&self, id: &str) -> Result<CommandHandle<'h, Req, Resp>, DispatchError>
    where
        P: CommandsExecute,
    {
        self.raw.command(id)
    }

    /// Runs a command by id.
    #[inline]
    pub fn execute<Req: 'static, Resp: 'static>(&self, id: &str, request: Req) -> Result<Resp, DispatchError>
    where
        P: CommandsExecute,
    {
        self.raw.execute(id, request)
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
        self.raw.execute_with(id, request, metadata)
    }

    /// Runs a command with a JSON request and response.
    pub fn execute_json(
        &self,
        id: &str,
        request: serde_json::Value,
        metadata: Metadata<'_>,
    ) -> Result<serde_json::Value, DispatchError>
    where
        P: CommandsExecute,
    {
        self.raw.execute_json(id, request, metadata)
    }

    /// Publishes an event to its subscribers.
    #[inline]
    pub fn publish<E: 'static + Send + Sync>(&self, event: &E) -> Delivery
    where
        P: EventsPublish,
    {
        self.raw.publish(event)
    }

    /// Resolves the subscribers of `E` once, for repeated publishing.
    pub fn channel<E: 'static + Send + Sync>(&self) -> EventChannel<'h, E>
    where
        P: EventsPublish,
    {
        self.raw.channel()
    }

    /// The best active provider of service `T`.
    pub fn service<T: ?Sized + 'static>(&self) -> Result<Arc<T>, ServiceError>
    where
        P: ServicesConsume,
    {
        self.raw.service()
    }

    /// Every active provider of service `T`, best first, with the providing plugin's id.
    pub fn services<T: ?Sized + 'static>(&self) -> Vec<(String, Arc<T>)>
    where
        P: ServicesConsume,
    {
        self.raw.services()
    }

    /// A declared hook, for calling. Calling a hook needs no permission: declaring
    /// (`hooks.declare`) and implementing (`hooks.implement`) do.
    pub fn hook<Args: 'static, Out: 'static>(&self, id: &str) -> Result<Hook<'h, Args, Out>, HookError> {
        self.raw.hook(id)
    }

    /// Sends a message to plugin `to` and returns its reply.
    pub fn request<M: Send + 'static, R: Send + 'static>(&self, to: &str, message: M) -> Result<R, MessageError>
    where
        P: MessagingSend,
    {
        self.raw.request(to, message)
    }

    /// Delivers a message to plugin `to`, dropping the reply; a failure of its handler is
    /// recorded as an [`Incident`].
    pub fn send<M: Send + 'static>(&self, to: &str, message: M) -> Result<(), MessageError>
    where
        P: MessagingSend,
    {
        self.raw.send(to, message)
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
    /// What happened.
    pub message: String,
}

/// Builds the tables from every active plugin's registrations, in activation order.
pub(crate) fn freeze(
    metrics: bool,
    states: &[SharedState],
    registrations: &[(usize, &Registrations)],
) -> Result<Tables, crate::hooks::HookOrderError> {
    let mut tables = Tables {
        metrics,
        ..Tables::default()
    };
    for (owner, registrations) in registrations {
        for command in &registrations.commands {
            let mut entry = command.freeze(*owner, states[*owner].clone());
            entry.metered = metrics;
            tables.commands.push(entry);
        }
        for subscription in &registrations.subscriptions {
            let list = tables
                .events
                .entry(subscription.event)
                .or_insert_with(|| (subscription.new_list)());
            (subscription.append)(list.as_mut(), &subscription.handler, *owner, states[*owner].clone());
        }
        for provider in &registrations.providers {
            tables
                .providers
                .entry(provider.service)
                .or_default()
                .push(ProviderEntry {
                    owner: *owner,
                    owner_id: provider.owner_id.clone(),
                    rank: provider.rank,
                    value: Arc::clone(&provider.value),
                });
        }
        for inbox in &registrations.inboxes {
            tables.inboxes.insert((*owner, inbox.message), inbox.freeze());
        }
    }
    for providers in tables.providers.values_mut() {
        crate::providers::rank(providers);
    }
    let middleware: Vec<MiddlewareEntry> = registrations
        .iter()
        .flat_map(|(owner, registrations)| {
            registrations
                .middleware
                .iter()
                .map(|m| m.freeze(*owner, states[*owner].clone()))
        })
        .collect();
    crate::middleware::attach(&mut tables.commands, middleware);
    tables.command_index = CommandIndex::build(&tables.commands);
    tables.hooks = crate::hooks::freeze(registrations)?;
    Ok(tables)
}
