//! What a plugin is told when a registration it asked for is not allowed: a command in
//! another plugin's namespace, a name ids do not allow, or the same thing twice.

/// A registration the plugin asked for is not allowed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RegistrationError {
    /// A command outside the plugin's own namespace.
    #[error("plugin `{plugin}` cannot register `{command}`: a plugin registers commands only in its own namespace; use `{plugin}:{}`", command.split_once(':').map_or(command.as_str(), |(_, name)| name))]
    ForeignNamespace {
        /// The id of the plugin that asked.
        plugin: String,
        /// The command id asked for.
        command: String,
    },
    /// A name that is empty or has characters ids do not allow.
    #[error(
        "plugin `{plugin}` cannot register {what} `{name}`: use letters, digits, `-`, `_`, `.` or `/`, and at least one of them"
    )]
    InvalidName {
        /// The id of the plugin that asked.
        plugin: String,
        /// What was being registered.
        what: &'static str,
        /// The name as given, before any prefix was added.
        name: String,
    },
    /// The same thing registered twice by one plugin.
    #[error("plugin `{plugin}` registers {what} `{name}` twice")]
    Duplicate {
        /// The id of the plugin that asked.
        plugin: String,
        /// What was registered.
        what: &'static str,
        /// The id it was registered under, both times.
        name: String,
    },
}
