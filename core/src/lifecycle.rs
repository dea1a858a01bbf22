//! The lifecycle: the states a plugin goes through and the transitions between them.
//!
//! ```text
//! Discovered -> Validated -> Resolved -> Loaded -> Active <-> Disabled
//!                               |          |        |          |
//!                               +----------+--> Failed     Unloaded (deactivated)
//! ```
//!
//! The runtime keeps each plugin's state in an atomic, so dispatch reads it without a
//! lock; every change is checked against [`State::can_become`] first.
//!
//! Guide chapter: [resolution and lifecycle](crate::guide::lifecycle).

use std::fmt;

/// Where a plugin is in its lifecycle.
///
/// Guide: [resolution and lifecycle](crate::guide::lifecycle).
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

/// The audit text of each allowed transition, by `[from][to]`: a static, so that a
/// record can keep a one-word reference to its entry.
static TRANSITION_TEXTS: [[Option<&str>; State::ALL.len()]; State::ALL.len()] = {
    use State::*;
    let mut texts = [[None; State::ALL.len()]; State::ALL.len()];
    texts[Discovered as usize][Validated as usize] = Some("discovered -> validated");
    texts[Validated as usize][Resolved as usize] = Some("validated -> resolved");
    texts[Resolved as usize][Loaded as usize] = Some("resolved -> loaded");
    texts[Loaded as usize][Active as usize] = Some("loaded -> active");
    texts[Active as usize][Disabled as usize] = Some("active -> disabled");
    texts[Disabled as usize][Active as usize] = Some("disabled -> active");
    texts[Active as usize][Unloaded as usize] = Some("active -> unloaded");
    texts[Disabled as usize][Unloaded as usize] = Some("disabled -> unloaded");
    texts[Unloaded as usize][Loaded as usize] = Some("unloaded -> loaded");
    texts[Failed as usize][Loaded as usize] = Some("failed -> loaded");
    texts[Resolved as usize][Failed as usize] = Some("resolved -> failed");
    texts[Loaded as usize][Failed as usize] = Some("loaded -> failed");
    texts[Active as usize][Failed as usize] = Some("active -> failed");
    texts[Unloaded as usize][Failed as usize] = Some("unloaded -> failed");
    texts
};

impl State {
    /// Every state, in the order of the lifecycle diagram.
    pub const ALL: [State; 8] = [
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

    pub(crate) fn from_u8(value: u8) -> State {
        State::ALL[usize::from(value)]
    }

    /// `"from -> to"` when the lifecycle allows the move, from the table of texts
    /// [`State::can_become`] reads: what a transition audits, with nothing to format. A
    /// reference to the table's entry, one word where the text's is two.
    pub(crate) fn move_text(from: State, to: State) -> Option<&'static &'static str> {
        TRANSITION_TEXTS[from as usize][to as usize].as_ref()
    }

    /// Whether the lifecycle allows moving from `self` to `to`: discovered -> validated
    /// -> resolved -> loaded -> active, active <-> disabled, active or disabled ->
    /// unloaded, unloaded or failed -> loaded (a reload creates a new instance), and
    /// resolved, loaded, active or unloaded -> failed. (A lookup in the table of the
    /// allowed moves' audit texts: every transition of every plugin asks.)
    pub fn can_become(self, to: State) -> bool {
        State::move_text(self, to).is_some()
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
    /// `get_state` returned an error during a reload.
    #[error("get_state returned an error: {0}")]
    GetState(String),
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
    /// The plugin's code did not return within its deadline.
    #[error("did not {during} within {}", humane(*deadline))]
    Deadline {
        /// What it was doing: `activate`.
        during: &'static str,
        /// The deadline it missed.
        deadline: std::time::Duration,
    },
    /// What the plugin registered differs from the `contributes` of its manifest.
    #[error(
        "what it registered differs from the `contributes` of its manifest:{}{}; make the two match",
        if undeclared.is_empty() { String::new() } else { format!(" registered but not declared: {}", undeclared.join(", ")) },
        if unregistered.is_empty() { String::new() } else { format!("{}declared but not registered: {}", if undeclared.is_empty() { " " } else { "; " }, unregistered.join(", ")) },
    )]
    Contributions {
        /// Registered but not declared: ``command `hello` ``, ``service `dyn a::B` ``...
        undeclared: Vec<String>,
        /// Declared but not registered.
        unregistered: Vec<String>,
    },
    /// A dependency failed, so this plugin was not activated.
    #[error("not activated because its dependency `{dependency}` failed")]
    DependencyFailed {
        /// The failed dependency.
        dependency: String,
    },
}

/// `5 s`, `250 ms`: how a deadline reads in a message.
fn humane(duration: std::time::Duration) -> String {
    if duration.subsec_nanos() == 0 {
        format!("{} s", duration.as_secs())
    } else {
        format!("{} ms", duration.as_millis())
    }
}

/// Published by the host, as an event, whenever an operator changes a running plugin's
/// state through [`Host::disable`](crate::Host::disable) or
/// [`Host::enable`](crate::Host::enable). Subscribe to it to audit the lifecycle.
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
///
/// Guide: [running for days](crate::guide::running).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    /// No plugin has this id.
    #[error(
        "no plugin {} is running in this host{}",
        crate::support::Quoted(id),
        suggestion.as_ref().map_or_else(
            || "; the host's `order()` lists the ids of those that are".to_owned(),
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
    /// A lifecycle change was asked for from inside a plugin call on the same thread,
    /// where waiting for calls to finish would wait for itself.
    #[error(
        "plugin `{plugin}` cannot be {action} from inside a call that is running in it (or, for a disable, from inside a publish or a middleware chain while it has subscriptions, middleware or a command with middleware; for a reload, from inside any plugin call) on the same thread; make the change from outside the call"
    )]
    InsideCall {
        /// The id of the plugin the request was about.
        plugin: String,
        /// What was asked: `disabled` or `reloaded`.
        action: &'static str,
    },
    /// A request that needs a plugin instance was made from inside
    /// [`Host::with_plugin`](crate::Host::with_plugin) on the same thread, which holds an
    /// instance: waiting for it would wait for itself.
    #[error(
        "plugin instances cannot be {action} from inside `with_plugin`, which holds the instance of `{plugin}` on this thread; return from the closure first"
    )]
    Reentered {
        /// The plugin whose instance this thread holds.
        plugin: String,
        /// What was asked: `borrowed again`, `disabled`, `reloaded`...
        action: &'static str,
    },
    /// No instance of this plugin type is loaded: it is not in this host, or it has not
    /// started, or it was unloaded.
    #[error("no instance of `{type_name}` is loaded in this host; the host's `order()` lists the plugins that run")]
    NotLoaded {
        /// The plugin type asked for.
        type_name: &'static str,
    },
    /// A reload step failed; the previous instance keeps serving, untouched.
    #[error("reloading plugin `{plugin}` failed in {step}: {failure}; the previous instance keeps serving")]
    ReloadFailed {
        /// The id of the plugin the request was about.
        plugin: String,
        /// The step that failed.
        step: ReloadStep,
        /// Why it failed.
        failure: Failure,
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

/// A step of [`Host::reload`](crate::Host::reload), named in its errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReloadStep {
    /// `get_state` on the serving instance.
    GetState,
    /// Creating the new instance.
    Create,
    /// `configure` on the new instance, with the current configuration.
    Configure,
    /// `restore_state` on the new instance.
    RestoreState,
    /// `activate` on the new instance.
    Activate,
    /// Rebuilding the dispatch tables with the new instance's registrations.
    Wire,
}

impl fmt::Display for ReloadStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReloadStep::GetState => "get_state",
            ReloadStep::Create => "create",
            ReloadStep::Configure => "configure",
            ReloadStep::RestoreState => "restore_state",
            ReloadStep::Activate => "activate",
            ReloadStep::Wire => "wiring",
        })
    }
}

/// Published by the host, as an event, after [`Host::reload`](crate::Host::reload)
/// switched a plugin to a new instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reloaded {
    /// The id of the plugin that now runs a new instance.
    pub plugin: String,
    /// How many times it has been reloaded in this host, this time included.
    pub generation: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_allowed_move_has_a_text_reading_from_arrow_to_and_no_other_has_one() {
        let mut allowed = 0;
        for from in State::ALL {
            for to in State::ALL {
                match State::move_text(from, to) {
                    Some(text) => {
                        allowed += 1;
                        assert_eq!(*text, format!("{from} -> {to}"));
                        assert!(from.can_become(to), "{from} -> {to} has a text but is not allowed");
                    }
                    None => assert!(!from.can_become(to), "{from} -> {to} is allowed but has no text"),
                }
            }
        }
        assert_eq!(allowed, 14, "the lifecycle's moves");
    }

    #[test]
    fn transitions_follow_the_diagram() {
        use State::*;
        let allowed = [
            (Discovered, Validated),
            (Validated, Resolved),
            (Resolved, Loaded),
            (Loaded, Active),
            (Active, Disabled),
            (Disabled, Active),
            (Active, Unloaded),
            (Disabled, Unloaded),
            (Unloaded, Loaded),
            (Failed, Loaded),
            (Resolved, Failed),
            (Loaded, Failed),
            (Active, Failed),
            (Unloaded, Failed),
        ];
        for from in State::ALL {
            for to in State::ALL {
                assert_eq!(from.can_become(to), allowed.contains(&(from, to)), "{from} -> {to}");
            }
        }
        assert_eq!(
            LifecycleError::InvalidTransition {
                plugin: "p".into(),
                from: State::Unloaded,
                to: State::Active
            }
            .to_string(),
            "plugin `p` cannot go from unloaded to active"
        );
        for state in State::ALL {
            assert_eq!(State::from_u8(state as u8), state);
        }
    }
}
