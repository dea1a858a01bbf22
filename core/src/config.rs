//! Per-plugin configuration, handed to [`Plugin::configure`](crate::Plugin::configure).
//!
//! Guide chapter: [storage and configuration](crate::guide::storage).

use serde::de::DeserializeOwned;

/// A plugin's configuration table, deserialized on request into the plugin's own type.
///
/// ```
/// #[derive(serde::Deserialize, Default, Debug)]
/// struct GreeterConfig {
///     greeting: String,
/// }
///
/// let config = patchpanel::config::PluginConfig::new("greeter", serde_json::json!({ "greeting": "hi" }));
/// let typed: GreeterConfig = config.get().unwrap();
/// assert_eq!(typed.greeting, "hi");
///
/// let bad = patchpanel::config::PluginConfig::new("greeter", serde_json::json!({ "greeting": 7 }));
/// assert_eq!(
///     bad.get::<GreeterConfig>().unwrap_err().to_string(),
///     "invalid configuration for plugin `greeter` at `greeting`: invalid type: integer `7`, expected a string"
/// );
/// ```
///
/// Guide: [storage and configuration](crate::guide::storage).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PluginConfig {
    // Shared, so that handing a copy to each new instance allocates nothing.
    plugin: std::sync::Arc<str>,
    value: Option<std::sync::Arc<serde_json::Value>>,
}

/// A configuration value did not fit the plugin's config type.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration for plugin `{plugin}` at `{path}`: {message}")]
pub struct ConfigError {
    /// The plugin whose configuration is wrong.
    pub plugin: String,
    /// The key path of the offending value, e.g. `limits.max_names` (`.` for the table).
    pub path: String,
    /// What is wrong, with the expected type.
    pub message: String,
}

impl PluginConfig {
    /// Configuration `value` for `plugin`.
    pub fn new(plugin: impl Into<std::sync::Arc<str>>, value: serde_json::Value) -> PluginConfig {
        PluginConfig {
            plugin: plugin.into(),
            value: Some(std::sync::Arc::new(value)),
        }
    }

    /// No configuration was given for `plugin`.
    pub fn empty(plugin: impl Into<std::sync::Arc<str>>) -> PluginConfig {
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
            Some(value) => serde_path_to_error::deserialize(&**value).map_err(|error| ConfigError {
                plugin: self.plugin.to_string(),
                path: error.path().to_string(),
                message: error.into_inner().to_string(),
            }),
        }
    }
}

/// A configuration file: one `[plugins."<id>"]` table per plugin.
///
/// ```
/// let file = patchpanel::config::ConfigFile::parse(
///     "[plugins.\"greeter\"]\ngreeting = \"Howdy\"\n",
/// ).unwrap();
/// assert_eq!(file.plugin_ids().collect::<Vec<_>>(), ["greeter"]);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConfigFile {
    plugins: std::collections::BTreeMap<String, serde_json::Value>,
    /// `[grants]`: per plugin id, the permissions the application grants it.
    grants: Option<std::collections::BTreeMap<String, Vec<String>>>,
    /// `[pins]`: per plugin id, the version range the application runs.
    pins: std::collections::BTreeMap<String, String>,
}

/// Per plugin id, its configuration table.
pub(crate) type ConfigTables = std::collections::BTreeMap<String, serde_json::Value>;

/// Per plugin id, the version range pinned.
pub(crate) type Pins = std::collections::BTreeMap<String, String>;

/// Per plugin id, the permissions the application grants it.
pub(crate) type Grants = std::collections::BTreeMap<String, Vec<String>>;

/// A configuration file that cannot be read or understood.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    /// The file cannot be read.
    #[error("cannot read the configuration file `{}`: {source}", path.display())]
    Read {
        /// The path of the configuration file, as given.
        path: std::path::PathBuf,
        /// The I/O error that made it unreadable.
        #[source]
        source: std::io::Error,
    },
    /// The TOML does not parse.
    #[error("the configuration does not parse: {0}")]
    Parse(String),
    /// Something other than `[plugins."<id>"]` tables and a `[grants]` table.
    #[error(
        "the configuration has `{0}` where only `[plugins.\"<plugin-id>\"]` tables, a `[grants]` and a `[pins]` table belong; move it into the table of the plugin it configures"
    )]
    Unexpected(String),
    /// The `[grants]` table is not `"<plugin-id>" = ["resource.action", ...]`.
    #[error("the grant for `{0}` must be a list of permissions, e.g. `\"{0}\" = [\"storage.read\"]`")]
    Grant(String),
    /// A `[pins]` entry is not a version range.
    #[error("the pin of `{0}` must be a version range, e.g. `\"{0}\" = \"^2\"`")]
    Pin(String),
    /// A file read by [`ConfigFile::read`] has one of the problems above.
    #[error("in the configuration file `{}`: {error}", path.display())]
    InFile {
        /// The path of the configuration file, as given.
        path: std::path::PathBuf,
        /// What is wrong with its contents.
        error: Box<ConfigFileError>,
    },
}

impl ConfigFile {
    /// Parses TOML text.
    pub fn parse(text: &str) -> Result<ConfigFile, ConfigFileError> {
        let document: toml::Table = toml::from_str(text).map_err(|error| ConfigFileError::Parse(error.to_string()))?;
        let mut plugins = std::collections::BTreeMap::new();
        let mut grants = None;
        let mut pins = std::collections::BTreeMap::new();
        for (key, value) in document {
            if key == "pins" {
                let toml::Value::Table(table) = value else {
                    return Err(ConfigFileError::Unexpected("pins = ...".to_owned()));
                };
                for (id, range) in table {
                    let Some(range) = range.as_str() else {
                        return Err(ConfigFileError::Pin(id));
                    };
                    pins.insert(id, range.to_owned());
                }
                continue;
            }
            if key == "grants" {
                let toml::Value::Table(table) = value else {
                    return Err(ConfigFileError::Unexpected("grants = ...".to_owned()));
                };
                let mut parsed = std::collections::BTreeMap::new();
                for (id, list) in table {
                    let permissions: Option<Vec<String>> = list
                        .as_array()
                        .and_then(|items| items.iter().map(|item| item.as_str().map(str::to_owned)).collect());
                    parsed.insert(id.clone(), permissions.ok_or(ConfigFileError::Grant(id))?);
                }
                grants = Some(parsed);
                continue;
            }
            if key != "plugins" {
                return Err(ConfigFileError::Unexpected(key));
            }
            let toml::Value::Table(tables) = value else {
                return Err(ConfigFileError::Unexpected("plugins = ...".to_owned()));
            };
            for (id, table) in tables {
                if !table.is_table() {
                    return Err(ConfigFileError::Unexpected(format!("plugins.{id} = ...")));
                }
                let value = serde_json::to_value(&table).map_err(|error| ConfigFileError::Parse(error.to_string()))?;
                plugins.insert(id, value);
            }
        }
        Ok(ConfigFile { plugins, grants, pins })
    }

    /// Reads and parses a file.
    pub fn read(path: impl AsRef<std::path::Path>) -> Result<ConfigFile, ConfigFileError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigFileError::Read {
            path: path.to_owned(),
            source,
        })?;
        ConfigFile::parse(&text).map_err(|error| ConfigFileError::InFile {
            path: path.to_owned(),
            error: Box::new(error),
        })
    }

    /// The plugin ids that have a table.
    pub fn plugin_ids(&self) -> impl Iterator<Item = &str> {
        self.plugins.keys().map(String::as_str)
    }

    pub(crate) fn into_parts(self) -> (ConfigTables, Option<Grants>, Pins) {
        (self.plugins, self.grants, self.pins)
    }
}

crate::error::plugin_error_from!(ConfigError);
