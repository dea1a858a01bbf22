//! The plugin and its subscriber, both expanded through `crate = pp`, register and run.

use pp::{Host, State};
use renamed_dependency::SEEN;

#[test]
fn a_renamed_dependency_registers_and_subscribes() {
    let host = Host::builder().trust_linked_plugins().build().expect("the host starts");
    assert_eq!(host.order(), ["renamed", "watched"]);
    assert_eq!(host.state("renamed").unwrap(), State::Active);
    host.disable("watched").expect("disable");
    let seen = SEEN.lock().unwrap().clone();
    assert_eq!(seen, ["watched: active -> disabled"]);
    assert_eq!(
        <renamed_dependency::Renamed as pp::registry::Registered>::MANIFEST.id,
        "renamed"
    );
}
