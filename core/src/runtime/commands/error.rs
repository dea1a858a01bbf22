//! Why a dispatch failed: [`DispatchError`] and its kinds.

use super::Refused;
use crate::error::PluginError;
use crate::lifecycle::{Failure, State};
use crate::permissions::PermissionDenied;
use crate::runtime::Runtime;
use crate::runtime::quiescence;

/// Why a dispatch failed. [`DispatchError::kind`] tells which way.
///
/// Boxed, so that every `Result` on the dispatch path fits in two registers; a failed
/// dispatch pays one allocation.
///
/// Guide: [the error catalogue](crate::guide::errors).
#[derive(Debug)]
pub struct DispatchError(Box<DispatchErrorKind>);

impl DispatchError {
    /// Command `command` rejected by middleware, for `reason`: what every middleware's
    /// `reject` returns (a pattern layer's, a typed layer's, a layer declared as a type's).
    #[cold]
    pub(crate) fn rejected(command: &str, reason: String) -> DispatchError {
        DispatchError::from(DispatchErrorKind::Rejected {
            command: command.to_owned(),
            reason,
        })
    }

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
        match &*self.0 {
            // The message already ends with the handler's message, so the chain goes on
            // from that error's cause: a chain printer (anyhow's `Caused by`) does not
            // print the handler's message twice.
            DispatchErrorKind::Handler { source, .. } => source.source(),
            kind => kind.source(),
        }
    }
}

/// The ways a dispatch can fail.
#[derive(Debug, thiserror::Error)]
pub enum DispatchErrorKind {
    /// No command has this id.
    #[error("unknown command {}{}", crate::support::Quoted(id), suggestion.as_ref().map(|s| format!("; did you mean `{s}`?")).unwrap_or_default())]
    UnknownCommand {
        /// The id asked for.
        id: String,
        /// The closest registered id, if one is close.
        suggestion: Option<String>,
    },
    /// The command is async and was called the synchronous way.
    #[error(
        "command `{command}` is async: call it with `execute_async` or `execute_json_async` and await the result \
         (from code outside any async runtime, `patchpanel::blocking::block_on` waits for it)"
    )]
    Asynchronous {
        /// The full command id, `plugin:name`.
        command: String,
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
    /// The plugin that owns the command is not active: disabled, unloaded, or failed
    /// (and then why).
    #[error(
        "command `{command}` is unavailable: plugin `{plugin}` is {state}{}",
        failure.as_ref().map(|failure| format!(": {failure}")).unwrap_or_default()
    )]
    NotActive {
        /// The full command id, `plugin:name`.
        command: String,
        /// The id of the plugin that registered the command (or owns its namespace).
        plugin: String,
        /// The plugin's state.
        state: State,
        /// Why the plugin failed, when it is failed.
        failure: Option<Failure>,
    },
    /// A guard of this command is not active, so the command fails closed.
    #[error(
        "command `{command}` was rejected: its guard, plugin `{guard}`, is {}{}; the command cannot run unguarded",
        state.map_or("not running in this host", State::as_str),
        failure.as_ref().map(|failure| format!(" ({failure})")).unwrap_or_default()
    )]
    GuardDown {
        /// The full command id, `plugin:name`.
        command: String,
        /// The id of the guarding plugin.
        guard: String,
        /// The guard's state, or `None` when no plugin has that id.
        state: Option<State>,
        /// Why the guard failed, when it is failed.
        failure: Option<Failure>,
    },
    /// Calls nest deeper than the runtime allows on one thread (a handler that calls
    /// itself, or a cycle of plugins calling each other).
    #[error(
        "command `{command}` was not run: calls nest deeper than {max} on this thread; look for a handler that calls itself, directly or through other plugins",
        max = quiescence::MAX_DEPTH
    )]
    TooDeep {
        /// The full command id, `plugin:name`.
        command: String,
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
    /// A typed middleware around the command was written for other request or response
    /// types, so the command fails closed rather than run without it.
    #[error(
        "command `{command}` was rejected: plugin `{plugin}` has typed middleware for it that takes `{layer_request}` and returns `{layer_response}`, but the command takes `{request}` and returns `{response}`; register the middleware with the command's types"
    )]
    LayerTypes {
        /// The full command id, `plugin:name`.
        command: String,
        /// The id of the plugin whose typed middleware it is.
        plugin: String,
        /// The middleware's request type.
        layer_request: &'static str,
        /// The middleware's response type.
        layer_response: &'static str,
        /// The command's request type.
        request: &'static str,
        /// The command's response type.
        response: &'static str,
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

/// The error for a call refused at a plugin's door.
#[cold]
pub(crate) fn refused(runtime: &Runtime, command: &str, owner: usize, refused: Refused) -> DispatchError {
    match refused {
        Refused::TooDeep => DispatchError::from(DispatchErrorKind::TooDeep {
            command: command.to_owned(),
        }),
        Refused::Inactive(state) => {
            let slot = runtime.plugin(owner);
            DispatchError::from(DispatchErrorKind::NotActive {
                command: command.to_owned(),
                plugin: slot.id.to_string(),
                state,
                failure: slot.failure(),
            })
        }
    }
}

/// The error for a command whose guard is down.
#[cold]
pub(crate) fn guard_down(runtime: &Runtime, command: &str, guard: usize, state: State) -> DispatchError {
    DispatchError::from(DispatchErrorKind::GuardDown {
        command: command.to_owned(),
        guard: runtime.plugin_id(guard).to_owned(),
        state: Some(state),
        failure: runtime.plugin(guard).failure(),
    })
}

crate::error::plugin_error_from!(DispatchError);
