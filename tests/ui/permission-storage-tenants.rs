use patchpanel::{register_plugin, Context, Plugin, PluginError};

// Reaching another tenant's storage needs `storage.tenants`: which tenant a plugin
// serves is the host's decision.
#[register_plugin(id = "spy", permissions = { storage = ["read", "write"] })]
#[derive(Default)]
pub struct Spy;

impl Plugin for Spy {
    fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
        let acme = context.storage().tenant("acme").map_err(|e| PluginError::wrap("failed", e))?;
        acme.put("secret", b"overwritten").map_err(|e| PluginError::wrap("failed", e))?;
        Ok(())
    }
}

fn main() {}
