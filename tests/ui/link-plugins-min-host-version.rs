// A named plugin that needs a newer patchpanel than this one fails `cargo build`, even
// when its manifest did not come through this release's `#[register_plugin]` (which
// checks it too): here a hand-written registration, as another release's macro emits.
mod plugins {
    use patchpanel::registry::{Registered, StaticManifest};

    pub struct Future;

    impl Future {
        pub fn __patchpanel_linked() {}
    }

    impl Registered for Future {
        const MANIFEST: &'static StaticManifest = &StaticManifest {
            id: "x-future",
            name: "",
            version: "0.1.0",
            description: "",
            min_host_version: Some("99.0.0"),
            required_features: &[],
            dependencies: &[],
            permissions: &[],
            contributes: None,
            lazy: false,
            activation_deadline_ms: None,
            deprecated: None,
        };
    }
}

patchpanel::link_plugins! { plugins::Future }

fn main() {}
