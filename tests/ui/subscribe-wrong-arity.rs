use patchpanel::{subscribe, PluginError};

pub struct Ping;
pub struct Listener;

#[subscribe(Listener)]
fn on_ping(_ping: &Ping) -> Result<(), PluginError> {
    Ok(())
}

fn main() {}
