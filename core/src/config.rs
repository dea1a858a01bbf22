//! Per-plugin configuration, handed to [`Plugin::configure`](crate::Plugin::configure).

use serde::de::DeserializeOwned;

/// A plugin's configuration table, deserialized on request into the plugin's own type.
///
/// ```
/// #[derive(serde::Deserialize, Default, Debug)]
/// struct GreeterConfig {
///     greeting: String,
/// }
///
/// let config = plugboard::PluginConfig::new("greeter", serde_json::json!({ "greeting": "hi" }));
/// let typed: GreeterConfig = config.get().unwrap();
/// assert_eq!(typed.greeting, "hi");
///
/// let bad = plugboard::PluginConfig::new("greeter", serde_json::json!({ "greeting": 7 }));
/// assert_eq!(
///     bad.get::<GreeterConfig>().unwrap_err().to_string(),
///     "invalid configuration for plugin `greeter`: invalid type: integer `7`, expected a string"
/// );
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PluginConfig {
    plugin: String,
    value: Option<serde_json::Value>,
}

/// A configuration value did not fit the plugin's config type.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration for plugin `{plugin}`: {source}")]
pub struct ConfigError {
    /// The plugin whose configuration is wrong.
    pub plugin: String,
    /// What serde reported.
    #[source]
    pub source: serde_json::Error,
}

impl PluginConfig {
    /// Configuration `value` for `plugin`.
    pub fn new(plugin: impl Into<String>, value: serde_json::Value) -> PluginConfig {
        PluginConfig {
            plugin: plugin.into(),
            value: Some(value),
        }
    }

    /// No configuration was given for `plugin`.
    pub fn empty(plugin: impl Into<String>) -> PluginConfig {
        PluginConfig {
            plugin: plugin.into(),
            value: None,
        }
    }

    /// Whether any configuration was given.
    pub fn is_given(&self) -> bool {
        self.value.is_some()
    }

    /// Deserializes the configuration; with none given, `T::default()`.
    pub fn get<T: DeserializeOwned + Default>(&self) -> Result<T, ConfigError> {
        match &self.value {
            None => Ok(T::default()),
            Some(value) => T::deserialize(value).map_err(|source| ConfigError {
                plugin: self.plugin.clone(),
                source,
            }),
        }
    }
}
