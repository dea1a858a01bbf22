use patchpanel::{register_plugin, Context, Plugin, PluginError};

#[register_plugin(id = "notes", permissions = { storage = ["write"] })]
#[derive(Default)]
pub struct Notes;

impl Plugin for Notes {
    fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
        let storage = context.storage();
        let _draft = storage.get("draft").map_err(|e| PluginError::wrap("failed", e))?;
        Ok(())
    }
}

fn main() {}
