// A deadline is a positive duration in `s` or `ms`.
use patchpanel::{register_plugin, Context, Plugin, PluginError};

#[register_plugin(id = "slow", activation_deadline = "-5s")]
#[derive(Default)]
pub struct Slow;

impl Plugin for Slow {
    fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
        Ok(())
    }
}

fn main() {}
