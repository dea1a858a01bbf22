// A dependency cycle among the named plugins fails `cargo build`, naming the cycle.
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

    #[register_plugin(id = "x-beta", version = "1.0.0", dependencies = { "x-alpha" = "^0.1" })]
    #[derive(Default)]
    pub struct Beta;

    impl Plugin for Beta {
        fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
            Ok(())
        }
    }
}

patchpanel::link_plugins! { plugins::Alpha, plugins::Beta }

fn main() {}
