//! Typed middleware: a layer written for one command's request and response types, which
//! takes the request by value and returns the response, as a closure around the handler
//! would.
//!
//! [`Context::typed_middleware`](crate::Context::typed_middleware) registers one around one
//! command. It is ordered and entered as pattern middleware is (priority, then activation
//! order; its plugin entered while it runs, panics and rejections attributed to it), and
//! the two kinds mix in one chain. What typing buys is the cost: a command whose chain is
//! typed middleware alone gets a *typed chain* when the tables freeze, a flat array of the
//! layers' functions that a [`CommandHandle`](super::CommandHandle) walks with no request
//! slot, no `dyn Any` and no per-layer state check (behind the armed dispatch gate). In a
//! chain that also has pattern middleware, or whose command the application guards or
//! observes, each typed layer runs through an adapter over the request and response slots,
//! with the same outcome.
//!
//! A typed middleware registered with types other than its command's fails closed: every
//! call of the command is rejected with
//! [`DispatchErrorKind::LayerTypes`](super::DispatchErrorKind::LayerTypes), which names the
//! plugin and both sets of types.

use std::any::{Any, TypeId, type_name};
use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr::NonNull;
use std::sync::Arc;

use super::chain::{Ends, Invocation, MiddlewareEntry, MiddlewareFn, Next, no_response, put_slot, take_slot};
use super::running::audit_rejection;
use super::{CommandEntry, DispatchError, DispatchErrorKind, DynHandler, Metadata, handler_error, handler_panic};
use crate::runtime::{RawCall, Runtime};

/// A typed middleware's function, as a chain calls it.
pub(crate) type TypedLayerDyn<Req, Resp> =
    dyn Fn(Req, TypedNext<'_, Req, Resp>) -> Result<Resp, DispatchError> + Send + Sync;

/// The owner of a typed chain's last entry, the handler's: whom a panic there blames.
const HANDLER: usize = usize::MAX;

/// [`TypedCx::panicked_in`] while no panic came up through a layer's turn.
const NO_PANIC: usize = usize::MAX - 1;

/// The rest of a command's chain after a typed middleware, ending at its handler: run it
/// with the request to get the response.
///
/// It also tells the layer about the call: the command, who invoked it, its metadata.
///
/// ```
/// use patchpanel::commands::TypedNext;
/// use patchpanel::{Context, Host, Plugin, PluginError, PluginSpec};
///
/// #[patchpanel::register_plugin(
///     id = "math",
///     version = "1.0.0",
///     permissions = { commands = ["intercept", "register"] },
/// )]
/// #[derive(Default)]
/// struct Math;
///
/// impl Plugin for Math {
///     fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
///         context.command("double", |_, n: u64| Ok(n * 2))?;
///         // Around `math:double`: refuse large inputs, and add one to every answer.
///         context.typed_middleware("math:double", 0, |n: u64, next: TypedNext<'_, u64, u64>| {
///             if n > 1_000 {
///                 return Err(next.reject(format!("{n} is too large")));
///             }
///             Ok(next.run(n)? + 1)
///         })?;
///         Ok(())
///     }
/// }
///
/// let host = Host::builder().plugins(vec![PluginSpec::registered::<Math>()?]).build()?;
/// let double = host.command::<u64, u64>("math:double")?;
/// assert_eq!(double.call(20)?, 41);
/// assert_eq!(
///     double.call(5_000).unwrap_err().to_string(),
///     "command `math:double` was rejected: 5000 is too large"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Guide: [talking between plugins](crate::guide::talking).
pub struct TypedNext<'a, Req, Resp> {
    /// The next entry of the chain: a layer, or the last entry, which ends the chain.
    at: NonNull<TypedEntry<Req, Resp>>,
    cx: &'a TypedCx<'a, Req, Resp>,
}

impl<Req, Resp> TypedNext<'_, Req, Resp> {
    /// Runs the rest of the chain and the handler with `request`. An error from further
    /// down comes back as it was (already attributed to whoever returned it).
    ///
    /// A turn costs an indirect call and one store when it returns: the chain was
    /// entered once when it started, and the landing pad that attributes a panic to the
    /// layer it started in is not work on the path that does not panic.
    #[inline]
    pub fn run(self, request: Req) -> Result<Resp, DispatchError> {
        let cx = self.cx;
        // SAFETY: a `TypedNext` a layer receives points at an entry of a live chain, all
        // of whose entries up to the last are layers; the last one never runs its next.
        let entry = unsafe { self.at.as_ref() };
        // SAFETY: `raw` points into the chain's own `Arc` of the function.
        let layer = unsafe { &*entry.raw };
        let next = TypedNext {
            // SAFETY: one past an element of the chain's slice is in bounds or its end.
            at: unsafe { self.at.add(1) },
            cx,
        };
        cx.turn(entry.owner, || layer(request, next))
    }

    /// The command id, `plugin:name`.
    pub fn command(&self) -> &str {
        self.cx.command()
    }

    /// The plugin that invoked the command, or `None` when the application did.
    pub fn invoker(&self) -> Option<&str> {
        self.cx.invoker()
    }

    /// A metadata value passed with the command.
    pub fn metadata(&self, key: &str) -> Option<&str> {
        self.cx.metadata(key)
    }

    /// An error that rejects this command, with the reason given: return it instead of
    /// running the rest of the chain.
    pub fn reject(&self, reason: impl Into<String>) -> DispatchError {
        DispatchError::rejected(self.command(), reason.into())
    }
}

impl<Req, Resp> std::fmt::Debug for TypedNext<'_, Req, Resp> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TypedNext")
            .field("command", &self.command())
            .field("invoker", &self.invoker())
            .finish_non_exhaustive()
    }
}

/// One call's walk through a typed chain (or a handle's static layers), on the stack of
/// the call: how the chain ends, and who to blame for a panic or an error.
///
/// Nominally public, for the sealed [`Layers`](super::Layers) trait's walk; nothing
/// outside the crate can name or make one.
pub struct TypedCx<'a, Req, Resp> {
    /// How the chain ends.
    end: End<'a, Req, Resp>,
    metadata: Metadata<'a>,
    /// Whose code panicked, once a panic came up through a layer's turn: the plugin of
    /// the innermost layer it passed (its own), or [`HANDLER`]; [`NO_PANIC`] while none did.
    panicked_in: Cell<usize>,
    /// Set when an error came up from further down the chain, so that the layer whose
    /// own error it is (the first to return it) is the one audited.
    failed_below: Cell<bool>,
}

impl<Req, Resp> TypedCx<'_, Req, Resp> {
    /// A layer of plugin `owner` runs (`layer`, with its next), under the guard that
    /// attributes a panic to the layer it started in; its own error is audited as its
    /// rejection. On the path that does not panic, a store and a test after the call.
    #[inline(always)]
    pub(super) fn turn(
        &self,
        owner: usize,
        layer: impl FnOnce() -> Result<Resp, DispatchError>,
    ) -> Result<Resp, DispatchError> {
        match catch_unwind(AssertUnwindSafe(layer)) {
            Ok(result) => {
                // The turn returned: a panic noted below it was caught on the way and
                // blames nobody now.
                self.panicked_in.set(NO_PANIC);
                result.map_err(|error| self.layer_failed(owner, error))
            }
            Err(payload) => self.panicked(owner, payload),
        }
    }

    /// The end of the chain: the handler (or the rest of an erased chain) with `request`.
    #[inline(always)]
    pub(super) fn finish(&self, request: Req) -> Result<Resp, DispatchError> {
        match self.end {
            End::Handler(target) => target
                .call_handler(request)
                .map_err(|error| self.ended_in(target.failed(error))),
            End::Erased(erased) => erased.finish(request).map_err(|error| self.ended_in(error)),
        }
    }

    /// [`TypedCx::finish`] under a guard that blames a panic on the handler's plugin
    /// rather than on the layer it passes first. Nothing below the end can have noted a
    /// panic, so a return needs no store.
    #[inline(always)]
    pub(super) fn finish_guarded(&self, request: Req) -> Result<Resp, DispatchError> {
        match catch_unwind(AssertUnwindSafe(|| self.finish(request))) {
            Ok(result) => result,
            Err(payload) => self.panicked(HANDLER, payload),
        }
    }

    /// The command id.
    pub(super) fn command(&self) -> &str {
        self.end().command()
    }

    /// The plugin that invoked the command.
    pub(super) fn invoker(&self) -> Option<&str> {
        self.end().invoker()
    }

    /// A metadata value passed with the command.
    pub(super) fn metadata(&self, key: &str) -> Option<&str> {
        self.metadata.iter().find(|(k, _)| *k == key).map(|(_, value)| *value)
    }

    /// What the chain runs for (the command, its invoker) and how it ends.
    fn end(&self) -> &dyn TypedEnd<Req, Resp> {
        match self.end {
            End::Handler(target) => target,
            End::Erased(erased) => erased,
        }
    }

    /// A layer of plugin `owner` returned an error: audited as a rejection by the first
    /// layer to return it, passed through by the layers above.
    #[cold]
    #[inline(never)]
    pub(super) fn layer_failed(&self, owner: usize, error: DispatchError) -> DispatchError {
        if !self.failed_below.replace(true) {
            audit_rejection(self.end().runtime(), self.end().command(), owner, &error);
        }
        error
    }

    /// A panic came up through `owner`'s turn: the first turn it reaches is the one it
    /// started in, so a panic already noted keeps its plugin.
    #[cold]
    #[inline(never)]
    pub(super) fn panicked(&self, owner: usize, payload: Box<dyn Any + Send>) -> ! {
        if self.panicked_in.get() == NO_PANIC {
            self.panicked_in.set(owner);
        }
        std::panic::resume_unwind(payload)
    }

    /// The plugin whose layer panicked, or `None` when the handler did.
    fn panicked_in(&self) -> Option<usize> {
        let owner = self.panicked_in.get();
        (owner != HANDLER && owner != NO_PANIC).then_some(owner)
    }

    /// The end's outcome failed: the layers above pass the error through.
    #[cold]
    #[inline(never)]
    pub(super) fn ended_in(&self, error: DispatchError) -> DispatchError {
        self.failed_below.set(true);
        error
    }
}

/// How a typed chain ends.
enum End<'a, Req, Resp> {
    /// In the handler of a handle's (or a dispatch's) target, which the chain's last
    /// entry calls directly.
    Handler(&'a Target<'a, Req, Resp>),
    /// In the rest of an erased chain: a typed layer run by its adapter.
    Erased(&'a dyn TypedEnd<Req, Resp>),
}

/// How a typed chain ends, and what it runs for.
trait TypedEnd<Req, Resp> {
    /// Runs the rest of the command with the request.
    fn finish(&self, request: Req) -> Result<Resp, DispatchError>;
    /// The command id.
    fn command(&self) -> &str;
    /// The plugin that invoked the command.
    fn invoker(&self) -> Option<&str>;
    /// The runtime the command runs in.
    fn runtime(&self) -> &Runtime;
}

/// The function of a typed chain's last entry: the command's handler, or the rest of a
/// chain that a typed layer runs inside ([`adapter`]).
fn terminal<Req, Resp>(request: Req, next: TypedNext<'_, Req, Resp>) -> Result<Resp, DispatchError> {
    next.cx.finish(request)
}

/// What a [`CommandHandle`](super::CommandHandle) calls: the caller, the command, and its
/// handler with the call it receives. A typed chain that a handle walks ends here.
pub(crate) struct Target<'h, Req, Resp> {
    pub(crate) call: RawCall<'h>,
    /// What the handler receives: `call` entered into the command's plugin, made once.
    pub(crate) inner: RawCall<'h>,
    pub(crate) entry: NonNull<CommandEntry>,
    pub(crate) handler: NonNull<DynHandler<Req, Resp>>,
}

impl<Req, Resp> Clone for Target<'_, Req, Resp> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<Req, Resp> Copy for Target<'_, Req, Resp> {}

impl<Req, Resp> Target<'_, Req, Resp> {
    /// The command's entry.
    #[inline(always)]
    pub(crate) fn entry(&self) -> &CommandEntry {
        // SAFETY: whoever made the target (a handle, a dispatch by id) keeps the entry's
        // tables alive while it is used.
        unsafe { self.entry.as_ref() }
    }

    /// Calls the handler (which handles its own panics' containment no more than the
    /// direct path does: the caller guards it).
    #[inline(always)]
    fn call_handler(&self, request: Req) -> Result<Resp, crate::PluginError> {
        // SAFETY: as in `entry`.
        let handler = unsafe { self.handler.as_ref() };
        handler(&self.inner, request)
    }

    /// The handler's error, audited and attributed to the command's plugin.
    #[cold]
    #[inline(never)]
    fn failed(&self, error: crate::PluginError) -> DispatchError {
        handler_error(&self.call, self.entry(), error)
    }
}

impl<Req, Resp> TypedEnd<Req, Resp> for Target<'_, Req, Resp> {
    fn finish(&self, request: Req) -> Result<Resp, DispatchError> {
        self.call_handler(request).map_err(|error| self.failed(error))
    }

    fn command(&self) -> &str {
        &self.entry().id
    }

    fn invoker(&self) -> Option<&str> {
        self.call.plugin()
    }

    fn runtime(&self) -> &Runtime {
        self.call.runtime
    }
}

/// An entry of a [`TypedChain`].
struct TypedEntry<Req, Resp> {
    /// The plugin whose layer this is; [`HANDLER`] for the last entry.
    owner: usize,
    /// The function, without the `Arc` header's arithmetic.
    raw: *const TypedLayerDyn<Req, Resp>,
    /// Owns `raw`'s function; `None` for the last entry, whose function is static.
    _function: Option<Arc<TypedLayerDyn<Req, Resp>>>,
    /// The layer's value when it was registered as a type
    /// ([`Context::layer`](crate::Context::layer)), for a handle that names its layers.
    instance: Option<Arc<dyn Any + Send + Sync>>,
}

impl<Req: 'static, Resp: 'static> TypedEntry<Req, Resp> {
    fn new(owner: usize, layer: &TypedLayer<Req, Resp>) -> TypedEntry<Req, Resp> {
        TypedEntry {
            owner,
            raw: Arc::as_ptr(&layer.function),
            _function: Some(Arc::clone(&layer.function)),
            instance: layer.instance.clone(),
        }
    }

    /// The last entry: made without allocating, as an adapter makes one every call.
    fn terminal() -> TypedEntry<Req, Resp> {
        let function: &'static TypedLayerDyn<Req, Resp> = const { &terminal::<Req, Resp> };
        TypedEntry {
            owner: HANDLER,
            raw: function,
            _function: None,
            instance: None,
        }
    }
}

/// A command's chain when every layer is typed middleware of its types: the layers'
/// functions in order, then the entry that calls the handler. Built when the tables
/// freeze; a [`CommandHandle`](super::CommandHandle) holds a pointer to it.
pub(crate) struct TypedChain<Req, Resp> {
    entries: Box<[TypedEntry<Req, Resp>]>,
}

// SAFETY: the entries' `raw` point into their own `Arc`s of `Send + Sync` functions.
unsafe impl<Req, Resp> Send for TypedChain<Req, Resp> {}
// SAFETY: as above.
unsafe impl<Req, Resp> Sync for TypedChain<Req, Resp> {}

/// The first entry of a [`TypedChain`], which a handle keeps: a call starts here.
pub(crate) struct TypedStart<Req, Resp> {
    first: NonNull<TypedEntry<Req, Resp>>,
}

impl<Req, Resp> Clone for TypedStart<Req, Resp> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<Req, Resp> Copy for TypedStart<Req, Resp> {}

impl<Req, Resp> TypedChain<Req, Resp> {
    /// Where a call starts.
    pub(crate) fn start(&self) -> TypedStart<Req, Resp> {
        TypedStart {
            // A typed chain has at least one layer, and its last entry.
            first: NonNull::from(&self.entries[0]),
        }
    }

    /// The layers in the order a call runs them: each one's plugin, and its value when
    /// it was registered as a type.
    pub(crate) fn layers(&self) -> impl ExactSizeIterator<Item = (usize, Option<&(dyn Any + Send + Sync)>)> {
        let (_, layers) = self
            .entries
            .split_last()
            .expect("a typed chain ends in its handler's entry");
        layers.iter().map(|entry| (entry.owner, entry.instance.as_deref()))
    }
}

/// Runs `walk` (the layers of a typed chain, or a handle's static layers) for `target`,
/// whose call has entered the chain behind the armed dispatch gate, under one panic guard
/// that knows which layer was running.
#[inline(always)]
pub(crate) fn walk<Req, Resp>(
    target: &Target<'_, Req, Resp>,
    metadata: Metadata<'_>,
    request: Req,
    walk: impl FnOnce(&TypedCx<'_, Req, Resp>, Req) -> Result<Resp, DispatchError>,
) -> Result<Resp, DispatchError> {
    let cx = TypedCx {
        end: End::Handler(target),
        metadata,
        panicked_in: Cell::new(NO_PANIC),
        failed_below: Cell::new(false),
    };
    match catch_unwind(AssertUnwindSafe(|| walk(&cx, request))) {
        Ok(result) => result,
        Err(payload) => Err(handler_panic(
            &target.call,
            target.entry(),
            cx.panicked_in(),
            payload.as_ref(),
        )),
    }
}

impl<Req, Resp> TypedStart<Req, Resp> {
    /// Walks the chain for `target`, whose call has entered it behind the armed dispatch
    /// gate (so every layer's plugin is active until it ends), under one panic guard that
    /// knows which layer was running.
    ///
    /// # Safety
    ///
    /// The chain is alive: the caller holds the tables it is in.
    #[inline(always)]
    pub(crate) unsafe fn run(
        &self,
        target: &Target<'_, Req, Resp>,
        request: Req,
        metadata: Metadata<'_>,
    ) -> Result<Resp, DispatchError> {
        let first = self.first;
        walk(target, metadata, request, |cx, request| {
            TypedNext { at: first, cx }.run(request)
        })
    }
}

/// What a typed middleware registration keeps beside its erased adapter: its types, and
/// how to build a [`TypedChain`] of layers of its types.
pub(crate) trait AnyTypedLayer: Send + Sync {
    /// `TypeId::of::<(Req, Resp)>()`.
    fn types(&self) -> TypeId;
    /// The layer as `dyn Any`, for the chain's builder to downcast.
    fn as_any(&self) -> &dyn Any;
    /// The typed chain of `layers`, each typed middleware of this one's types (checked
    /// by the caller), as a `TypedChain<Req, Resp>` behind `dyn Any`.
    fn chain(&self, layers: &[MiddlewareEntry]) -> Option<Arc<dyn Any + Send + Sync>>;
}

/// A typed middleware's function, as registered.
pub(crate) struct TypedLayer<Req, Resp> {
    function: Arc<TypedLayerDyn<Req, Resp>>,
    /// The layer's value, when it was registered as a type.
    instance: Option<Arc<dyn Any + Send + Sync>>,
}

impl<Req: 'static, Resp: 'static> AnyTypedLayer for TypedLayer<Req, Resp> {
    fn types(&self) -> TypeId {
        TypeId::of::<(Req, Resp)>()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn chain(&self, layers: &[MiddlewareEntry]) -> Option<Arc<dyn Any + Send + Sync>> {
        let mut entries = layers
            .iter()
            .map(|layer| {
                let typed = layer.typed()?.as_any().downcast_ref::<TypedLayer<Req, Resp>>()?;
                Some(TypedEntry::new(layer.owner, typed))
            })
            .collect::<Option<Vec<_>>>()?;
        entries.push(TypedEntry::terminal());
        Some(Arc::new(TypedChain {
            entries: entries.into_boxed_slice(),
        }))
    }
}

/// A typed middleware of plugin `plugin`, registered: its typed form, for typed chains,
/// and its erased form, which runs it in any other chain.
pub(crate) fn register<Req: 'static, Resp: 'static>(
    plugin: &str,
    function: Arc<TypedLayerDyn<Req, Resp>>,
    instance: Option<Arc<dyn Any + Send + Sync>>,
) -> (Arc<dyn AnyTypedLayer>, MiddlewareFn) {
    let erased = adapter(Arc::from(plugin), Arc::clone(&function));
    (Arc::new(TypedLayer { function, instance }), erased)
}

/// The erased form of a typed middleware: it takes the request out of the chain's slot,
/// runs the layer with a [`TypedNext`] whose end puts the request back and runs the rest
/// of the chain, and leaves the response in the slot. A command of other types is
/// rejected: the layer fails closed.
fn adapter<Req: 'static, Resp: 'static>(plugin: Arc<str>, function: Arc<TypedLayerDyn<Req, Resp>>) -> MiddlewareFn {
    Arc::new(move |invocation: &mut Invocation<'_>, next: Next<'_>| {
        let Some((request, response)) = invocation.slots::<Req, Resp>() else {
            let (command_request, command_response) = invocation.ends().types();
            return Err(DispatchError::from(DispatchErrorKind::LayerTypes {
                command: invocation.command().to_owned(),
                plugin: plugin.to_string(),
                layer_request: type_name::<Req>(),
                layer_response: type_name::<Resp>(),
                request: command_request,
                response: command_response,
            }));
        };
        let (ends, metadata) = (invocation.ends(), invocation.all_metadata());
        let taken = take_slot(request, ends.command())?;
        let end = ErasedEnd {
            invocation: RefCell::new(invocation),
            next: Cell::new(Some(next)),
            request,
            response,
            ends,
        };
        let entries = [TypedEntry::<Req, Resp>::terminal()];
        let cx = TypedCx {
            end: End::Erased(&end),
            metadata,
            panicked_in: Cell::new(NO_PANIC),
            failed_below: Cell::new(false),
        };
        let answer = function(
            taken,
            TypedNext {
                at: NonNull::from(&entries[0]),
                cx: &cx,
            },
        )?;
        put_slot(response, answer, ends.command())
    })
}

/// [`TypedEnd`] of an adapter: the rest of a chain that runs pattern middleware too.
struct ErasedEnd<'i, 'a, 'n, Req, Resp> {
    invocation: RefCell<&'i mut Invocation<'a>>,
    /// The rest of the chain; taken by the one [`TypedEnd::finish`] (a `TypedNext` runs
    /// once).
    next: Cell<Option<Next<'n>>>,
    request: &'a RefCell<Option<Req>>,
    response: &'a RefCell<Option<Resp>>,
    ends: &'a dyn Ends,
}

impl<Req: 'static, Resp: 'static> TypedEnd<Req, Resp> for ErasedEnd<'_, '_, '_, Req, Resp> {
    fn finish(&self, request: Req) -> Result<Resp, DispatchError> {
        let command = self.ends.command();
        let Some(next) = self.next.take() else {
            return Err(no_response(command));
        };
        put_slot(self.request, request, command)?;
        next.run(&mut self.invocation.borrow_mut())?;
        take_slot(self.response, command)
    }

    fn command(&self) -> &str {
        self.ends.command()
    }

    fn invoker(&self) -> Option<&str> {
        self.ends.invoker()
    }

    fn runtime(&self) -> &Runtime {
        self.ends.runtime()
    }
}

#[cfg(test)]
mod tests {
    use std::any::TypeId;
    use std::sync::Arc;

    use super::{TypedNext, register};
    use crate::runtime::PluginSlot;
    use crate::runtime::commands::chain::{Chain, MiddlewareEntry, MiddlewareRegistration, Pattern};

    /// A layer around `x:run`: typed middleware of `u64 -> u64` or `u32 -> u32`, or
    /// pattern middleware (`None`); a guard when `guard`.
    fn layer(slots: &[PluginSlot], typed: Option<bool>, guard: bool) -> MiddlewareEntry {
        let (handler, typed) = match typed {
            Some(true) => {
                let (typed, erased) = register::<u64, u64>(
                    "layer",
                    Arc::new(|n: u64, next: TypedNext<'_, u64, u64>| next.run(n)),
                    None,
                );
                (erased, Some(typed))
            }
            Some(false) => {
                let (typed, erased) = register::<u32, u32>(
                    "layer",
                    Arc::new(|n: u32, next: TypedNext<'_, u32, u32>| next.run(n)),
                    None,
                );
                (erased, Some(typed))
            }
            None => (
                Arc::new(
                    |invocation: &mut crate::commands::Invocation<'_>, next: crate::commands::Next<'_>| {
                        next.run(invocation)
                    },
                ) as crate::runtime::commands::chain::MiddlewareFn,
                None,
            ),
        };
        MiddlewareRegistration {
            pattern: Pattern::Exact("x:run".to_owned()),
            priority: 0,
            guard,
            handler,
            typed,
        }
        .freeze(0, slots)
    }

    /// The plan a freeze picks: a typed chain exactly when every layer is typed
    /// middleware of the command's types, and none is a guard.
    #[test]
    fn a_chain_is_typed_only_when_every_layer_is_typed_middleware_of_the_commands_types() {
        let slots = [PluginSlot::for_tests("layer")];
        let types = TypeId::of::<(u64, u64)>();
        let typed = |layers: Vec<MiddlewareEntry>| Chain::new(layers, types).typed::<u64, u64>().is_some();
        let u64_layer = || layer(&slots, Some(true), false);
        assert!(typed(vec![u64_layer()]));
        assert!(typed(vec![u64_layer(), u64_layer(), u64_layer()]));
        assert!(
            !typed(vec![u64_layer(), layer(&slots, None, false)]),
            "mixed with pattern middleware"
        );
        assert!(
            !typed(vec![layer(&slots, Some(false), false), u64_layer()]),
            "a layer of other types"
        );
        assert!(!typed(vec![u64_layer(), layer(&slots, Some(true), true)]), "a guard");
        assert!(!typed(vec![]), "no layers, no chain");
        // Asked for other types than the chain's, nothing.
        assert!(Chain::new(vec![u64_layer()], types).typed::<u32, u32>().is_none());
    }
}
