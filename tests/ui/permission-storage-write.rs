use patchpanel::{register_plugin, Context, Plugin, PluginError};

#[register_plugin(id = "notes", permissions = { storage = ["read"] })]
#[derive(Default)]
pub struct Notes;

impl Plugin for Notes {
    fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
        let storage = context.storage();
        storage.put("draft", b"hello").map_err(|e| PluginError::wrap("failed", e))?;
        Ok(())
    }
}

fn main() {}
