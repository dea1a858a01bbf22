//! `greeter`: greets people. Depends on `kv-store`, optionally on `audit-trail`.
//!
//! Its manifest is given inline, in the `#[register_plugin(...)]` arguments.

use plugboard::{
    Capability, Context, Plugin, PluginConfig, PluginError, SavedState, register_plugin,
};

/// The greeter's configuration.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GreeterConfig {
    /// The word used to greet (`Hello` by default).
    pub greeting: String,
}

impl Default for GreeterConfig {
    fn default() -> GreeterConfig {
        GreeterConfig {
            greeting: "Hello".to_owned(),
        }
    }
}

/// The greeter plugin.
#[register_plugin(
    id = "greeter",
    name = "Greeter",
    required_features = ["events", "commands"],
    dependencies = {
        "kv-store" = "^1.0",
        "audit-trail" = { version = "^0.1", optional = true },
    },
    permissions = {
        storage = ["read"],
        commands = ["register"],
        events = ["publish"],
    },
)]
#[derive(Debug, Default)]
pub struct Greeter {
    config: GreeterConfig,
    greeted: u64,
    audited: bool,
}

impl Greeter {
    /// A greeting for `name`.
    pub fn greet(&mut self, name: &str) -> String {
        self.greeted += 1;
        format!("{}, {name}!", self.config.greeting)
    }

    /// How many greetings this plugin has made, carried across reloads.
    pub fn greeted(&self) -> u64 {
        self.greeted
    }

    /// Whether the optional `audit-trail` plugin was present at activation.
    pub fn audited(&self) -> bool {
        self.audited
    }
}

impl Plugin for Greeter {
    fn configure(&mut self, config: &PluginConfig) -> Result<(), PluginError> {
        self.config = config
            .get()
            .map_err(|error| PluginError::wrap("bad greeter configuration", error))?;
        Ok(())
    }

    fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
        self.audited = context.is_present("audit-trail");
        Ok(())
    }

    fn get_state(&mut self) -> Option<SavedState> {
        Some(SavedState::new(self.greeted))
    }

    fn restore_state(&mut self, state: SavedState) -> Result<(), PluginError> {
        self.greeted = state
            .downcast::<u64>()
            .map_err(|_| PluginError::new("saved greeter state is not a greeting count"))?;
        Ok(())
    }

    fn capabilities(&self) -> Vec<Capability> {
        vec![Capability::new("command", "greeter:hello")]
    }
}
