use patchpanel::{subscribe, Call, PluginError};

pub struct Ping;

#[subscribe]
fn on_ping(_call: &Call<'_, Listener>, _ping: &Ping) -> Result<(), PluginError> {
    Ok(())
}

fn main() {}
