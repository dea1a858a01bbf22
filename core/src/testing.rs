//! Helpers for testing plugins and hosts.
//!
//! [`fn_plugin`] makes a plugin out of a closure, so a test or a bench can build a host
//! of small plugins that register exactly what it needs, without a type per plugin. Its
//! manifest, built in code, is checked at run time: each registration needs its
//! permission there ([`with_every_permission`] declares them all).
//!
//! ```
//! use patchpanel::testing::fn_plugin;
//! use patchpanel::{Host, Manifest, manifest::Scope};
//!
//! let manifest = Manifest::builder("math", "1.0.0").permission("commands", "register", Scope::PluginOnly);
//! let math = fn_plugin(manifest.build()?, |context| {
//!     context.command("double", |_, n: u64| Ok(n * 2))?;
//!     Ok(())
//! });
//! let host = Host::builder().plugins(vec![math]).build()?;
//! assert_eq!(host.execute::<u64, u64>("math:double", 21)?, 42);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Guide chapter: [testing plugins](crate::guide::testing).

use std::sync::Arc;

use crate::{Context, Manifest, Plugin, PluginError, PluginSpec};

type Activate = Arc<dyn Fn(&mut Context<'_, FnPlugin>) -> Result<(), PluginError> + Send + Sync>;

/// `manifest` declaring every permission of the catalogue, at scope `plugin-only`: for
/// test plugins that register whatever a test needs. Reaching other plugins still needs
/// a wider scope, declared explicitly.
///
/// ```
/// let manifest = patchpanel::testing::with_every_permission(patchpanel::Manifest::builder("t", "1.0.0")).build()?;
/// assert!(manifest.permission("events", "publish").is_some());
/// # Ok::<(), patchpanel::manifest::ManifestError>(())
/// ```
pub fn with_every_permission(mut manifest: crate::manifest::ManifestBuilder) -> crate::manifest::ManifestBuilder {
    for (resource, actions) in crate::manifest::RESOURCES {
        for action in *actions {
            manifest = manifest.permission(resource, action, crate::manifest::Scope::PluginOnly);
        }
    }
    manifest
}

/// A plugin whose activation is a closure; see [`fn_plugin`].
#[derive(Default)]
pub struct FnPlugin {
    activate: Option<Activate>,
}

// Not a hint worth giving someone whose own type lacks a `Plugin` impl.
#[diagnostic::do_not_recommend]
impl Plugin for FnPlugin {
    fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
        match &self.activate {
            Some(activate) => activate(context),
            None => Ok(()),
        }
    }
}

// A test plugin built from a closure holds every permission at compile time: its
// manifest is built in code, at run time, so there is no registered manifest for the
// compiler to check against. The run-time checks still follow the manifest it is given.
impl crate::permissions::sealed::Sealed for FnPlugin {}

impl crate::permissions::Manifested for FnPlugin {
    const PERMISSIONS: Option<&'static [crate::registry::StaticPermission]> = None;
}

macro_rules! grant_all {
    ($($permission:ident),* $(,)?) => {
        $(
            #[diagnostic::do_not_recommend]
            impl crate::permissions::$permission for FnPlugin {}
        )*
    };
}

grant_all!(
    CommandsExecute,
    CommandsIntercept,
    CommandsRegister,
    EventsPublish,
    EventsSubscribe,
    HooksDeclare,
    HooksImplement,
    MessagingReceive,
    MessagingSend,
    ServicesConsume,
    ServicesProvide,
    StorageRead,
    StorageTenants,
    StorageWrite,
);

impl std::fmt::Debug for FnPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FnPlugin").finish_non_exhaustive()
    }
}

/// A plugin with `manifest` whose `activate` runs `activate` (for every instance,
/// including after a reload).
pub fn fn_plugin(
    manifest: Manifest,
    activate: impl Fn(&mut Context<'_, FnPlugin>) -> Result<(), PluginError> + Send + Sync + 'static,
) -> PluginSpec {
    let activate: Activate = Arc::new(activate);
    PluginSpec::with_factory(manifest, move || FnPlugin {
        activate: Some(activate.clone()),
    })
}

/// A host for unit-testing a plugin: the plugin under test, the plugins (or fakes) it
/// depends on, in-memory storage, the configuration the test gives, and a record of the
/// events published and the commands executed.
///
/// ```
/// use patchpanel::testing::{fn_plugin, TestHost};
/// use patchpanel::Manifest;
///
/// #[derive(Clone, Debug, PartialEq)]
/// struct Greeted(String);
///
/// let manifest = patchpanel::testing::with_every_permission(Manifest::builder("greeter", "1.0.0"));
/// let greeter = fn_plugin(manifest.build()?, |context| {
///     context.command("hello", |call, name: String| {
///         call.publish(&Greeted(name.clone()));
///         Ok(format!("Hello, {name}!"))
///     })?;
///     Ok(())
/// });
/// let test = TestHost::builder().spec(greeter).record::<Greeted>().build()?;
/// assert_eq!(test.host().execute::<String, String>("greeter:hello", "ada".into())?, "Hello, ada!");
/// assert_eq!(test.events::<Greeted>(), [Greeted("ada".into())]);
/// assert_eq!(test.commands(), [RecordedCommand { command: "greeter:hello".into(), caller: None }]);
/// # use patchpanel::testing::RecordedCommand;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Guide: [testing plugins](crate::guide::testing).
pub struct TestHost {
    host: crate::Host,
    events: std::collections::HashMap<std::any::TypeId, Arc<dyn std::any::Any + Send + Sync>>,
    commands: Arc<std::sync::Mutex<Vec<RecordedCommand>>>,
}

/// A command that ran in a [`TestHost`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedCommand {
    /// The command id.
    pub command: String,
    /// The plugin that ran it, or `None` for the test itself.
    pub caller: Option<String>,
}

/// Builds a [`TestHost`].
#[must_use = "a builder does nothing until `build` is called"]
pub struct TestHostBuilder {
    specs: Vec<PluginSpec>,
    /// Specs the test deliberately runs under a manifest other than the registered one.
    overridden: Vec<String>,
    config: Vec<(String, serde_json::Value)>,
    recorders: Vec<Recorder>,
}

/// A recorded event type and its log (a `Mutex<Vec<E>>`).
type EventLog = (std::any::TypeId, Arc<dyn std::any::Any + Send + Sync>);

type Recorder = Box<dyn FnOnce(&mut Context<'_, FnPlugin>) -> EventLog + Send>;

/// The id of the plugin that records for a [`TestHost`].
pub const RECORDER_ID: &str = "patchpanel-test-recorder";

impl TestHost {
    /// A builder with no plugins yet.
    pub fn builder() -> TestHostBuilder {
        TestHostBuilder {
            specs: Vec::new(),
            overridden: Vec::new(),
            config: Vec::new(),
            recorders: Vec::new(),
        }
    }

    /// The host, to dispatch through and inspect.
    pub fn host(&self) -> &crate::Host {
        &self.host
    }

    /// The host, for lifecycle calls that need `&mut` (reload).
    pub fn host_mut(&mut self) -> &mut crate::Host {
        &mut self.host
    }

    /// Every `E` published so far, in order. `E` must have been named with
    /// [`TestHostBuilder::record`].
    pub fn events<E: Clone + Send + Sync + 'static>(&self) -> Vec<E> {
        self.events
            .get(&std::any::TypeId::of::<E>())
            .and_then(|log| log.downcast_ref::<std::sync::Mutex<Vec<E>>>())
            .map(|log| log.lock().unwrap_or_else(|p| p.into_inner()).clone())
            .unwrap_or_else(|| {
                panic!(
                    "events of `{}` are not recorded; call `.record::<{0}>()` on the builder",
                    std::any::type_name::<E>()
                )
            })
    }

    /// Every command that ran, in order, with who ran it.
    pub fn commands(&self) -> Vec<RecordedCommand> {
        self.commands.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl std::fmt::Debug for TestHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestHost")
            .field("host", &self.host)
            .finish_non_exhaustive()
    }
}

impl TestHostBuilder {
    /// Adds registered plugin `P` with the manifest `#[register_plugin]` checked.
    pub fn plugin<P: crate::Plugin + crate::registry::Registered>(mut self) -> TestHostBuilder {
        let manifest = P::MANIFEST
            .to_manifest()
            .expect("a registered manifest passed the build-time checks");
        self.specs.push(PluginSpec::new::<P>(manifest));
        self
    }

    /// Adds any plugin: a fake dependency, a [`fn_plugin`]. A spec of a registered type
    /// must carry the manifest its type was registered with, or the build fails with
    /// [`StartError::ManifestMismatch`](crate::host::StartError::ManifestMismatch): tests and
    /// production must not disagree about a plugin's permissions.
    pub fn spec(mut self, spec: PluginSpec) -> TestHostBuilder {
        self.specs.push(spec);
        self
    }

    /// Adds a spec that deliberately runs a registered type under another manifest (to
    /// test how the host treats a narrower one, say).
    pub fn spec_with_other_manifest(mut self, spec: PluginSpec) -> TestHostBuilder {
        self.overridden.push(spec.manifest().id.clone());
        self.specs.push(spec);
        self
    }

    /// Gives plugin `id` its configuration.
    pub fn config(mut self, id: &str, value: serde_json::Value) -> TestHostBuilder {
        self.config.push((id.to_owned(), value));
        self
    }

    /// Records every published `E`, read back with [`TestHost::events`].
    pub fn record<E: Clone + Send + Sync + 'static>(mut self) -> TestHostBuilder {
        self.recorders.push(Box::new(|context| {
            let log: Arc<std::sync::Mutex<Vec<E>>> = Arc::default();
            let sink = log.clone();
            context.subscribe(move |_, event: &E| {
                sink.lock().unwrap_or_else(|p| p.into_inner()).push(event.clone());
                Ok(())
            });
            (std::any::TypeId::of::<E>(), log as Arc<dyn std::any::Any + Send + Sync>)
        }));
        self
    }

    /// Starts the host in strict mode: a plugin that fails to start fails the test.
    pub fn build(self) -> Result<TestHost, crate::host::StartError> {
        for spec in &self.specs {
            if self.overridden.contains(&spec.manifest().id) {
                continue;
            }
            let registered = crate::registry::registry_entries().find(|entry| entry.type_name() == spec.type_name());
            if let Some(Ok(registered)) = registered.map(|entry| entry.manifest().to_manifest())
                && &registered != spec.manifest()
            {
                return Err(crate::host::StartError::ManifestMismatch {
                    plugin: spec.manifest().id.clone(),
                    type_name: spec.type_name().to_owned(),
                });
            }
        }
        let commands: Arc<std::sync::Mutex<Vec<RecordedCommand>>> = Arc::default();
        let events: Arc<std::sync::Mutex<Vec<EventLog>>> = Arc::default();
        let recorders = std::sync::Mutex::new(Some(self.recorders));
        let (sink, collected) = (commands.clone(), events.clone());
        let recorder = fn_plugin(
            // It records every command, so its middleware wraps every plugin's.
            with_every_permission(Manifest::builder(RECORDER_ID, "0.0.0"))
                .permission("commands", "intercept", crate::manifest::Scope::All)
                .build()
                .expect("a valid recorder manifest"),
            move |context| {
                let sink = sink.clone();
                context.middleware("*", i32::MAX, move |invocation, next| {
                    sink.lock().unwrap_or_else(|p| p.into_inner()).push(RecordedCommand {
                        command: invocation.command().to_owned(),
                        caller: invocation.invoker().map(str::to_owned),
                    });
                    next.run(invocation)
                })?;
                for recorder in recorders
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .take()
                    .into_iter()
                    .flatten()
                {
                    let entry = recorder(context);
                    collected.lock().unwrap_or_else(|p| p.into_inner()).push(entry);
                }
                Ok(())
            },
        );
        let mut builder = crate::Host::builder()
            .strict(true)
            .plugins(self.specs.into_iter().chain([recorder]).collect());
        for (id, value) in self.config {
            builder = builder.config(id, value);
        }
        let host = builder.build()?;
        let events = events.lock().unwrap_or_else(|p| p.into_inner()).drain(..).collect();
        Ok(TestHost { host, events, commands })
    }
}

impl std::fmt::Debug for TestHostBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestHostBuilder")
            .field("specs", &self.specs)
            .finish_non_exhaustive()
    }
}
