//! Hooks: named, typed extension points that one plugin declares and others implement.
//!
//! A plugin declares `"<its id>:<name>"` with argument and output types; other plugins
//! implement it with a function `Fn(&Call, &Args) -> Option<Out>`. A call is either
//! call-all ([`Hook::call_all`], collecting every `Some`) or first-result
//! ([`Hook::first`]). Implementations run in the order given by their priority (higher
//! first) and their `before` / `after` constraints on other plugins; ties go to the
//! smaller plugin id. Constraints that form a cycle are a start-up error naming the
//! plugins involved.

use std::any::{Any, TypeId, type_name};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr::NonNull;
use std::sync::Arc;

use super::{Call, Incident, RawCall, Refused, Tables};
use crate::support::{FxHashMap, panic_message};

pub(crate) type HookFn<Args, Out> = Arc<dyn Fn(&RawCall<'_>, &Args) -> Option<Out> + Send + Sync>;

/// Where an implementation runs relative to others.
///
/// ```
/// let order = patchpanel::hooks::HookOrder::default().priority(10).before("audit-trail");
/// assert_eq!(order.priority, 10);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HookOrder {
    /// Higher runs earlier.
    pub priority: i32,
    /// Plugins whose implementations must run after this one.
    pub before: Vec<String>,
    /// Plugins whose implementations must run before this one.
    pub after: Vec<String>,
}

impl HookOrder {
    /// Sets the priority.
    pub fn priority(mut self, priority: i32) -> HookOrder {
        self.priority = priority;
        self
    }

    /// Runs before plugin `id`'s implementation.
    pub fn before(mut self, id: impl Into<String>) -> HookOrder {
        self.before.push(id.into());
        self
    }

    /// Runs after plugin `id`'s implementation.
    pub fn after(mut self, id: impl Into<String>) -> HookOrder {
        self.after.push(id.into());
        self
    }
}

/// The hooks cannot be wired: start-up fails, or a reload is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HookWiringError {
    /// `before` / `after` constraints contradict each other.
    #[error("the before/after constraints on hook `{hook}` form a cycle among plugins {}; remove one of those constraints", plugins.join(", "))]
    Cycle {
        /// The hook's full id, `plugin:name`.
        hook: String,
        /// The plugins whose implementations could not be ordered.
        plugins: Vec<String>,
    },
    /// A plugin implements a hook that its running owner does not declare.
    #[error(
        "plugin `{plugin}` implements hook `{hook}`, but the running plugin that owns that namespace does not declare it; check the hook id"
    )]
    Undeclared {
        /// The hook id.
        hook: String,
        /// The implementing plugin.
        plugin: String,
    },
    /// The implementation's types differ from the declaration's.
    #[error("plugin `{plugin}` implements hook `{hook}` as `{found}`, but it is declared as `{expected}`")]
    TypeMismatch {
        /// The hook id.
        hook: String,
        /// The implementing plugin.
        plugin: String,
        /// The declared `Args -> Out`.
        expected: String,
        /// The implemented `Args -> Out`.
        found: String,
    },
}

/// A hook cannot be called as asked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HookError {
    /// No active plugin declares this hook.
    #[error("unknown hook `{0}`")]
    Unknown(String),
    /// The hook has other types.
    #[error("hook `{hook}` is declared as `{expected}`, but was called as `{found}`")]
    WrongType {
        /// The hook id.
        hook: String,
        /// The declared `Args -> Out`.
        expected: String,
        /// The requested `Args -> Out`.
        found: String,
    },
}

pub(crate) struct HookDeclaration {
    pub(crate) id: String,
    signature: Signature,
}

struct HookImpl<Args, Out> {
    owner: usize,
    handler: HookFn<Args, Out>,
}

pub(crate) struct HookImplementation {
    pub(crate) hook: String,
    signature: Signature,
    order: HookOrder,
    handler: Arc<dyn Any + Send + Sync>,
    new_list: fn() -> Box<dyn Any + Send + Sync>,
    append: fn(&mut (dyn Any + Send + Sync), &Arc<dyn Any + Send + Sync>, usize),
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct Signature {
    args: TypeId,
    out: TypeId,
    names: (&'static str, &'static str),
}

impl Signature {
    fn of<Args: 'static, Out: 'static>() -> Signature {
        Signature {
            args: TypeId::of::<Args>(),
            out: TypeId::of::<Out>(),
            names: (type_name::<Args>(), type_name::<Out>()),
        }
    }

    fn describe(&self) -> String {
        format!("{} -> {}", self.names.0, self.names.1)
    }
}

pub(crate) struct HookTable {
    signature: Signature,
    implementations: Box<dyn Any + Send + Sync>,
}

impl HookDeclaration {
    pub(crate) fn new<Args: 'static, Out: 'static>(id: String) -> HookDeclaration {
        HookDeclaration {
            id,
            signature: Signature::of::<Args, Out>(),
        }
    }
}

impl HookImplementation {
    pub(crate) fn new<Args, Out>(hook: String, order: HookOrder, handler: HookFn<Args, Out>) -> HookImplementation
    where
        Args: 'static,
        Out: 'static,
    {
        HookImplementation {
            hook,
            signature: Signature::of::<Args, Out>(),
            order,
            handler: Arc::new(handler),
            new_list: || Box::new(Vec::<HookImpl<Args, Out>>::new()),
            append: |list, handler, owner| {
                let list = list
                    .downcast_mut::<Vec<HookImpl<Args, Out>>>()
                    .expect("list made for this hook type");
                let handler = handler
                    .downcast_ref::<HookFn<Args, Out>>()
                    .expect("handler made for this hook type");
                list.push(HookImpl {
                    owner,
                    handler: Arc::clone(handler),
                });
            },
        }
    }
}

/// An implementation with its owner's position and id.
type Implementor<'r> = (usize, &'r str, &'r HookImplementation);

/// One running plugin's hook registrations, as the freeze reads them.
pub(crate) struct HookSources<'r> {
    pub(crate) owner: usize,
    pub(crate) owner_id: &'r str,
    pub(crate) declarations: &'r [HookDeclaration],
    pub(crate) implementations: &'r [HookImplementation],
}

/// Wires every declared hook to its implementations, in order. `running` says whether
/// the plugin with an id is running (active or disabled), registrations or not: a hook
/// in the namespace of a running plugin that does not declare it is a mistake.
pub(crate) fn freeze(
    plugins: &[HookSources<'_>],
    running: &dyn Fn(&str) -> bool,
) -> Result<FxHashMap<Box<str>, HookTable>, HookWiringError> {
    let mut declared: FxHashMap<&str, Signature> = FxHashMap::default();
    for plugin in plugins {
        for declaration in plugin.declarations {
            declared.insert(&declaration.id, declaration.signature);
        }
    }
    // Implementations grouped by hook, in activation then registration order.
    let mut by_hook: Vec<(&str, Vec<Implementor<'_>>)> = Vec::new();
    for plugin in plugins {
        let owner = &plugin.owner;
        for implementation in plugin.implementations {
            let Some(signature) = declared.get(implementation.hook.as_str()) else {
                // A hook of a plugin that is not running (not linked, failed) is simply
                // not called; a hook its running owner never declared is a mistake.
                let namespace = implementation.hook.split_once(':').map_or("", |(owner, _)| owner);
                if running(namespace) {
                    return Err(HookWiringError::Undeclared {
                        hook: implementation.hook.clone(),
                        plugin: plugin.owner_id.to_owned(),
                    });
                }
                continue;
            };
            if *signature != implementation.signature {
                return Err(HookWiringError::TypeMismatch {
                    hook: implementation.hook.clone(),
                    plugin: plugin.owner_id.to_owned(),
                    expected: signature.describe(),
                    found: implementation.signature.describe(),
                });
            }
            let entry = (*owner, plugin.owner_id, implementation);
            match by_hook.iter_mut().find(|(hook, _)| *hook == implementation.hook) {
                Some((_, list)) => list.push(entry),
                None => by_hook.push((&implementation.hook, vec![entry])),
            }
        }
    }
    let mut tables: FxHashMap<Box<str>, HookTable> = declared
        .iter()
        .map(|(id, signature)| {
            let empty = by_hook
                .iter()
                .find(|(hook, _)| hook == id)
                .map(|(_, list)| (list[0].2.new_list)());
            (
                Box::from(*id),
                HookTable {
                    signature: *signature,
                    implementations: empty.unwrap_or_else(|| Box::new(())),
                },
            )
        })
        .collect();
    for (hook, implementations) in &by_hook {
        let order = order_implementations(hook, implementations)?;
        let table = tables.get_mut(*hook).expect("every implemented hook is declared");
        for index in order {
            let (owner, _, implementation) = implementations[index];
            (implementation.append)(table.implementations.as_mut(), &implementation.handler, owner);
        }
    }
    Ok(tables)
}

/// Kahn's algorithm over the before/after constraints; the ready queue yields the
/// highest priority, then the smallest plugin id, then the earliest registration.
fn order_implementations(hook: &str, implementations: &[Implementor<'_>]) -> Result<Vec<usize>, HookWiringError> {
    let count = implementations.len();
    let mut successors: Vec<Vec<usize>> = vec![Vec::new(); count];
    let mut waiting = vec![0usize; count];
    let of_plugin =
        |plugin: &String| -> Vec<usize> { (0..count).filter(|&i| implementations[i].1 == plugin).collect() };
    for (index, (_, _, implementation)) in implementations.iter().enumerate() {
        for later in implementation.order.before.iter().flat_map(of_plugin) {
            successors[index].push(later);
            waiting[later] += 1;
        }
        for earlier in implementation.order.after.iter().flat_map(of_plugin) {
            successors[earlier].push(index);
            waiting[index] += 1;
        }
    }
    let key = |i: usize| {
        (
            implementations[i].2.order.priority,
            Reverse(implementations[i].1),
            Reverse(i),
        )
    };
    let mut ready: BinaryHeap<_> = (0..count).filter(|&i| waiting[i] == 0).map(key).collect();
    let mut order = Vec::with_capacity(count);
    while let Some((_, _, Reverse(index))) = ready.pop() {
        order.push(index);
        for &next in &successors[index] {
            waiting[next] -= 1;
            if waiting[next] == 0 {
                ready.push(key(next));
            }
        }
    }
    if order.len() < count {
        let mut plugins: Vec<String> = (0..count)
            .filter(|&i| waiting[i] > 0)
            .map(|i| implementations[i].1.to_owned())
            .collect();
        plugins.sort();
        plugins.dedup();
        return Err(HookWiringError::Cycle {
            hook: hook.to_owned(),
            plugins,
        });
    }
    Ok(order)
}

/// A resolved hook whose wiring a reload replaced.
struct Stale;

/// A declared hook, resolved for calling.
///
/// Implementations of disabled or failed plugins are skipped; after a reload rewired
/// the hooks, a resolved hook uses the new wiring.
///
/// Guide: [talking between plugins](crate::guide::talking).
pub struct Hook<'h, Args, Out> {
    call: RawCall<'h>,
    id: Box<str>,
    implementations: NonNull<[HookImpl<Args, Out>]>,
    /// Keeps `implementations` alive.
    tables: Arc<Tables>,
}

// SAFETY: `implementations` points into `tables`, which the hook keeps alive and nobody
// mutates; implementations are `Send + Sync`.
unsafe impl<Args, Out> Send for Hook<'_, Args, Out> {}
// SAFETY: as above.
unsafe impl<Args, Out> Sync for Hook<'_, Args, Out> {}

/// Calling hooks.
impl<'h, P> Call<'h, P> {
    /// A declared hook, for calling. Calling a hook needs no permission: declaring
    /// (`hooks.declare`) and implementing (`hooks.implement`) do.
    pub fn hook<Args: 'static, Out: 'static>(&self, id: &str) -> Result<Hook<'h, Args, Out>, HookError> {
        Hook::resolve(self.raw, id)
    }
}

impl<'h, Args: 'static, Out: 'static> Hook<'h, Args, Out> {
    fn resolve(call: RawCall<'h>, id: &str) -> Result<Hook<'h, Args, Out>, HookError> {
        let tables = call.runtime.tables_arc();
        let table = tables.hooks.get(id).ok_or_else(|| HookError::Unknown(id.to_owned()))?;
        let wanted = Signature::of::<Args, Out>();
        if table.signature != wanted {
            return Err(HookError::WrongType {
                hook: id.to_owned(),
                expected: table.signature.describe(),
                found: wanted.describe(),
            });
        }
        let implementations = table
            .implementations
            .downcast_ref::<Vec<HookImpl<Args, Out>>>()
            .map_or(&[][..], Vec::as_slice);
        Ok(Hook {
            call,
            id: Box::from(id),
            implementations: NonNull::from(implementations),
            tables,
        })
    }

    /// This hook as wired now: itself, or resolved again after a reload rewired it.
    fn current(&self) -> Option<Hook<'h, Args, Out>> {
        if self.tables.generation == self.call.runtime.generation() {
            None
        } else {
            Hook::resolve(self.call, &self.id).ok()
        }
    }

    fn implementations(&self) -> &[HookImpl<Args, Out>] {
        // SAFETY: see the `Send` impl.
        unsafe { self.implementations.as_ref() }
    }

    /// Calls every active implementation in order and collects the `Some` results.
    pub fn call_all(&self, args: &Args) -> Vec<Out> {
        let Ok(_inside) = self.enter_current() else {
            return self.current().map_or_else(Vec::new, |current| current.call_all(args));
        };
        self.implementations()
            .iter()
            .filter_map(|implementation| self.invoke(implementation, args))
            .collect()
    }

    /// Calls implementations in order until one returns `Some`.
    pub fn first(&self, args: &Args) -> Option<Out> {
        let Ok(_inside) = self.enter_current() else {
            return self.current().and_then(|current| current.first(args));
        };
        self.implementations()
            .iter()
            .find_map(|implementation| self.invoke(implementation, args))
    }

    /// Enters a section, then checks that this hook's wiring is still current (`Err`
    /// if a reload rewired it since it was resolved). Checked inside the section: a
    /// reload that swaps the tables afterwards waits for the section before it
    /// deactivates the instances the implementations belong to. When calls nest too
    /// deeply there is no section (`Ok(None)`), and each implementation's own entry
    /// refuses and reports it.
    fn enter_current(&self) -> Result<Option<super::Inside>, Stale> {
        let inside = super::quiescence::enter(super::quiescence::SECTION).ok();
        if self.tables.generation == self.call.runtime.generation() {
            Ok(inside)
        } else {
            Err(Stale)
        }
    }

    /// The implementing plugins, in call order.
    pub fn implementors(&self) -> Vec<&'h str> {
        self.implementations()
            .iter()
            .map(|i| self.call.runtime.plugin_id(i.owner))
            .collect()
    }

    fn invoke(&self, implementation: &HookImpl<Args, Out>, args: &Args) -> Option<Out> {
        let inside = match self.call.runtime.plugin(implementation.owner).enter() {
            Ok(inside) => inside,
            Err(Refused::Inactive(_)) => return None,
            Err(Refused::TooDeep) => {
                self.incident(
                    implementation.owner,
                    "not called: calls nest too deeply on this thread".to_owned(),
                );
                return None;
            }
        };
        let inner = self.call.enter(implementation.owner);
        let result = match catch_unwind(AssertUnwindSafe(|| (implementation.handler)(&inner, args))) {
            Ok(result) => result,
            Err(payload) => {
                self.incident(
                    implementation.owner,
                    format!("panicked: {}", panic_message(payload.as_ref())),
                );
                None
            }
        };
        drop(inside);
        result
    }

    #[cold]
    fn incident(&self, owner: usize, message: String) {
        self.call.runtime.record_incident(Incident {
            plugin: self.call.runtime.plugin_id(owner).to_owned(),
            site: format!("hook `{}`", self.id),
            message,
        });
    }
}

impl<Args, Out> std::fmt::Debug for Hook<'_, Args, Out> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hook")
            .field("id", &self.id)
            .field("implementations", &self.implementations.len())
            .finish()
    }
}

crate::error::plugin_error_from!(HookError);
