//! The host: the operator's API over a running plugin set.
//!
//! [`HostBuilder`] resolves the plugins and starts them; [`Host`] then answers what is
//! running ([`PluginInfo`]), changes it while any number of threads dispatch (disable,
//! enable, reload and reconfigure, all through `&Host`), and shuts it down. Dispatch
//! itself is the runtime's: the host's dispatch methods forward, once, to [`Call`].
//!
//! Guide chapter: [running for days](crate::guide::running).

mod activation;
mod admission;
mod builder;
mod deprecation;
mod from_async;
mod health;
mod info;
mod operations;
mod persist;
mod plugin_id;
mod queries;
mod records;
mod startup;
mod tenants;

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A contained fault, as [`Host::incidents`] lists it.
pub use crate::runtime::Incident;
pub use admission::{ForeignSubscriber, GrantProblem, UnexpectedPlugin};
pub use builder::{HostBuilder, StartError};
pub use health::{DEFAULT_HEALTH_BUDGET, HealthWatch};
pub use info::PluginInfo;
pub use operations::{DependentsPolicy, ReloadReport};
pub use persist::RegistryNotice;
pub use plugin_id::PluginId;
pub use tenants::Tenants;

use crate::audit::Audit;
use crate::config::PluginConfig;
use crate::lifecycle::{Failure, LifecycleError, State};
use crate::registry::PluginSpec;
use crate::runtime::commands::chain::HostGuard;
use crate::runtime::commands::{CommandHandle, DispatchError, Metadata, Pending};
use crate::runtime::events::{Delivery, EventChannel};
use crate::runtime::hooks::{Hook, HookError};
use crate::runtime::messaging::MessageError;
use crate::runtime::services::{Service, ServiceError};
use crate::runtime::{Call, RawCall, Runtime};
use crate::support::lock;
use crate::wiring::Registrations;
use crate::wiring::adapter::ErasedPlugin;
use crate::wiring::plugin::{Capability, Plugin, SavedState};

/// A running set of plugins.
///
/// Every method takes `&self`: share the host between threads (in an `Arc`, or with
/// scoped threads) and dispatch from all of them while an operator disables, enables
/// and reloads plugins. Dropping the host shuts it down; [`Host::shutdown`] does the
/// same and returns a report.
///
/// Guide: [running for days](crate::guide::running).
pub struct Host {
    /// The core's runtime, one pointer away: every call made through the host starts
    /// from it (through `core` it is two).
    runtime: Arc<Runtime>,
    /// What activation needs, shared with the runtime's lazy activator (which holds it
    /// weakly, so that dropping the host still shuts it down).
    core: Arc<HostCore>,
    superseded: Vec<PluginSpec>,
    startup: Duration,
    /// Serialises lifecycle changes; dispatch never takes it.
    lifecycle: Mutex<()>,
    shut_down: AtomicBool,
    config_warnings: Vec<String>,
    registry: Option<Registry>,
    policy: DependentsPolicy,
    /// How long a plugin's `deactivate` may take at shutdown and after a reload.
    deactivation_deadline: Option<Duration>,
    unexpected: Vec<UnexpectedPlugin>,
    /// Whether the application declared grants (and every manifest passed them).
    grants_enforced: bool,
    trusts_linked_plugins: bool,
}

/// The part of the host that creates, activates and wires instances: shared (behind an
/// `Arc`) with the runtime's lazy activator, which may run on any dispatch thread.
struct HostCore {
    runtime: Arc<Runtime>,
    slots: Box<[HostSlot]>,
    /// Who depends on whom, by position.
    graph: crate::resolve::Graph,
    /// The guards the application declared, with their plugins' positions.
    guards: Vec<HostGuard>,
    /// Held while the dispatch tables are rebuilt and swapped, so that two rebuilds (a
    /// reload and a lazy activation, say) never lose each other's registrations. Never
    /// held across a grace period.
    tables: Mutex<()>,
}

/// The registry file and what the host noticed about it.
struct Registry {
    path: PathBuf,
    persist_state: bool,
    /// The records read at start-up; those of plugins this host does not run are written
    /// back unchanged, and those of running plugins supply their saved state.
    recorded: persist::RegistryState,
    notices: Mutex<Vec<RegistryNotice>>,
}

/// Which plugin's instance this thread holds in [`Host::with_plugin`], if any.
mod instance_borrow {
    use std::cell::RefCell;
    use std::sync::Arc;

    thread_local! {
        static HELD: RefCell<Option<Arc<str>>> = const { RefCell::new(None) };
    }

    /// The id of the plugin whose instance this thread holds.
    pub(super) fn held() -> Option<Arc<str>> {
        HELD.with(|held| held.borrow().clone())
    }

    /// Marks the instance of `plugin` as held until the guard drops (on unwind too).
    pub(super) fn hold(plugin: Arc<str>) -> Held {
        HELD.with(|held| *held.borrow_mut() = Some(plugin));
        Held
    }

    pub(super) struct Held;

    impl Drop for Held {
        fn drop(&mut self) {
            HELD.with(|held| *held.borrow_mut() = None);
        }
    }
}

/// What a plugin's serving instance installed when it activated, set and taken together
/// (at activation, reload and unloading), under one lock apart from the instance's: read
/// without locking the instance, so a view never waits for (or deadlocks on) plugin code.
#[derive(Default)]
struct Installed {
    /// What it registered; the tables are rebuilt from these. Empty (a null pointer: see
    /// [`Registrations`]) before its first activation and once it is unloaded.
    registrations: Registrations,
    /// What it reported from `capabilities()`.
    capabilities: Vec<Capability>,
}

/// The host's own view of one plugin, beside the runtime's [`PluginSlot`](crate::runtime::PluginSlot).
struct HostSlot {
    spec: PluginSpec,
    absent_optional: Vec<String>,
    config: Mutex<PluginConfig>,
    instance: Mutex<Option<Box<dyn ErasedPlugin>>>,
    /// What the serving instance installed: its registrations and its capabilities.
    installed: Mutex<Installed>,
    /// The plugin whose cascading disable took this one down.
    disabled_with: Mutex<Option<usize>>,
    /// Held while a lazy activation of this plugin runs: racing first users wait here.
    activation: Mutex<()>,
    /// The state the registry file saved for a lazy plugin that did not start at
    /// start-up, restored when it wakes.
    pending_state: Mutex<Option<SavedState>>,
    /// Its status in the last health report, to record changes.
    last_health: Mutex<Option<crate::health::HealthStatus>>,
    /// The health check running on its own thread, if one is: a report made meanwhile
    /// waits for its answer instead of starting another (so a check that overran its
    /// budget is not asked again until it returns).
    health_check: Mutex<Option<Arc<health::InFlight>>>,
}

/// What [`Host::shutdown`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShutdownReport {
    /// The plugins deactivated, in the order they were deactivated.
    pub deactivated: Vec<PluginId>,
    /// Plugins whose `deactivate` returned an error or panicked. They are unloaded anyway.
    pub errors: Vec<(PluginId, Failure)>,
}

impl Host {
    /// A builder over the link-time registry. The registry's manifests are converted
    /// and checked once a process, on the first build; every later host shares them.
    pub fn builder() -> HostBuilder {
        HostBuilder::default()
    }

    /// Every running plugin, in activation order.
    pub fn plugins(&self) -> impl ExactSizeIterator<Item = PluginInfo<'_>> {
        (0..self.core.slots.len()).map(|position| PluginInfo::new(self, position))
    }

    /// The plugin with this id, or an error that suggests the closest id when one is
    /// close.
    pub fn plugin(&self, id: &str) -> Result<PluginInfo<'_>, LifecycleError> {
        self.position(id).map(|position| PluginInfo::new(self, position))
    }

    /// The lifecycle state of plugin `id`, or `None` when no plugin has that id.
    pub fn state(&self, id: &str) -> Option<State> {
        self.plugin(id).ok().map(|plugin| plugin.state())
    }

    /// Why plugin `id` failed, when it is failed.
    pub fn failure(&self, id: &str) -> Option<Failure> {
        self.plugin(id).ok().and_then(|plugin| plugin.failure())
    }

    /// The ids in activation order.
    pub fn order(&self) -> Vec<&str> {
        self.core.runtime.ids()
    }

    /// Linked versions that were not selected (see [`crate::resolve`] for the rule).
    pub fn superseded(&self) -> &[PluginSpec] {
        &self.superseded
    }

    /// The tenant this host serves (`default` unless [`HostBuilder::tenant`] or
    /// [`HostBuilder::build_tenants`] chose one).
    pub fn tenant(&self) -> &str {
        &self.core.runtime.storage.tenant
    }

    /// How long [`HostBuilder::build`] took, resolution and activation included.
    pub fn startup_duration(&self) -> Duration {
        self.startup
    }

    /// Runs `f` on the serving instance of plugin type `P`.
    ///
    /// The instance is locked while `f` runs, so `f` must not reach for an instance
    /// again: a nested `with_plugin`, or a `disable`, `reload` or `reconfigure` from
    /// inside `f`, is refused with [`LifecycleError::Reentered`] instead of deadlocking.
    /// Views that do not touch instances ([`Host::plugin`], its `capabilities`, states)
    /// and dispatch work as usual.
    ///
    /// ```
    /// # use patchpanel::{Host, lifecycle::LifecycleError, Manifest};
    /// # use patchpanel::testing::{FnPlugin, fn_plugin};
    /// # let host = Host::builder()
    /// #     .plugins(vec![fn_plugin(Manifest::builder("solo", "1.0.0").build().unwrap(), |_| Ok(()))])
    /// #     .build()
    /// #     .unwrap();
    /// let nested = host.with_plugin(|_: &mut FnPlugin| host.with_plugin(|_: &mut FnPlugin| ()));
    /// assert!(matches!(nested, Ok(Err(LifecycleError::Reentered { .. }))));
    /// let reload = host.with_plugin(|_: &mut FnPlugin| host.reload("solo").map(drop));
    /// assert!(matches!(reload, Ok(Err(LifecycleError::Reentered { .. }))));
    /// ```
    pub fn with_plugin<P: Plugin, R>(&self, f: impl FnOnce(&mut P) -> R) -> Result<R, LifecycleError> {
        let type_name = std::any::type_name::<P>();
        if let Some(plugin) = instance_borrow::held() {
            return Err(LifecycleError::Reentered {
                plugin: plugin.to_string(),
                action: "borrowed again",
            });
        }
        for (position, slot) in self.core.slots.iter().enumerate() {
            let mut instance = lock(&slot.instance);
            if let Some(plugin) = instance.as_mut().and_then(|p| p.as_any_mut().downcast_mut::<P>()) {
                let _borrow = instance_borrow::hold(Arc::clone(&self.core.runtime.plugin(position).id));
                return Ok(f(plugin));
            }
        }
        Err(LifecycleError::NotLoaded { type_name })
    }

    /// Refuses a lifecycle change that would lock an instance while this thread holds
    /// one in [`Host::with_plugin`].
    fn refuse_inside_with_plugin(action: &'static str) -> Result<(), LifecycleError> {
        match instance_borrow::held() {
            Some(plugin) => Err(LifecycleError::Reentered {
                plugin: plugin.to_string(),
                action,
            }),
            None => Ok(()),
        }
    }

    /// A [`Call`] on behalf of the application, which holds every permission. Every
    /// dispatch method of the host forwards to it.
    pub fn call(&self) -> Call<'_> {
        Call::typed(RawCall::new(&self.runtime))
    }

    /// Resolves a command once, for the fastest repeated dispatch.
    pub fn command<Req: 'static, Resp: 'static>(
        &self,
        id: &str,
    ) -> Result<CommandHandle<'_, Req, Resp>, DispatchError> {
        self.call().command(id)
    }

    /// Resolves a command once with its layers named in order, as a tuple of
    /// [`Layer`](crate::commands::Layer) types: while the command's chain is those
    /// layers, the handle calls them as one function the compiler built for them, with
    /// no indirect call between layers (see [`LayeredHandle`](crate::commands::LayeredHandle)).
    pub fn command_with_layers<Req: 'static, Resp: 'static, L: crate::commands::Layers<Req, Resp>>(
        &self,
        id: &str,
    ) -> Result<crate::commands::LayeredHandle<'_, Req, Resp, L>, DispatchError> {
        self.call().command_with_layers(id)
    }

    /// Runs a command by id.
    pub fn execute<Req: 'static, Resp: 'static>(&self, id: &str, request: Req) -> Result<Resp, DispatchError> {
        self.call().execute(id, request)
    }

    /// Runs a command by id, with metadata for middleware.
    pub fn execute_with<Req: 'static, Resp: 'static>(
        &self,
        id: &str,
        request: Req,
        metadata: Metadata<'_>,
    ) -> Result<Resp, DispatchError> {
        self.call().execute_with(id, request, metadata)
    }

    /// Runs a command with a JSON request and response.
    #[inline]
    pub fn execute_json(&self, id: &str, request: serde_json::Value) -> Result<serde_json::Value, DispatchError> {
        self.call().execute_json(id, request)
    }

    /// Runs a command with a JSON request and response, with metadata for middleware.
    pub fn execute_json_with(
        &self,
        id: &str,
        request: serde_json::Value,
        metadata: Metadata<'_>,
    ) -> Result<serde_json::Value, DispatchError> {
        self.call().execute_json_with(id, request, metadata)
    }

    /// Runs a command the async way: an async command's future (see [`Pending`]), or a
    /// synchronous command's result, ready. The returned value owns what it needs, so it
    /// can be awaited on any executor, after this borrow of the host ends.
    pub fn execute_async<Req: 'static, Resp: Send + 'static>(&self, id: &str, request: Req) -> Pending<Resp> {
        self.call().execute_async(id, request)
    }

    /// [`Host::execute_async`] with metadata for middleware.
    pub fn execute_async_with<Req: 'static, Resp: Send + 'static>(
        &self,
        id: &str,
        request: Req,
        metadata: Metadata<'_>,
    ) -> Pending<Resp> {
        self.call().execute_async_with(id, request, metadata)
    }

    /// Runs any command across the JSON boundary, the async way.
    pub fn execute_json_async(&self, id: &str, request: serde_json::Value) -> Pending<serde_json::Value> {
        self.call().execute_json_async(id, request)
    }

    /// [`Host::execute_json_async`] with metadata for middleware: what a server calls,
    /// with the request's headers as metadata.
    pub fn execute_json_async_with(
        &self,
        id: &str,
        request: serde_json::Value,
        metadata: Metadata<'_>,
    ) -> Pending<serde_json::Value> {
        self.call().execute_json_async_with(id, request, metadata)
    }

    /// Every command id, in registration order.
    pub fn command_ids(&self) -> Vec<String> {
        self.call().command_ids()
    }

    /// Publishes an event to its subscribers.
    pub fn publish<E: 'static + Send + Sync>(&self, event: &E) -> Delivery {
        self.call().publish(event)
    }

    /// Resolves the subscribers of `E` once, for repeated publishing.
    pub fn channel<E: 'static + Send + Sync>(&self) -> EventChannel<'_, E> {
        self.call().channel()
    }

    /// A handle on service `T` that follows its best active provider.
    pub fn service<T: ?Sized + 'static>(&self) -> Result<Service<T>, ServiceError> {
        self.call().service()
    }

    /// A declared hook, for calling.
    pub fn hook<Args: 'static, Out: 'static>(&self, id: &str) -> Result<Hook<'_, Args, Out>, HookError> {
        self.call().hook(id)
    }

    /// Sends a message to plugin `to` and returns its reply.
    pub fn request<M: Send + 'static, R: Send + 'static>(&self, to: &str, message: M) -> Result<R, MessageError> {
        self.call().request(to, message)
    }

    /// Sends a message to plugin `to` and returns the future of its reply (see
    /// [`Call::request_async`]).
    pub fn request_async<M: Send + 'static, R: Send + 'static>(
        &self,
        to: &str,
        message: M,
    ) -> crate::hooks::Deferred<Result<R, MessageError>> {
        self.call().request_async(to, message)
    }

    /// Delivers a message to plugin `to`, dropping the reply.
    pub fn send<M: Send + 'static>(&self, to: &str, message: M) -> Result<(), MessageError> {
        self.call().send(to, message)
    }

    /// The most recent contained failures (event handlers, inboxes, hooks), oldest first.
    pub fn incidents(&self) -> Vec<Incident> {
        self.core.runtime.incidents()
    }

    /// Plugins present in the registry that the application did not name in
    /// `link_plugins!` / [`HostBuilder::expect`], when it named any (in strict mode they
    /// are refused at start-up instead).
    pub fn unexpected_plugins(&self) -> &[UnexpectedPlugin] {
        &self.unexpected
    }

    /// Whether the application declared grants ([`HostBuilder::grant`]), so that every
    /// running plugin's manifest was checked against them at start-up.
    pub fn grants_enforced(&self) -> bool {
        self.grants_enforced
    }

    /// Whether the application stated no grants and said it trusts every linked plugin
    /// ([`HostBuilder::trust_linked_plugins`]): each runs with what its manifest asks for.
    pub fn trusts_linked_plugins(&self) -> bool {
        self.trusts_linked_plugins
    }

    /// Configuration tables that matched no running plugin.
    pub fn config_warnings(&self) -> &[String] {
        &self.config_warnings
    }

    /// What the host noticed about its registry file (see
    /// [`HostBuilder::registry_file`]): a corrupt file set aside, changed versions,
    /// failed writes.
    pub fn registry_notices(&self) -> Vec<RegistryNotice> {
        self.registry
            .as_ref()
            .map(|registry| lock(&registry.notices).clone())
            .unwrap_or_default()
    }

    /// Whether lifecycle changes use `membarrier(2)` (Linux), so that dispatch pays only
    /// a compiler fence for its quiescence records; otherwise dispatch pays a full fence.
    pub fn expedited_barriers(&self) -> bool {
        crate::runtime::barrier::expedited()
    }

    /// The audit log: permission decisions and lifecycle transitions.
    pub fn audit(&self) -> &Audit {
        &self.core.runtime.audit
    }

    fn position(&self, id: &str) -> Result<usize, LifecycleError> {
        self.core
            .runtime
            .position_of(id)
            .ok_or_else(|| LifecycleError::UnknownPlugin {
                id: id.to_owned(),
                suggestion: patchpanel_manifest::catalogue::closest(id, &self.order()).map(str::to_owned),
            })
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.shutdown_in_place();
    }
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("order", &self.order())
            .finish_non_exhaustive()
    }
}

/// An event channel's plan seen from the host that moves it (the channel's own module
/// knows nothing of hosts).
#[cfg(test)]
mod channel_plan {
    use crate::testing::{fn_plugin, with_every_permission};
    use crate::{Host, Manifest};

    struct Tick;

    fn listener(id: &str) -> crate::PluginSpec {
        fn_plugin(
            with_every_permission(Manifest::builder(id, "1.0.0")).build().unwrap(),
            |context| {
                context.subscribe(|_, _: &Tick| Ok(()));
                Ok(())
            },
        )
    }

    /// The plan word follows the gate: a disable leaves it behind (the next publish
    /// takes the planned path, which finds the gate disarmed and keeps the word), an
    /// enable re-arms the gate and the next publish brings the word up to date, so the
    /// channel takes its fast path again; a swap of the tables leaves it behind for good.
    #[test]
    fn a_channel_regains_its_fast_path_when_the_gate_re_arms_and_not_after_a_swap() {
        let host = Host::builder()
            .plugins(vec![listener("a"), listener("b")])
            .build()
            .unwrap();
        let channel = host.channel::<Tick>();
        assert!(channel.plan_is_current(), "made on the fast path");
        assert_eq!(channel.publish(&Tick).reached, 2);
        host.disable("b").unwrap();
        assert!(!channel.plan_is_current(), "the disable moved the gate's word");
        assert_eq!(channel.publish(&Tick).reached, 1);
        assert!(!channel.plan_is_current(), "a disarmed gate is never the plan");
        host.enable("b").unwrap();
        assert_eq!(channel.publish(&Tick).reached, 2);
        assert!(
            channel.plan_is_current(),
            "the planned path brought the word up to date"
        );
        assert_eq!(channel.publish(&Tick).reached, 2);
        assert_eq!(host.reload("a").unwrap().generation, 1);
        assert_eq!(channel.publish(&Tick).reached, 2, "through the current tables");
        assert!(
            !channel.plan_is_current(),
            "the channel's tables are old: never fast again"
        );
        let fresh = host.channel::<Tick>();
        assert!(fresh.plan_is_current());
        assert_eq!(fresh.publish(&Tick).reached, 2);
    }
}
