//! The plugin interface: the trait a plugin type implements, the state it carries
//! across a reload, and the capabilities it reports. It sits in the wiring layer
//! because the trait and the [`Context`] it is handed refer to each other.

use super::context::Context;
use crate::config::PluginConfig;
use crate::error::PluginError;

/// A plugin: an ordinary Rust type, registered with `#[register_plugin]`.
///
/// The id, version, dependencies and permissions come from the manifest, never from
/// code. Every method has a default; a plugin implements [`activate`](Plugin::activate)
/// (or its async form [`activate_async`](Plugin::activate_async)) to do anything.
/// The host creates the instance with [`Default`], calls
/// [`configure`](Plugin::configure), then `activate` in dependency order, and
/// [`deactivate`](Plugin::deactivate) in reverse order at shutdown, exactly once.
///
/// ```
/// use patchpanel::{Context, Plugin, PluginError};
///
/// #[derive(Default)]
/// struct Greeter {
///     greetings: u32,
/// }
///
/// impl Plugin for Greeter {
///     fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
///         self.greetings = 0;
///         assert!(!context.plugin_id().is_empty());
///         Ok(())
///     }
/// }
/// ```
///
/// Guide: [your first plugin](crate::guide::first_plugin).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a plugin",
    label = "`#[register_plugin]` needs a type that implements `patchpanel::Plugin`",
    note = "add `impl patchpanel::Plugin for {Self} {{ fn activate(&mut self, context: &mut patchpanel::Context<'_, Self>) -> Result<(), patchpanel::PluginError> {{ Ok(()) }} }}`"
)]
pub trait Plugin: Default + Send + 'static {
    /// Starts the plugin: subscribe, register, open what it needs.
    ///
    /// An error or a panic marks the plugin failed; its dependents are not activated.
    /// A plugin that must await something to start implements
    /// [`activate_async`](Plugin::activate_async) instead; this one is then not called.
    fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
        let _ = context;
        Ok(())
    }

    /// Stops the plugin and releases what it holds. Called once, in reverse dependency
    /// order, for every plugin that was activated.
    fn deactivate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
        let _ = context;
        Ok(())
    }

    /// Receives the plugin's configuration, before [`activate`](Plugin::activate).
    fn configure(&mut self, config: &PluginConfig) -> Result<(), PluginError> {
        let _ = config;
        Ok(())
    }

    /// The async form of [`configure`](Plugin::configure), which it calls by default.
    /// See [`activate_async`](Plugin::activate_async) for how the host runs it.
    fn configure_async(&mut self, config: &PluginConfig) -> impl Future<Output = Result<(), PluginError>> + Send {
        std::future::ready(self.configure(config))
    }

    /// The async form of [`activate`](Plugin::activate), which it calls by default. A
    /// plugin that opens a connection pool, reads a file or calls another service to
    /// start implements this one, as an `async fn`, and may await while it registers:
    ///
    /// ```
    /// use patchpanel::{Context, Host, Plugin, PluginError, PluginSpec};
    ///
    /// #[patchpanel::register_plugin(id = "pool", version = "1.0.0", permissions = { commands = ["register"] })]
    /// #[derive(Default)]
    /// struct Pool {
    ///     connections: Vec<u32>,
    /// }
    ///
    /// impl Plugin for Pool {
    ///     async fn activate_async(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
    ///         for n in 0..4 {
    ///             // Stands for a connect that awaits the network.
    ///             let connection = patchpanel::blocking::unblock(move || n).await;
    ///             self.connections.push(connection);
    ///         }
    ///         let size = self.connections.len();
    ///         context.command("size", move |_, (): ()| Ok(size))?;
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let host = Host::builder().plugins(vec![PluginSpec::registered::<Pool>()?]).build()?;
    /// assert_eq!(host.execute::<(), usize>("pool:size", ())?, 4);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// The core runs no executor. The host drives the future on the thread that
    /// activates the plugin: the builder's, one thread per plugin with
    /// [`HostBuilder::parallel_startup`](crate::host::HostBuilder::parallel_startup) (so independent async
    /// activations overlap) or a deadline, and with
    /// [`HostBuilder::build_async`](crate::host::HostBuilder::build_async) a thread that has
    /// entered the caller's tokio runtime (feature `tokio`), so tokio sockets and timers
    /// work. **Cancellation:** at the plugin's activation deadline the future is dropped
    /// where it stands, its destructors run, and the plugin is failed ("did not activate
    /// within 5 s"); what it registered is discarded.
    fn activate_async(
        &mut self,
        context: &mut Context<'_, Self>,
    ) -> impl Future<Output = Result<(), PluginError>> + Send {
        std::future::ready(self.activate(context))
    }

    /// The async form of [`deactivate`](Plugin::deactivate), which it calls by
    /// default; run like [`activate_async`](Plugin::activate_async), and dropped at the
    /// deactivation deadline.
    fn deactivate_async(
        &mut self,
        context: &mut Context<'_, Self>,
    ) -> impl Future<Output = Result<(), PluginError>> + Send {
        std::future::ready(self.deactivate(context))
    }

    /// Captures state to carry across a reload (and, with a registry file, across
    /// restarts). `Ok(None)` (the default) carries nothing. An error stops a reload
    /// before anything changed: the serving instance keeps serving.
    fn get_state(&mut self) -> Result<Option<SavedState>, PluginError> {
        Ok(None)
    }

    /// Restores state captured by [`get_state`](Plugin::get_state) on the previous
    /// instance, before the new instance is activated. An error stops a reload, and the
    /// previous instance keeps serving.
    fn restore_state(&mut self, state: SavedState) -> Result<(), PluginError> {
        let _ = state;
        Ok(())
    }

    /// What the plugin offers, for inspection ([`PluginInfo::capabilities`](crate::host::PluginInfo::capabilities)).
    /// Not called on the dispatch path; a host may call it at any time while the plugin is active.
    fn capabilities(&self) -> Vec<Capability> {
        Vec::new()
    }

    /// Reports how the plugin is doing, for [`Host::health`](crate::Host::health): a
    /// storage plugin might say its file went read-only. Optional; healthy by default.
    ///
    /// Keep it quick and side-effect free: it runs on the caller's thread, holding the
    /// instance (a reload waits for it; dispatch does not), and a check that panics or
    /// takes longer than the host's budget counts as unhealthy.
    fn health(&self) -> crate::health::Health {
        crate::health::Health::healthy()
    }
}

/// State carried from one instance of a plugin to the next across a reload, as serde
/// data, so that it can also be persisted.
///
/// ```
/// let state = patchpanel::SavedState::new(&42_u32)?;
/// assert_eq!(state.get::<u32>()?, 42);
/// assert_eq!(
///     state.get::<String>().unwrap_err().to_string(),
///     "the saved state is not a valid `alloc::string::String`: invalid type: integer `42`, expected a string"
/// );
/// # Ok::<(), patchpanel::PluginError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct SavedState(serde_json::Value);

impl SavedState {
    /// Serializes `value`.
    pub fn new<T: serde::Serialize + ?Sized>(value: &T) -> Result<SavedState, PluginError> {
        serde_json::to_value(value)
            .map(SavedState)
            .map_err(|error| PluginError::wrap(format!("the state does not serialize: {error}"), error))
    }

    /// Deserializes the state as a `T`.
    pub fn get<T: serde::de::DeserializeOwned>(&self) -> Result<T, PluginError> {
        serde_json::from_value(self.0.clone()).map_err(|error| {
            PluginError::wrap(
                format!(
                    "the saved state is not a valid `{}`: {error}",
                    std::any::type_name::<T>()
                ),
                error,
            )
        })
    }

    /// The state as JSON.
    pub fn as_json(&self) -> &serde_json::Value {
        &self.0
    }

    /// State from JSON, as a registry file holds it.
    pub fn from_json(value: serde_json::Value) -> SavedState {
        SavedState(value)
    }
}

/// One thing a plugin offers, as reported by [`Plugin::capabilities`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Capability {
    /// What kind of thing: `command`, `event`, `service`, `hook`...
    pub kind: &'static str,
    /// Its name, e.g. `greeter:hello`.
    pub name: String,
}

impl Capability {
    /// A capability of `kind` named `name`.
    pub fn new(kind: &'static str, name: impl Into<String>) -> Capability {
        Capability {
            kind,
            name: name.into(),
        }
    }
}
