//! Layers declared as types: middleware the compiler can inline.
//!
//! A [`Layer`] is typed middleware written as a type rather than a closure: its `call`
//! is generic over what follows it ([`Downstream`]), the way a tower layer is generic
//! over its inner service. A plugin registers one with
//! [`Context::layer`](crate::Context::layer), and it runs wherever its command is called
//! from, exactly as [`Context::typed_middleware`](crate::Context::typed_middleware) does.
//!
//! An application that knows a command's layers when it compiles names them, in order,
//! with [`Host::command_with_layers`](crate::Host::command_with_layers): the
//! [`LayeredHandle`] it gets calls them as one function built for those types (each
//! layer's `call` with the next one's inlined into it), with no indirect call between
//! layers. Everything else is the typed chain's: the call enters the dispatch gate once,
//! a panic is attributed to the layer it started in and a rejection to the layer that
//! made it, and a disable, a reload or a change of the chain (another layer, one gone, a
//! new order) sends calls to the current tables, where the layers run as the chain
//! registered them. The names are checked when the handle resolves, against the chain
//! the tables froze; a handle whose names do not match runs the chain as any handle does
//! ([`LayeredHandle::is_static`] says which).

use std::any::Any;
use std::ptr::NonNull;

use super::typed_middleware::{Target, TypedCx, TypedNext, walk};
use super::{CommandHandle, DispatchError, Metadata};
use crate::runtime::RawCall;

/// Middleware declared as a type, for one command's request and response types: it
/// takes the request by value and returns the response, running the rest of the chain
/// (`next`) when it decides to.
///
/// Register it with [`Context::layer`](crate::Context::layer). Its `call` is generic over
/// `next`, so that a [`LayeredHandle`] naming it can inline it into its neighbours; in a
/// chain walked at run time it receives a [`TypedNext`].
///
/// ```
/// use patchpanel::commands::{DispatchError, Downstream, Layer};
///
/// /// Refuses empty names, and trims the rest.
/// struct Trim;
///
/// impl Layer<String, String> for Trim {
///     fn call(&self, name: String, next: impl Downstream<String, String>) -> Result<String, DispatchError> {
///         if name.trim().is_empty() {
///             return Err(next.reject("a name is needed"));
///         }
///         next.run(name.trim().to_owned())
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a layer of commands from `{Req}` to `{Resp}`",
    label = "not a `Layer<{Req}, {Resp}>`",
    note = "implement `Layer<{Req}, {Resp}>` for `{Self}`, or name the command's request and response types as its layer's `impl Layer<..>` does"
)]
pub trait Layer<Req, Resp>: Send + Sync + 'static {
    /// Handles one call: return `next.run(request)` (changed or not, and its response
    /// changed or not), or an error of its own (such as [`Downstream::reject`]) instead.
    fn call(&self, request: Req, next: impl Downstream<Req, Resp>) -> Result<Resp, DispatchError>;
}

/// What follows a [`Layer`] in its command's chain: the next layers and the handler.
///
/// Implemented by the crate alone: [`TypedNext`] in a chain walked at run time, and the
/// statically built next of a [`LayeredHandle`].
pub trait Downstream<Req, Resp>: sealed::Sealed {
    /// Runs the rest of the chain and the handler with `request`. An error from further
    /// down comes back as it was (already attributed to whoever returned it).
    fn run(self, request: Req) -> Result<Resp, DispatchError>;

    /// The command id, `plugin:name`.
    fn command(&self) -> &str;

    /// The plugin that invoked the command, or `None` when the application did.
    fn invoker(&self) -> Option<&str>;

    /// A metadata value passed with the command.
    fn metadata(&self, key: &str) -> Option<&str>;

    /// An error that rejects this command, with the reason given: return it instead of
    /// running the rest of the chain.
    fn reject(&self, reason: impl Into<String>) -> DispatchError {
        DispatchError::rejected(self.command(), reason.into())
    }
}

mod sealed {
    /// Only the crate's nexts are [`Downstream`](super::Downstream), and only tuples of
    /// layers are [`Layers`](super::Layers).
    pub trait Sealed {}
}

impl<Req, Resp> sealed::Sealed for TypedNext<'_, Req, Resp> {}

impl<Req, Resp> Downstream<Req, Resp> for TypedNext<'_, Req, Resp> {
    #[inline]
    fn run(self, request: Req) -> Result<Resp, DispatchError> {
        TypedNext::run(self, request)
    }

    fn command(&self) -> &str {
        TypedNext::command(self)
    }

    fn invoker(&self) -> Option<&str> {
        TypedNext::invoker(self)
    }

    fn metadata(&self, key: &str) -> Option<&str> {
        TypedNext::metadata(self, key)
    }
}

/// The rest of a [`LayeredHandle`]'s layers, as types: `Cons` of a layer and the rest, or
/// `Nil`, the handler.
trait Walk<Req, Resp> {
    /// Runs these layers and the handler with `request`.
    fn run(self, cx: &TypedCx<'_, Req, Resp>, request: Req) -> Result<Resp, DispatchError>;
}

/// A layer of plugin `owner`, then `rest`.
struct Cons<'a, L, R> {
    layer: &'a L,
    owner: usize,
    rest: R,
}

/// The end of the layers: the handler.
struct Nil;

impl<Req, Resp> Walk<Req, Resp> for Nil {
    #[inline(always)]
    fn run(self, cx: &TypedCx<'_, Req, Resp>, request: Req) -> Result<Resp, DispatchError> {
        cx.finish_guarded(request)
    }
}

impl<Req, Resp, L: Layer<Req, Resp>, R: Walk<Req, Resp>> Walk<Req, Resp> for Cons<'_, L, R> {
    #[inline(always)]
    fn run(self, cx: &TypedCx<'_, Req, Resp>, request: Req) -> Result<Resp, DispatchError> {
        let next = StaticNext { rest: self.rest, cx };
        cx.turn(self.owner, || self.layer.call(request, next))
    }
}

/// The [`Downstream`] a [`LayeredHandle`] gives each layer: the rest of its layers, as
/// types.
struct StaticNext<'a, 'c, Req, Resp, R> {
    rest: R,
    cx: &'a TypedCx<'c, Req, Resp>,
}

impl<Req, Resp, R> sealed::Sealed for StaticNext<'_, '_, Req, Resp, R> {}

impl<Req, Resp, R: Walk<Req, Resp>> Downstream<Req, Resp> for StaticNext<'_, '_, Req, Resp, R> {
    #[inline(always)]
    fn run(self, request: Req) -> Result<Resp, DispatchError> {
        self.rest.run(self.cx, request)
    }

    fn command(&self) -> &str {
        self.cx.command()
    }

    fn invoker(&self) -> Option<&str> {
        self.cx.invoker()
    }

    fn metadata(&self, key: &str) -> Option<&str> {
        self.cx.metadata(key)
    }
}

/// A command's layers named in order, as a tuple of [`Layer`] types: `(A,)`, `(A, B)`,
/// up to eight. [`Host::command_with_layers`](crate::Host::command_with_layers) takes one.
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not name layers of commands from `{Req}` to `{Resp}`",
    label = "not a tuple of `Layer<{Req}, {Resp}>` types",
    note = "name the command's layers in the order they run, as a tuple of one to eight types that each implement `Layer<{Req}, {Resp}>`: `(A,)`, `(A, B)`, .."
)]
pub trait Layers<Req, Resp>: sealed::Sealed + 'static {
    /// Each layer's value and plugin, found in the command's frozen chain.
    #[doc(hidden)]
    type Found: Copy;

    /// The layers' values and plugins, when `chain` (each layer's plugin and value, in
    /// the order a call runs them) is exactly these types in this order.
    #[doc(hidden)]
    fn find<'a>(
        chain: impl ExactSizeIterator<Item = (usize, Option<&'a (dyn Any + Send + Sync)>)>,
    ) -> Option<Self::Found>;

    /// Runs the layers `found` and the handler with `request`.
    ///
    /// # Safety
    ///
    /// The values `found` points at are alive: the caller holds the tables they are in.
    #[doc(hidden)]
    unsafe fn walk(found: Self::Found, cx: &TypedCx<'_, Req, Resp>, request: Req) -> Result<Resp, DispatchError>;

    /// The layers' type names, in order.
    #[doc(hidden)]
    fn names() -> Vec<&'static str>;
}

/// The layers of a tuple as a `Cons` list, from the values `found`.
macro_rules! cons {
    ($found:ident;) => { Nil };
    ($found:ident; $layer:ident $index:tt $($rest:ident $rest_index:tt)*) => {
        Cons {
            // SAFETY: the caller of `walk` keeps the values alive; `find` checked the type.
            layer: unsafe { $found[$index].0.cast::<$layer>().as_ref() },
            owner: $found[$index].1,
            rest: cons!($found; $($rest $rest_index)*),
        }
    };
}

macro_rules! layers {
    ($count:literal: $($layer:ident $index:tt),+) => {
        impl<$($layer),+> sealed::Sealed for ($($layer,)+) {}

        impl<Req: 'static, Resp: 'static, $($layer: Layer<Req, Resp>),+> Layers<Req, Resp> for ($($layer,)+) {
            type Found = [(NonNull<()>, usize); $count];

            fn find<'a>(
                mut chain: impl ExactSizeIterator<Item = (usize, Option<&'a (dyn Any + Send + Sync)>)>,
            ) -> Option<Self::Found> {
                if chain.len() != $count {
                    return None;
                }
                Some([$({
                    let (owner, value) = chain.next()?;
                    (NonNull::from(value?.downcast_ref::<$layer>()?).cast::<()>(), owner)
                }),+])
            }

            #[inline(always)]
            unsafe fn walk(
                found: Self::Found,
                cx: &TypedCx<'_, Req, Resp>,
                request: Req,
            ) -> Result<Resp, DispatchError> {
                cons!(found; $($layer $index)+).run(cx, request)
            }

            fn names() -> Vec<&'static str> {
                vec![$(std::any::type_name::<$layer>()),+]
            }
        }
    };
}

layers!(1: A 0);
layers!(2: A 0, B 1);
layers!(3: A 0, B 1, C 2);
layers!(4: A 0, B 1, C 2, D 3);
layers!(5: A 0, B 1, C 2, D 3, E 4);
layers!(6: A 0, B 1, C 2, D 3, E 4, F 5);
layers!(7: A 0, B 1, C 2, D 3, E 4, F 5, G 6);
layers!(8: A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);

/// A command resolved once with its layers named as types
/// ([`Host::command_with_layers`](crate::Host::command_with_layers)): while the command's
/// chain is those layers in that order, a call runs them as one function the compiler
/// built for them; otherwise, as a [`CommandHandle`] does.
///
/// ```
/// use patchpanel::commands::{DispatchError, Downstream, Layer};
/// use patchpanel::{Context, Host, Plugin, PluginError, PluginSpec};
///
/// struct Trim;
/// impl Layer<String, String> for Trim {
///     fn call(&self, name: String, next: impl Downstream<String, String>) -> Result<String, DispatchError> {
///         next.run(name.trim().to_owned())
///     }
/// }
///
/// struct Shout;
/// impl Layer<String, String> for Shout {
///     fn call(&self, name: String, next: impl Downstream<String, String>) -> Result<String, DispatchError> {
///         Ok(next.run(name)?.to_uppercase())
///     }
/// }
///
/// #[patchpanel::register_plugin(
///     id = "names",
///     version = "1.0.0",
///     permissions = { commands = ["intercept", "register"] },
/// )]
/// #[derive(Default)]
/// struct Names;
///
/// impl Plugin for Names {
///     fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
///         context.command("greet", |_, name: String| Ok(format!("hello, {name}")))?;
///         context.layer("names:greet", 10, Trim)?; // higher priority: runs first
///         context.layer("names:greet", 0, Shout)?;
///         Ok(())
///     }
/// }
///
/// let host = Host::builder().plugins(vec![PluginSpec::registered::<Names>()?]).build()?;
/// let greet = host.command_with_layers::<String, String, (Trim, Shout)>("names:greet")?;
/// assert!(greet.is_static());
/// assert_eq!(greet.call("  ada ".to_owned())?, "HELLO, ADA");
///
/// // Named in another order, the handle still runs the chain as registered.
/// let other = host.command_with_layers::<String, String, (Shout, Trim)>("names:greet")?;
/// assert!(!other.is_static());
/// assert_eq!(other.call("  ada ".to_owned())?, "HELLO, ADA");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Guide: [talking between plugins](crate::guide::talking).
pub struct LayeredHandle<'h, Req, Resp, L: Layers<Req, Resp>> {
    handle: CommandHandle<'h, Req, Resp>,
    /// The layers' values and plugins when the chain the handle resolved is `L`.
    found: Option<L::Found>,
}

// SAFETY: `found` points at layer values (`Send + Sync`) in the tables `handle` keeps
// alive; the handle is `Send + Sync`.
unsafe impl<Req, Resp, L: Layers<Req, Resp>> Send for LayeredHandle<'_, Req, Resp, L> {}
// SAFETY: as above.
unsafe impl<Req, Resp, L: Layers<Req, Resp>> Sync for LayeredHandle<'_, Req, Resp, L> {}

impl<'h, Req: 'static, Resp: 'static, L: Layers<Req, Resp>> LayeredHandle<'h, Req, Resp, L> {
    pub(crate) fn resolve(call: RawCall<'h>, id: &str) -> Result<LayeredHandle<'h, Req, Resp, L>, DispatchError> {
        let handle = CommandHandle::resolve(call, id)?;
        let found = handle.typed_chain().and_then(|chain| L::find(chain.layers()));
        Ok(LayeredHandle { handle, found })
    }

    /// Whether the command's chain, when the handle resolved, was the layers it names in
    /// that order, so that its calls run them as one function (while the chain stays so).
    pub fn is_static(&self) -> bool {
        self.found.is_some()
    }

    /// The handle underneath, which runs the command's chain as any handle does.
    pub fn handle(&self) -> &CommandHandle<'h, Req, Resp> {
        &self.handle
    }

    /// Runs the command.
    #[inline(always)]
    pub fn call(&self, request: Req) -> Result<Resp, DispatchError> {
        self.call_with(request, &[])
    }

    /// Runs the command with metadata for its layers.
    #[inline(always)]
    pub fn call_with(&self, request: Req, metadata: Metadata<'_>) -> Result<Resp, DispatchError> {
        match self.found {
            Some(found) => self
                .handle
                .call_walking(request, metadata, |target: &Target<'_, Req, Resp>, request| {
                    walk(target, metadata, request, |cx, request| {
                        // SAFETY: `found` is in the tables `self.handle` keeps alive.
                        unsafe { L::walk(found, cx, request) }
                    })
                }),
            None => self.handle.call_with(request, metadata),
        }
    }

    /// The command id.
    pub fn id(&self) -> &str {
        self.handle.id()
    }
}

/// An async command resolved with its layers named:
/// `host.command_with_layers::<Req, Pending<Resp>, (A, ..)>(id)`.
impl<Req: 'static, Resp: Send + 'static, L: Layers<Req, super::Pending<Resp>>>
    LayeredHandle<'_, Req, super::Pending<Resp>, L>
{
    /// Runs the async command through its layers: the future of its response, to be
    /// awaited. A dispatch error (a layer's rejection, the plugin not active) is the
    /// future's output, ready at once.
    #[inline]
    pub fn call_async(&self, request: Req) -> super::Pending<Resp> {
        self.call(request)
            .unwrap_or_else(|error| super::Pending::ready(Err(error)))
    }
}

impl<Req, Resp, L: Layers<Req, Resp>> Clone for LayeredHandle<'_, Req, Resp, L> {
    fn clone(&self) -> Self {
        LayeredHandle {
            handle: self.handle.clone(),
            found: self.found,
        }
    }
}

impl<Req, Resp, L: Layers<Req, Resp>> std::fmt::Debug for LayeredHandle<'_, Req, Resp, L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LayeredHandle")
            .field("handle", &self.handle)
            .field("layers", &L::names())
            .field("static", &self.found.is_some())
            .finish()
    }
}
