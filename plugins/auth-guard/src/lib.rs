//! `auth-guard`: rejects commands from outside the host that carry no valid token.
//!
//! Its guard (priority 1000) runs early on every command. A command the application (or a CLI)
//! sends must carry metadata `token` equal to the configured token; commands that
//! plugins send each other are trusted and pass. It is a guard, not plain middleware:
//! while auth-guard is disabled or failed, the commands it guards are rejected rather
//! than run without a token check.

use patchpanel::{Context, Plugin, PluginError, config::PluginConfig, register_plugin};
use serde::Deserialize;

/// The guard's configuration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// The token callers must present (`demo-token` by default).
    pub token: String,
}

impl Default for AuthConfig {
    fn default() -> AuthConfig {
        AuthConfig {
            token: "demo-token".to_owned(),
        }
    }
}

/// The auth guard plugin.
#[register_plugin(
    id = "auth-guard",
    name = "Auth guard",
    required_features = ["middleware"],
    permissions = { commands = { intercept = true, scope = "all" } },
    // A guard only: it registers none of the kinds `contributes` lists.
    contributes = {},
)]
#[derive(Debug, Default)]
pub struct AuthGuard {
    config: AuthConfig,
}

impl Plugin for AuthGuard {
    fn configure(&mut self, config: &PluginConfig) -> Result<(), PluginError> {
        let config: AuthConfig = config
            .get()
            .map_err(|error| PluginError::wrap("bad auth-guard configuration", error))?;
        // An empty token is no token: a caller sending `token=` would pass. Refused, so
        // the plugin fails and its guard rejects every guarded command (fail closed).
        if config.token.trim().is_empty() {
            return Err(PluginError::new(
                "bad auth-guard configuration: `token` is empty; set it under [plugins.\"auth-guard\"] to a non-blank secret (or leave it out for the demo default)",
            ));
        }
        self.config = config;
        Ok(())
    }

    fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
        let token = self.config.token.clone();
        context.guard("*", 1000, move |invocation, next| {
            if invocation.invoker().is_none() && invocation.metadata("token") != Some(token.as_str()) {
                return Err(invocation.reject("auth-guard: missing or wrong `token` metadata"));
            }
            next.run(invocation)
        })?;
        Ok(())
    }
}
