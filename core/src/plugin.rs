//! The plugin interface: what a plugin type implements.

use std::fmt;

use crate::config::PluginConfig;
use crate::wiring::context::Context;

/// A plugin: an ordinary Rust type, registered with `#[register_plugin]`.
///
/// The id, version, dependencies and permissions come from the manifest, never from
/// code. Only [`activate`](Plugin::activate) is required; everything else has a default.
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
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a plugin",
    label = "`#[register_plugin]` needs a type that implements `patchpanel::Plugin`",
    note = "add `impl patchpanel::Plugin for {Self} {{ fn activate(&mut self, context: &mut patchpanel::Context<'_, Self>) -> Result<(), patchpanel::PluginError> {{ Ok(()) }} }}`"
)]
pub trait Plugin: Default + Send + 'static {
    /// Starts the plugin: subscribe, register, open what it needs.
    ///
    /// An error or a panic marks the plugin failed; its dependents are not activated.
    fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError>;

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

    /// What the plugin offers, for inspection ([`PluginInfo::capabilities`](crate::PluginInfo::capabilities)).
    /// Not called on the dispatch path; a host may call it at any time while the plugin is active.
    fn capabilities(&self) -> Vec<Capability> {
        Vec::new()
    }
}

/// An error returned by a plugin's own code.
///
/// ```
/// let error = patchpanel::PluginError::new("the cache directory is read-only");
/// assert_eq!(error.to_string(), "the cache directory is read-only");
/// ```
#[derive(Debug)]
pub struct PluginError(Box<ErrorInner>);

/// Boxed so that a handler's `Result<T, PluginError>` is small enough to come back in
/// registers on the dispatch path; errors pay the allocation instead.
#[derive(Debug)]
struct ErrorInner {
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
    /// The error stands for its source: `message` is the source's message, and the
    /// cause chain continues at the source's own source, so nothing is printed twice.
    transparent: bool,
}

impl PluginError {
    /// An error with a message.
    pub fn new(message: impl Into<String>) -> PluginError {
        PluginError(Box::new(ErrorInner {
            message: message.into(),
            source: None,
            transparent: false,
        }))
    }

    /// An error that wraps another, keeping it as the source.
    pub fn wrap(message: impl Into<String>, source: impl std::error::Error + Send + Sync + 'static) -> PluginError {
        PluginError(Box::new(ErrorInner {
            message: message.into(),
            source: Some(Box::new(source)),
            transparent: false,
        }))
    }

    /// An error that stands for another, as `?` makes one from a host error: the same
    /// message and the same cause chain, with the original kept for
    /// [`wrapped`](PluginError::wrapped).
    ///
    /// ```
    /// use std::error::Error;
    ///
    /// let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
    /// let error = patchpanel::PluginError::transparent(io);
    /// assert_eq!(error.to_string(), "no such file");
    /// assert!(error.source().is_none());
    /// assert!(error.wrapped().unwrap().is::<std::io::Error>());
    /// ```
    pub fn transparent(error: impl std::error::Error + Send + Sync + 'static) -> PluginError {
        PluginError(Box::new(ErrorInner {
            message: error.to_string(),
            source: Some(Box::new(error)),
            transparent: true,
        }))
    }

    /// The message, without the cause chain.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The error this one wraps or stands for, to downcast to the host error it came
    /// from (`error.wrapped()?.downcast_ref::<StorageError>()`).
    pub fn wrapped(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        self.0.source.as_deref()
    }
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.message)
    }
}

impl std::error::Error for PluginError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        let source = self.0.source.as_deref()?;
        if self.0.transparent {
            source.source()
        } else {
            Some(source as &(dyn std::error::Error + 'static))
        }
    }
}

/// `error`'s message followed by each of its causes, `outer: inner: innermost`, for
/// records that keep only text (incidents, failure reasons, the audit log).
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // A wrapper that already prints its cause (`{source}` in its message) would
        // print it twice.
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// `From<E> for PluginError` for host errors, so that a handler can `?` them. The
/// conversion is [`PluginError::transparent`]: the message and cause chain are kept.
macro_rules! plugin_error_from {
    ($($error:ty),* $(,)?) => {
        $(
            impl From<$error> for $crate::plugin::PluginError {
                fn from(error: $error) -> $crate::plugin::PluginError {
                    $crate::plugin::PluginError::transparent(error)
                }
            }
        )*
    };
}
pub(crate) use plugin_error_from;

impl From<String> for PluginError {
    fn from(message: String) -> PluginError {
        PluginError::new(message)
    }
}

impl From<&str> for PluginError {
    fn from(message: &str) -> PluginError {
        PluginError::new(message)
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
