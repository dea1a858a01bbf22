//! The lifecycle: the states a plugin goes through and the transitions between them.
//!
//! ```text
//! Discovered -> Validated -> Resolved -> Loaded -> Active <-> Disabled
//!                               |          |        |          |
//!                               +----------+--> Failed     Unloaded (deactivated)
//! ```
//!
//! Every change goes through `StateCell::transition`, which refuses a move the diagram
//! does not allow. The state is an atomic, so dispatch reads it without a lock.

use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use crate::audit::{Audit, Decision};

/// Where a plugin is in its lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum State {
    /// Found in the registry or the explicit list.
    Discovered = 0,
    /// Its manifest passed validation.
    Validated = 1,
    /// It has a place in the activation order.
    Resolved = 2,
    /// An instance exists and is configured.
    Loaded = 3,
    /// Activated; receives events and commands.
    Active = 4,
    /// Paused by the host; receives nothing, keeps its instance and state.
    Disabled = 5,
    /// Deactivated; its instance is dropped.
    Unloaded = 6,
    /// Failed; see [`Failure`] for why.
    Failed = 7,
}

impl State {
    const ALL: [State; 8] = [
        State::Discovered,
        State::Validated,
        State::Resolved,
        State::Loaded,
        State::Active,
        State::Disabled,
        State::Unloaded,
        State::Failed,
    ];

    /// The lowercase name (`active`, `failed`...).
    pub fn as_str(self) -> &'static str {
        match self {
            State::Discovered => "discovered",
            State::Validated => "validated",
            State::Resolved => "resolved",
            State::Loaded => "loaded",
            State::Active => "active",
            State::Disabled => "disabled",
            State::Unloaded => "unloaded",
            State::Failed => "failed",
        }
    }

    /// Whether the lifecycle allows moving from `self` to `to`.
    pub fn can_become(self, to: State) -> bool {
        use State::*;
        matches!(
            (self, to),
            (Discovered, Validated)
                | (Validated, Resolved)
                | (Resolved, Loaded)
                | (Loaded, Active)
                | (Active, Disabled)
                | (Disabled, Active)
                | (Active | Disabled, Unloaded)
                // A reload creates a new instance for a deactivated or failed plugin.
                | (Unloaded | Failed, Loaded)
                | (Resolved | Loaded | Active | Unloaded, Failed)
        )
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a plugin failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// `activate` returned an error.
    #[error("activate returned an error: {0}")]
    Activate(String),
    /// `configure` returned an error.
    #[error("configure returned an error: {0}")]
    Configure(String),
    /// `restore_state` returned an error during a reload.
    #[error("restore_state returned an error: {0}")]
    RestoreState(String),
    /// Plugin code panicked; the panic was caught at the boundary.
    #[error("panicked in {during}: {message}")]
    Panicked {
        /// The lifecycle call that panicked (`activate`, `configure`...).
        during: &'static str,
        /// The panic message.
        message: String,
    },
    /// `deactivate` returned an error; the plugin was unloaded anyway.
    #[error("deactivate returned an error: {0}")]
    Deactivate(String),
    /// A dependency failed, so this plugin was not activated.
    #[error("not activated because its dependency `{dependency}` failed")]
    DependencyFailed {
        /// The failed dependency.
        dependency: String,
    },
}

/// A plugin's state as reported by the host: the [`State`], with the reason when failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PluginState {
    /// Any state but failed.
    Ok(State),
    /// Failed, and why.
    Failed(Failure),
}

impl PluginState {
    /// The state without the reason.
    pub fn state(&self) -> State {
        match self {
            PluginState::Ok(state) => *state,
            PluginState::Failed(_) => State::Failed,
        }
    }
}

impl fmt::Display for PluginState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PluginState::Ok(state) => write!(f, "{state}"),
            PluginState::Failed(failure) => write!(f, "failed: {failure}"),
        }
    }
}

/// Published by the host, as an event, whenever a running plugin changes state through
/// [`Host::disable`](crate::Host::disable), [`Host::enable`](crate::Host::enable) or
/// [`Host::reload`](crate::Host::reload). Subscribe to it to audit the lifecycle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateChanged {
    /// The id of the plugin whose state changed.
    pub plugin: String,
    /// Its state before.
    pub from: State,
    /// Its state now.
    pub to: State,
}

/// A refused lifecycle request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    /// No plugin has this id.
    #[error(
        "no plugin `{id}` is running in this host{}",
        suggestion.as_ref().map_or_else(
            || "; `Host::order` lists the ids of those that are".to_owned(),
            |s| format!("; did you mean `{s}`?"),
        )
    )]
    UnknownPlugin {
        /// The id asked for.
        id: String,
        /// The closest id of a running plugin, if one is close.
        suggestion: Option<String>,
    },
    /// The lifecycle does not allow this move.
    #[error("plugin `{plugin}` cannot go from {from} to {to}")]
    InvalidTransition {
        /// The id of the plugin the request was about.
        plugin: String,
        /// Its lifecycle state, which does not allow the move.
        from: State,
        /// The state asked for.
        to: State,
    },
    /// Active plugins depend on this one.
    #[error("plugin `{plugin}` cannot be disabled while {} depend on it; disable them first", dependents.join(", "))]
    DependentsActive {
        /// The id of the plugin the request was about.
        plugin: String,
        /// Its active dependents.
        dependents: Vec<String>,
    },
    /// A dependency is not active.
    #[error(
        "plugin `{plugin}` cannot start while its dependency `{dependency}` is {state}; enable or reload `{dependency}` first"
    )]
    DependencyInactive {
        /// The id of the plugin the request was about.
        plugin: String,
        /// The id of the dependency that is not active.
        dependency: String,
        /// The dependency's state.
        state: State,
    },
    /// The plugin failed while carrying out the request.
    #[error("plugin `{plugin}` failed: {failure}")]
    Failed {
        /// The id of the plugin the request was about.
        plugin: String,
        /// Why it failed, with its cause chain.
        failure: Failure,
    },
}

/// `"from -> to"` for every transition the diagram allows, without formatting.
fn transition_text(from: State, to: State) -> std::borrow::Cow<'static, str> {
    use State::*;
    std::borrow::Cow::Borrowed(match (from, to) {
        (Discovered, Validated) => "discovered -> validated",
        (Validated, Resolved) => "validated -> resolved",
        (Resolved, Loaded) => "resolved -> loaded",
        (Loaded, Active) => "loaded -> active",
        (Active, Disabled) => "active -> disabled",
        (Disabled, Active) => "disabled -> active",
        (Active, Unloaded) => "active -> unloaded",
        (Disabled, Unloaded) => "disabled -> unloaded",
        (Unloaded, Loaded) => "unloaded -> loaded",
        (Failed, Loaded) => "failed -> loaded",
        (Resolved, Failed) => "resolved -> failed",
        (Loaded, Failed) => "loaded -> failed",
        (Active, Failed) => "active -> failed",
        (Unloaded, Failed) => "unloaded -> failed",
        _ => return std::borrow::Cow::Owned(format!("{from} -> {to}")),
    })
}

/// A plugin's lifecycle state as the dispatch tables see it: each table entry keeps a
/// handle to its owner's state, so the check on the dispatch path is two loads.
#[derive(Clone, Debug)]
pub(crate) struct SharedState(Arc<AtomicU8>);

impl SharedState {
    #[inline(always)]
    pub(crate) fn is_active(&self) -> bool {
        self.0.load(Ordering::Acquire) == State::Active as u8
    }
}

/// A plugin's state, readable without a lock.
#[derive(Debug)]
pub(crate) struct StateCell {
    state: SharedState,
    failure: Mutex<Option<Failure>>,
    audit: Arc<Audit>,
    /// The plugin id, shared with every audit record about it.
    plugin: Arc<str>,
}

impl StateCell {
    pub(crate) fn new(plugin: &str, audit: Arc<Audit>) -> StateCell {
        StateCell {
            state: SharedState(Arc::new(AtomicU8::new(State::Discovered as u8))),
            failure: Mutex::new(None),
            audit,
            plugin: Arc::from(plugin),
        }
    }

    #[inline]
    pub(crate) fn get(&self) -> State {
        State::ALL[usize::from(self.state.0.load(Ordering::Acquire))]
    }

    /// A handle for the dispatch tables.
    pub(crate) fn shared(&self) -> SharedState {
        self.state.clone()
    }

    pub(crate) fn report(&self) -> PluginState {
        match self.get() {
            State::Failed => PluginState::Failed(
                self.failure
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .clone()
                    .unwrap_or(Failure::Activate(String::new())),
            ),
            state => PluginState::Ok(state),
        }
    }

    /// Moves to `to` if the lifecycle allows it from the current state.
    pub(crate) fn transition(&self, to: State) -> Result<State, LifecycleError> {
        let from = self.get();
        if !from.can_become(to) {
            return Err(LifecycleError::InvalidTransition {
                plugin: self.plugin.to_string(),
                from,
                to,
            });
        }
        // Transitions are made by the host under `&mut self` or its lifecycle lock, so a
        // plain store after the check cannot race another transition.
        self.state.0.store(to as u8, Ordering::Release);
        self.audit.record(
            &self.plugin,
            "lifecycle",
            Decision::Transition,
            transition_text(from, to),
        );
        Ok(from)
    }

    pub(crate) fn fail(&self, failure: Failure) -> Result<(), LifecycleError> {
        if self.get() != State::Failed {
            self.transition(State::Failed)?;
        }
        self.audit.record(
            &self.plugin,
            "lifecycle",
            Decision::Transition,
            format!("failed: {failure}"),
        );
        *self.failure.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(failure);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_follow_the_diagram() {
        let cell = StateCell::new("p", Arc::default());
        for to in [
            State::Validated,
            State::Resolved,
            State::Loaded,
            State::Active,
            State::Disabled,
            State::Active,
            State::Unloaded,
        ] {
            cell.transition(to).unwrap();
        }
        assert_eq!(
            cell.transition(State::Active),
            Err(LifecycleError::InvalidTransition {
                plugin: "p".into(),
                from: State::Unloaded,
                to: State::Active
            })
        );
        assert_eq!(
            LifecycleError::InvalidTransition {
                plugin: "p".into(),
                from: State::Unloaded,
                to: State::Active
            }
            .to_string(),
            "plugin `p` cannot go from unloaded to active"
        );
    }

    #[test]
    fn failure_is_reported_with_its_reason() {
        let cell = StateCell::new("p", Arc::default());
        for to in [State::Validated, State::Resolved, State::Loaded] {
            cell.transition(to).unwrap();
        }
        cell.fail(Failure::Activate("no disk".into())).unwrap();
        assert_eq!(cell.report(), PluginState::Failed(Failure::Activate("no disk".into())));
        assert_eq!(cell.report().to_string(), "failed: activate returned an error: no disk");
    }
}
