// Two named types with one id fail `cargo build`: one id runs one type.
mod plugins {
    use patchpanel::{register_plugin, Context, Plugin, PluginError};

    #[register_plugin(id = "x-beta", version = "1.0.0")]
    #[derive(Default)]
    pub struct Beta;

    impl Plugin for Beta {
        fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
            Ok(())
        }
    }

    #[register_plugin(id = "x-beta", version = "1.1.0")]
    #[derive(Default)]
    pub struct OtherBeta;

    impl Plugin for OtherBeta {
        fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
            Ok(())
        }
    }
}

patchpanel::link_plugins! { plugins::Beta, plugins::OtherBeta }

fn main() {}
