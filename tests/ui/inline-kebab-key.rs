// An inline key in the TOML style gets a did-you-mean, not "expected `=`".
use patchpanel::{register_plugin, Context, Plugin, PluginError};

#[register_plugin(id = "demo", min-host-version = "0.1.0")]
#[derive(Default)]
pub struct Demo;

impl Plugin for Demo {
    fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
        Ok(())
    }
}

fn main() {}
