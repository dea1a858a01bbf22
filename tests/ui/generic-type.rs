use patchpanel::register_plugin;

#[register_plugin(id = "demo")]
#[derive(Default)]
pub struct Demo<T>(T);

fn main() {}
