// A named dependency whose version does not meet the range fails `cargo build`.
mod plugins {
    use patchpanel::{register_plugin, Context, Plugin, PluginError};

    #[register_plugin(id = "x-gamma", version = "0.1.0", dependencies = { "x-beta" = "^2" })]
    #[derive(Default)]
    pub struct Gamma;

    impl Plugin for Gamma {
        fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
            Ok(())
        }
    }

    #[register_plugin(id = "x-beta", version = "1.0.0")]
    #[derive(Default)]
    pub struct Beta;

    impl Plugin for Beta {
        fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
            Ok(())
        }
    }
}

patchpanel::link_plugins! { plugins::Gamma, plugins::Beta }

fn main() {}
