// A required dependency that `link_plugins!` does not name fails `cargo build`.
mod plugins {
    use patchpanel::{register_plugin, Context, Plugin, PluginError};

    #[register_plugin(id = "x-alpha", version = "0.1.0", dependencies = { "x-beta" = "^1" })]
    #[derive(Default)]
    pub struct Alpha;

    impl Plugin for Alpha {
        fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
            Ok(())
        }
    }
}

patchpanel::link_plugins! { plugins::Alpha }

fn main() {}
