// A subscriber in one crate cannot attach itself to another crate's plugin and run with
// its rights.
use patchpanel::{subscribe, Call, PluginError, lifecycle::StateChanged};

#[subscribe(audit_trail::AuditTrail)]
fn forged(_: &Call<'_, audit_trail::AuditTrail>, _: &StateChanged) -> Result<(), PluginError> {
    Ok(())
}

fn main() {}
