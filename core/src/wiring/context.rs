//! The plugin context: what the host hands a plugin while it activates, and through
//! which the plugin wires itself to the others.
//!
//! Everything a plugin registers here (commands, subscriptions, middleware, services,
//! hooks, inboxes) is kept aside until its `activate` returns `Ok`; a plugin that fails
//! leaves nothing behind. When every plugin has activated, the host freezes the
//! registrations into its dispatch tables.

mod middleware;

use std::any::{Any, TypeId};
use std::marker::PhantomData;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Registrations;
pub use super::registration_error::RegistrationError;
use crate::error::PluginError;
use crate::manifest::Manifest;
use crate::permissions::{
    CommandsIntercept, CommandsRegister, EventsSubscribe, HooksDeclare, HooksImplement, MessagingReceive,
    ServicesConsume, ServicesProvide,
};
use crate::runtime::commands::chain::{Invocation, Next};
use crate::runtime::commands::typed_middleware::TypedNext;
use crate::runtime::commands::{CommandRegistration, DispatchError, Layer};
use crate::runtime::events::SubscriptionRegistration;
use crate::runtime::hooks::{HookDeclaration, HookImplementation, HookOrder};
use crate::runtime::messaging::InboxRegistration;
use crate::runtime::services::{ProviderRegistration, Service, ServiceError};
use crate::runtime::{Call, RawCall, Runtime};
use crate::storage::Storage;

/// The host, as seen by one plugin while it activates or deactivates.
///
/// `P` is the plugin's own type. It costs nothing at run time; it lets the compiler know
/// whose context this is.
///
/// Guide: [talking between plugins](crate::guide::talking).
pub struct Context<'a, P> {
    data: ContextData<'a>,
    _plugin: PhantomData<fn() -> P>,
}

/// The host-side data behind a [`Context`].
pub(crate) struct ContextData<'a> {
    pub(crate) manifest: &'a Manifest,
    pub(crate) absent_optional: &'a [String],
    pub(crate) runtime: &'a Runtime,
    pub(crate) position: usize,
    pub(crate) registrations: &'a mut Registrations,
}

crate::error::plugin_error_from!(RegistrationError, ServiceError);

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
}

impl<'a, P: 'static> Context<'a, P> {
    pub(crate) fn new(data: ContextData<'a>) -> Context<'a, P> {
        Context {
            data,
            _plugin: PhantomData,
        }
    }

    /// This plugin's id.
    pub fn plugin_id(&self) -> &str {
        &self.data.manifest.id
    }

    /// This plugin's manifest.
    pub fn manifest(&self) -> &Manifest {
        self.data.manifest
    }

    /// Whether dependency `id` is linked and resolved. Always true for a required
    /// dependency; an optional one may be absent. False for ids that are not declared
    /// dependencies.
    pub fn is_present(&self, id: &str) -> bool {
        self.data
            .manifest
            .dependencies
            .iter()
            .any(|dependency| dependency.id == id)
            && !self.data.absent_optional.iter().any(|absent| absent == id)
    }

    /// This plugin's storage, in the default tenant. Keep it (it is `'static` and cheap
    /// to clone) for use in handlers; reading needs `storage.read`, writing
    /// `storage.write`.
    pub fn storage(&self) -> Storage<P> {
        self.data.runtime.storage_for(self.data.position)
    }

    /// `name` in this plugin's namespace, checked.
    fn own_id(&self, what: &'static str, name: &str) -> Result<String, RegistrationError> {
        let plugin = self.plugin_id();
        let local = match name.split_once(':') {
            Some((namespace, local)) if namespace == plugin => local,
            Some(_) => {
                return Err(RegistrationError::ForeignNamespace {
                    plugin: plugin.to_owned(),
                    command: name.to_owned(),
                });
            }
            None => name,
        };
        if !valid_name(local) {
            return Err(RegistrationError::InvalidName {
                plugin: plugin.to_owned(),
                what,
                name: name.to_owned(),
            });
        }
        Ok(format!("{plugin}:{local}"))
    }

    /// Checks the registration against the manifest at run time too, through the one
    /// permission checker, which audits it. Done once per registration, never per call.
    /// A refusal (possible only for plugins without a compile-time proof, such as
    /// `testing::fn_plugin`) fails the plugin's activation when `activate` returns.
    fn check_at_run_time(&mut self, resource: &str, action: &str) {
        let position = self.data.position;
        if let Err(denied) = self.data.runtime.check_permission(position, resource, action, position) {
            self.data.registrations.denied.push(*denied);
        }
    }

    /// The full id of a command about to be registered: the run-time permission check,
    /// the namespace, and no command of this plugin with the same id yet.
    fn new_command_id(&mut self, name: &str) -> Result<String, RegistrationError> {
        self.check_at_run_time("commands", "register");
        let id = self.own_id("command", name)?;
        // Every caller registers the command once the id is granted.
        if !self.data.registrations.command_ids.insert(id.clone()) {
            return Err(self.duplicate("command", &id));
        }
        Ok(id)
    }

    fn duplicate(&self, what: &'static str, name: &str) -> RegistrationError {
        RegistrationError::Duplicate {
            plugin: self.plugin_id().to_owned(),
            what,
            name: name.to_owned(),
        }
    }

    /// Registers command `<plugin-id>:<name>`. `name` may also be given with this
    /// plugin's own prefix; any other prefix is refused.
    ///
    /// Requests and responses are serde types so that every command also has a JSON way
    /// in ([`Host::execute_json`](crate::Host::execute_json)).
    pub fn command<Req, Resp, F>(&mut self, name: &str, handler: F) -> Result<(), RegistrationError>
    where
        Req: DeserializeOwned + Send + 'static,
        Resp: Serialize + Send + 'static,
        F: Fn(&Call<'_, P>, Req) -> Result<Resp, PluginError> + Send + Sync + 'static,
        P: CommandsRegister,
    {
        let () = crate::permissions::Proof::<P>::COMMANDS_REGISTER;
        let id = self.new_command_id(name)?;
        let handler = move |call: &RawCall<'_>, request: Req| handler(Call::typed_ref(call), request);
        self.data
            .registrations
            .commands
            .push(CommandRegistration::new::<Req, Resp>(id, Arc::new(handler)));
        Ok(())
    }

    /// Registers command `<plugin-id>:<name>` as cacheable: a pure function of its
    /// request, whose successful responses are kept under `policy` and answered again
    /// for an equal request without running `handler`. Guards and middleware still run
    /// for every call; errors are not kept; disabling, reloading or reconfiguring the
    /// plugin empties the cache.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use std::time::Duration;
    /// use patchpanel::{commands::CachePolicy, Context, Host, Plugin, PluginError, PluginSpec};
    ///
    /// static RUNS: AtomicU32 = AtomicU32::new(0);
    ///
    /// #[patchpanel::register_plugin(id = "primes", version = "1.0.0", permissions = { commands = ["register"] })]
    /// #[derive(Default)]
    /// struct Primes;
    ///
    /// impl Plugin for Primes {
    ///     fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
    ///         let policy = CachePolicy::new(Duration::from_secs(60), 1_000);
    ///         context.command_cached("nth", policy, |_, n: u32| {
    ///             RUNS.fetch_add(1, Ordering::SeqCst);
    ///             Ok((2..).filter(|k: &u64| (2..*k).all(|d| k % d != 0)).nth(n as usize).unwrap())
    ///         })?;
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let host = Host::builder().plugins(vec![PluginSpec::registered::<Primes>()?]).build()?;
    /// assert_eq!(host.execute::<u32, u64>("primes:nth", 100)?, 547);
    /// assert_eq!(host.execute::<u32, u64>("primes:nth", 100)?, 547);
    /// assert_eq!(RUNS.load(Ordering::SeqCst), 1, "the second call was a hit");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn command_cached<Req, Resp, F>(
        &mut self,
        name: &str,
        policy: crate::commands::CachePolicy,
        handler: F,
    ) -> Result<(), RegistrationError>
    where
        Req: DeserializeOwned + std::hash::Hash + Eq + Clone + Send + Sync + 'static,
        Resp: Serialize + Clone + Send + Sync + 'static,
        F: Fn(&Call<'_, P>, Req) -> Result<Resp, PluginError> + Send + Sync + 'static,
        P: CommandsRegister,
    {
        let () = crate::permissions::Proof::<P>::COMMANDS_REGISTER;
        let id = self.new_command_id(name)?;
        let cache = Arc::new(crate::runtime::commands::cache::ResultCache::<Req, Resp>::new(policy));
        self.data.registrations.caches.push(Arc::clone(&cache) as _);
        let handler = move |call: &RawCall<'_>, request: Req| {
            if let Some(response) = cache.get(&request) {
                return Ok(response);
            }
            let key = request.clone();
            let response = handler(Call::typed_ref(call), request)?;
            cache.insert(key, response.clone());
            Ok(response)
        };
        self.data
            .registrations
            .commands
            .push(CommandRegistration::new::<Req, Resp>(id, Arc::new(handler)));
        Ok(())
    }

    /// Registers async command `<plugin-id>:<name>`: its handler returns a future, which
    /// may await I/O. It is handed an [`AsyncCall`](crate::AsyncCall), the owned form of
    /// a call, which it may keep across `.await`s.
    ///
    /// Callers reach it with [`Call::execute_async`](crate::Call::execute_async) or
    /// [`Host::execute_json_async`](crate::Host::execute_json_async) (see
    /// [`Pending`](crate::commands::Pending) for how it is counted, wrapped by middleware and
    /// waited for by `disable` and `reload`). The core runs no executor: the future
    /// runs on the caller's.
    pub fn command_async<Req, Resp, F, Fut>(&mut self, name: &str, handler: F) -> Result<(), RegistrationError>
    where
        Req: DeserializeOwned + Send + 'static,
        Resp: Serialize + Send + 'static,
        F: Fn(crate::AsyncCall<P>, Req) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<Resp, PluginError>> + Send + 'static,
        P: CommandsRegister,
    {
        let () = crate::permissions::Proof::<P>::COMMANDS_REGISTER;
        let id = self.new_command_id(name)?;
        // Held by the command's handler in the tables: the cycle runtime -> tables ->
        // handler -> anchor -> runtime is broken when the tables are emptied at
        // shutdown, as for service handles.
        let command = crate::runtime::commands::AsyncCommand::new(self.anchor(), &id);
        let start = crate::runtime::commands::start_async(command, move |call, hold, request| {
            handler(crate::AsyncCall::held(hold, call), request)
        });
        self.data
            .registrations
            .commands
            .push(CommandRegistration::new_async::<Req, Resp>(id, Arc::new(start)));
        Ok(())
    }

    /// Subscribes to events of type `E`.
    pub fn subscribe<E, F>(&mut self, handler: F)
    where
        E: 'static + Send + Sync,
        F: Fn(&Call<'_, P>, &E) -> Result<(), PluginError> + Send + Sync + 'static,
        P: EventsSubscribe,
    {
        let () = crate::permissions::Proof::<P>::EVENTS_SUBSCRIBE;
        self.check_at_run_time("events", "subscribe");
        let owner = self.data.position;
        let handler = move |call: &RawCall<'_>, event: &E| handler(&Call::typed(call.enter(owner)), event);
        self.data
            .registrations
            .subscriptions
            .push(SubscriptionRegistration::new::<E>(Arc::new(handler)));
    }

    /// Adds middleware around the commands matching `pattern`: `*` for every command,
    /// `prefix*` (e.g. `greeter:*`), or one exact id. Higher `priority` runs first.
    ///
    /// `commands.intercept` at its default scope (`plugin-only`) wraps the plugin's own
    /// commands: `<id>:name` or `<id>:*`. A pattern that can match another plugin's
    /// commands (`*`, `kv-store:get`, `kv*`) needs scope `all` (or `user-approved` and
    /// the host's approval); otherwise activation fails with
    /// [`PermissionDenied`](crate::permissions::PermissionDenied), and the audit records the
    /// decision with the pattern's target and the scope.
    pub fn middleware<F>(&mut self, pattern: &str, priority: i32, middleware: F) -> Result<(), RegistrationError>
    where
        F: Fn(&mut Invocation<'_>, Next<'_>) -> Result<(), DispatchError> + Send + Sync + 'static,
        P: CommandsIntercept,
    {
        let () = crate::permissions::Proof::<P>::COMMANDS_INTERCEPT;
        self.add_middleware(pattern, priority, false, Arc::new(middleware), None)
    }

    /// Adds typed middleware around command `command` (an exact id, `plugin:name`): a
    /// layer that takes the command's request by value and returns its response, calling
    /// the rest of the chain with [`TypedNext::run`](crate::commands::TypedNext::run).
    /// Higher `priority` runs first, among pattern middleware too.
    ///
    /// It runs as [`Context::middleware`] does, with the same permission
    /// (`commands.intercept`, scope `all` for another plugin's command), and costs less:
    /// a chain of typed middleware alone is walked as a flat array of typed functions,
    /// with no request slot and no `dyn Any` (see [`commands::TypedNext`](crate::commands::TypedNext)).
    /// If the command turns out to take other types, its calls are rejected with
    /// [`DispatchErrorKind::LayerTypes`](crate::commands::DispatchErrorKind::LayerTypes)
    /// rather than run without this layer.
    ///
    /// A pattern (`*`, `prefix*`) is an [`RegistrationError::InvalidName`]: a typed layer
    /// is written for one command's types.
    ///
    /// A layer written as a type instead ([`Context::layer`]) runs the same way, and an
    /// application that names it gets a handle that calls it with no indirect call.
    ///
    /// ```
    /// use patchpanel::commands::TypedNext;
    /// use patchpanel::{Context, Host, Plugin, PluginError, PluginSpec};
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
    ///         // Trims the request on its way in, shouts the answer on its way out.
    ///         context.typed_middleware("names:greet", 0, |name: String, next: TypedNext<'_, String, String>| {
    ///             Ok(next.run(name.trim().to_owned())?.to_uppercase())
    ///         })?;
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let host = Host::builder().plugins(vec![PluginSpec::registered::<Names>()?]).build()?;
    /// let greet = host.command::<String, String>("names:greet")?;
    /// assert_eq!(greet.call("  ada ".to_owned())?, "HELLO, ADA");
    /// assert_eq!(format!("{greet:?}"), r#"CommandHandle { id: "names:greet", plan: "typed chain" }"#);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn typed_middleware<Req, Resp, F>(
        &mut self,
        command: &str,
        priority: i32,
        middleware: F,
    ) -> Result<(), RegistrationError>
    where
        Req: 'static,
        Resp: 'static,
        F: Fn(Req, TypedNext<'_, Req, Resp>) -> Result<Resp, DispatchError> + Send + Sync + 'static,
        P: CommandsIntercept,
    {
        let () = crate::permissions::Proof::<P>::COMMANDS_INTERCEPT;
        self.typed_layer(command, priority, Arc::new(middleware), None)
    }

    /// Adds a layer declared as a type around command `command` (an exact id): a
    /// [`Layer`](crate::commands::Layer) of the command's request and response types.
    ///
    /// It runs as [`Context::typed_middleware`] does (the same order, attribution,
    /// auditing and permission, `commands.intercept`), wherever the command is called
    /// from. What the type adds: an application that names the command's layers in their
    /// order, with [`Host::command_with_layers`](crate::Host::command_with_layers), gets a
    /// handle that calls them as one function the compiler built for those types, with
    /// no indirect call between layers.
    ///
    /// ```
    /// use patchpanel::commands::{DispatchError, Downstream, Layer};
    /// use patchpanel::{Context, Host, Plugin, PluginError, PluginSpec};
    ///
    /// /// Adds one to every answer.
    /// struct PlusOne;
    ///
    /// impl Layer<u64, u64> for PlusOne {
    ///     fn call(&self, n: u64, next: impl Downstream<u64, u64>) -> Result<u64, DispatchError> {
    ///         Ok(next.run(n)? + 1)
    ///     }
    /// }
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
    ///         context.layer("math:double", 0, PlusOne)?;
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let host = Host::builder().plugins(vec![PluginSpec::registered::<Math>()?]).build()?;
    /// // Any handle runs the layer ...
    /// assert_eq!(host.command::<u64, u64>("math:double")?.call(20)?, 41);
    /// // ... and one that names it calls it with no indirection.
    /// let double = host.command_with_layers::<u64, u64, (PlusOne,)>("math:double")?;
    /// assert!(double.is_static());
    /// assert_eq!(double.call(20)?, 41);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn layer<Req, Resp, L>(&mut self, command: &str, priority: i32, layer: L) -> Result<(), RegistrationError>
    where
        Req: 'static,
        Resp: 'static,
        L: Layer<Req, Resp>,
        P: CommandsIntercept,
    {
        let () = crate::permissions::Proof::<P>::COMMANDS_INTERCEPT;
        let layer = Arc::new(layer);
        let instance: Arc<dyn Any + Send + Sync> = Arc::<L>::clone(&layer);
        let function = Arc::new(move |request: Req, next: TypedNext<'_, Req, Resp>| layer.call(request, next));
        self.typed_layer(command, priority, function, Some(instance))
    }

    /// Adds a guard: middleware like [`Context::middleware`], except that it fails
    /// closed. While this plugin is not active (disabled, failed, unloaded), the commands
    /// it guards are rejected with [`DispatchErrorKind::GuardDown`](crate::commands::DispatchErrorKind::GuardDown)
    /// instead of running without it. An application that must not run those commands
    /// even when the guard failed to start declares it too, with
    /// [`HostBuilder::guarded_by`](crate::host::HostBuilder::guarded_by).
    pub fn guard<F>(&mut self, pattern: &str, priority: i32, guard: F) -> Result<(), RegistrationError>
    where
        F: Fn(&mut Invocation<'_>, Next<'_>) -> Result<(), DispatchError> + Send + Sync + 'static,
        P: CommandsIntercept,
    {
        let () = crate::permissions::Proof::<P>::COMMANDS_INTERCEPT;
        self.add_middleware(pattern, priority, true, Arc::new(guard), None)
    }

    /// Provides a service, found by type with [`Context::service`] or
    /// [`Call::service`](crate::Call::service). Rank 0.
    pub fn provide<T: ?Sized + Send + Sync + 'static>(&mut self, service: Arc<T>)
    where
        P: ServicesProvide,
    {
        // `provide_ranked` proves and checks the permission.
        self.provide_ranked(0, service);
    }

    /// Provides a service with a rank: when several plugins provide one service, the
    /// highest rank wins, then the smallest plugin id.
    pub fn provide_ranked<T: ?Sized + Send + Sync + 'static>(&mut self, rank: i32, service: Arc<T>)
    where
        P: ServicesProvide,
    {
        let () = crate::permissions::Proof::<P>::SERVICES_PROVIDE;
        self.check_at_run_time("services", "provide");
        let registration = ProviderRegistration::new(rank, service);
        // For the async calls made on the service (`Service::with_async`).
        self.anchor();
        self.data.registrations.providers.push(registration);
    }

    /// A handle on service `T`, provided by a plugin active so far (dependencies
    /// activate first). Keep it for use in handlers: each call through it reaches the
    /// best provider active at that time, so it follows disables and reloads.
    pub fn service<T: ?Sized + 'static>(&self) -> Result<Service<T>, ServiceError>
    where
        P: ServicesConsume,
    {
        let () = crate::permissions::Proof::<P>::SERVICES_CONSUME;
        Call::<P>::typed(RawCall::new(self.data.runtime).enter(self.data.position)).service::<T>()
    }

    /// An owned handle for calling into the host as this plugin from code that outlives
    /// `activate` and is not a handler: a service the plugin provides, say, or an HTTP
    /// route it contributes. See [`AsyncCall::with`](crate::AsyncCall::with).
    pub fn caller(&self) -> crate::AsyncCall<P> {
        crate::AsyncCall::from_raw(&RawCall::new(self.data.runtime).enter(self.data.position))
    }

    /// Declares hook `<plugin-id>:<name>`, which other plugins implement with
    /// [`Context::implement_hook`]. Returns the hook's full id.
    pub fn declare_hook<Args: 'static, Out: 'static>(&mut self, name: &str) -> Result<String, RegistrationError>
    where
        P: HooksDeclare,
    {
        let () = crate::permissions::Proof::<P>::HOOKS_DECLARE;
        self.check_at_run_time("hooks", "declare");
        let id = self.own_id("hook", name)?;
        if self
            .data
            .registrations
            .hook_declarations
            .iter()
            .any(|hook| hook.id == id)
        {
            return Err(self.duplicate("hook", &id));
        }
        self.data
            .registrations
            .hook_declarations
            .push(HookDeclaration::new::<Args, Out>(id.clone()));
        Ok(id)
    }

    /// Implements hook `hook` (a full id, `owner:name`).
    pub fn implement_hook<Args, Out, F>(
        &mut self,
        hook: &str,
        order: HookOrder,
        implementation: F,
    ) -> Result<(), RegistrationError>
    where
        Args: 'static,
        Out: 'static,
        F: Fn(&Call<'_, P>, &Args) -> Option<Out> + Send + Sync + 'static,
        P: HooksImplement,
    {
        let () = crate::permissions::Proof::<P>::HOOKS_IMPLEMENT;
        self.check_at_run_time("hooks", "implement");
        let implementation = move |call: &RawCall<'_>, args: &Args| implementation(Call::typed_ref(call), args);
        self.add_hook_implementation(hook, order, Arc::new(implementation))
    }

    /// Implements async hook `hook`, declared as `HookFuture<Out>`: the implementation
    /// gets the owned [`AsyncCall`](crate::AsyncCall) and the arguments, and returns a
    /// future of `Some(out)` or `None` (to pass). The future runs when the caller
    /// awaits the hook's answers ([`Deferred::all`](crate::hooks::Deferred::all)), counted in
    /// flight in this plugin as an async command is: disabling it waits, a reload lets it
    /// finish on this instance.
    ///
    /// The arguments are borrowed only while the implementation is called: a future
    /// that needs them clones what it needs.
    pub fn implement_hook_async<Args, Out, F, Fut>(
        &mut self,
        hook: &str,
        order: HookOrder,
        implementation: F,
    ) -> Result<(), RegistrationError>
    where
        Args: 'static,
        Out: Send + 'static,
        F: Fn(crate::AsyncCall<P>, &Args) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Option<Out>> + Send + 'static,
        P: HooksImplement,
    {
        let () = crate::permissions::Proof::<P>::HOOKS_IMPLEMENT;
        self.check_at_run_time("hooks", "implement");
        let anchor = self.anchor();
        let site = anchor.site(format!("hook `{hook}`"));
        let implementation = move |call: &RawCall<'_>, args: &Args| {
            // Counted in first: the implementation runs as the plugin from here.
            let (ticket, hold) = anchor.arrive_held();
            let future = implementation(crate::AsyncCall::held(hold, call), args);
            Some(crate::hooks::Deferred::start(ticket, site, |_, _| None, future))
        };
        self.add_hook_implementation::<Args, crate::hooks::HookFuture<Out>>(hook, order, Arc::new(implementation))
    }

    /// This plugin instance's count of async calls in flight, made with its first async
    /// handler (or service: `Service::with_async` counts calls on it).
    fn anchor(&mut self) -> crate::runtime::inflight::Anchor {
        let data = &mut self.data;
        data.registrations
            .inflight
            .get_or_insert_with(|| crate::runtime::inflight::Anchor::new(data.runtime.shared(), data.position))
            .clone()
    }

    fn add_hook_implementation<Args: 'static, Out: 'static>(
        &mut self,
        hook: &str,
        order: HookOrder,
        implementation: crate::runtime::hooks::HookFn<Args, Out>,
    ) -> Result<(), RegistrationError> {
        if !hook
            .split_once(':')
            .is_some_and(|(owner, name)| !owner.is_empty() && valid_name(name))
        {
            return Err(RegistrationError::InvalidName {
                plugin: self.plugin_id().to_owned(),
                what: "hook (expected `owner:name`)",
                name: hook.to_owned(),
            });
        }
        self.data
            .registrations
            .hook_implementations
            .push(HookImplementation::new::<Args, Out>(
                hook.to_owned(),
                order,
                implementation,
            ));
        Ok(())
    }

    /// Opens this plugin's inbox for messages of type `M`, answered with an `R`.
    pub fn on_message<M, R, F>(&mut self, handler: F) -> Result<(), RegistrationError>
    where
        M: Send + 'static,
        R: Send + 'static,
        F: Fn(&Call<'_, P>, M) -> Result<R, PluginError> + Send + Sync + 'static,
        P: MessagingReceive,
    {
        let () = crate::permissions::Proof::<P>::MESSAGING_RECEIVE;
        self.check_at_run_time("messaging", "receive");
        let handler = move |call: &RawCall<'_>, message: M| handler(Call::typed_ref(call), message);
        self.refuse_second_inbox::<M>()?;
        self.data
            .registrations
            .inboxes
            .push(InboxRegistration::new::<M, R>(Arc::new(handler)));
        Ok(())
    }

    /// Opens an async inbox for messages of type `M`: the handler gets the owned
    /// [`AsyncCall`](crate::AsyncCall) and the message, and returns a future of the
    /// reply, which senders await through
    /// [`Call::request_async`](crate::Call::request_async). The future is counted in
    /// flight in this plugin until it completes (see [`Deferred`](crate::hooks::Deferred)).
    pub fn on_message_async<M, R, F, Fut>(&mut self, handler: F) -> Result<(), RegistrationError>
    where
        M: Send + 'static,
        R: Send + 'static,
        F: Fn(crate::AsyncCall<P>, M) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<R, PluginError>> + Send + 'static,
        P: MessagingReceive,
    {
        let () = crate::permissions::Proof::<P>::MESSAGING_RECEIVE;
        self.check_at_run_time("messaging", "receive");
        self.refuse_second_inbox::<M>()?;
        let anchor = self.anchor();
        let site = anchor.site(format!("inbox for {}", std::any::type_name::<M>()));
        let plugin = Arc::clone(&self.data.runtime.plugin(self.data.position).id);
        let handler = move |call: &RawCall<'_>, message: M| {
            let (ticket, hold) = anchor.arrive_held();
            let future = handler(crate::AsyncCall::held(hold, call), message);
            let on_error = Arc::clone(&plugin);
            let future = async move {
                future.await.map_err(|source| crate::messaging::MessageError::Handler {
                    plugin: on_error.to_string(),
                    message: std::any::type_name::<M>(),
                    source,
                })
            };
            let on_panic = |ticket: &crate::runtime::inflight::Ticket, panic| {
                Err(crate::messaging::MessageError::Panicked {
                    plugin: ticket.plugin_id().to_owned(),
                    message: std::any::type_name::<M>(),
                    panic,
                })
            };
            Ok(crate::hooks::Deferred::start(ticket, site, on_panic, future))
        };
        self.data
            .registrations
            .inboxes
            .push(InboxRegistration::new_async::<M, R>(Arc::new(handler)));
        Ok(())
    }

    fn refuse_second_inbox<M: 'static>(&self) -> Result<(), RegistrationError> {
        let message = TypeId::of::<M>();
        if self
            .data
            .registrations
            .inboxes
            .iter()
            .any(|inbox| inbox.message == message)
        {
            return Err(self.duplicate("inbox", std::any::type_name::<M>()));
        }
        Ok(())
    }
}
