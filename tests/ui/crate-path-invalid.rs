use patchpanel::{Call, Context, Plugin, PluginError, lifecycle::StateChanged, register_plugin, subscribe};

#[register_plugin(crate = 12, id = "renamed", permissions = { events = ["subscribe"] })]
#[derive(Default)]
pub struct Renamed;

impl Plugin for Renamed {
    fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
        Ok(())
    }
}

#[subscribe(Renamed, krate = pp)]
fn on_change(_: &Call<'_, Renamed>, _: &StateChanged) -> Result<(), PluginError> {
    Ok(())
}

fn main() {}
