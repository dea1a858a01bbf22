use patchpanel::commands::{DispatchError, Downstream, Layer};
use patchpanel::Host;

/// A layer of `String -> String` commands.
struct Trim;

impl Layer<String, String> for Trim {
    fn call(&self, name: String, next: impl Downstream<String, String>) -> Result<String, DispatchError> {
        next.run(name.trim().to_owned())
    }
}

fn main() {
    let host = Host::builder().plugins(vec![]).build().unwrap();
    // Named for a command of other types: a compile error, not a handle that never matches.
    let _ = host.command_with_layers::<u64, u64, (Trim,)>("math:double");
    // Not a tuple.
    let _ = host.command_with_layers::<String, String, Trim>("names:greet");
}
