// A deprecation must say why.
#[patchpanel::register_plugin(id = "old-store", version = "1.0.0", deprecated = { message = "  ", replacement = "new-store" })]
#[derive(Default)]
pub struct OldStore;

impl patchpanel::Plugin for OldStore {
    fn activate(&mut self, _: &mut patchpanel::Context<'_, Self>) -> Result<(), patchpanel::PluginError> {
        Ok(())
    }
}

fn main() {}
