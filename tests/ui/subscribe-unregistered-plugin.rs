use patchpanel::{subscribe, Call, PluginError};

pub struct Ping;
pub struct NotAPlugin;

#[subscribe(NotAPlugin)]
fn on_ping(_call: &Call<'_, NotAPlugin>, _ping: &Ping) -> Result<(), PluginError> {
    Ok(())
}

fn main() {}
