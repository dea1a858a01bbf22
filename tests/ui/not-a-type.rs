use patchpanel::register_plugin;

#[register_plugin(id = "demo")]
fn demo() {}

fn main() {}
