use patchpanel::{register_plugin, subscribe, Call, Context, Plugin, PluginError};

#[register_plugin(id = "listener", permissions = { events = ["publish"] })]
#[derive(Default)]
pub struct Listener;

impl Plugin for Listener {
    fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
        Ok(())
    }
}

pub struct Ping;

#[subscribe(Listener)]
fn on_ping(_call: &Call<'_, Listener>, _ping: &Ping) -> Result<(), PluginError> {
    Ok(())
}

fn main() {}
