//! The test harness, used the way a plugin author would: the real `greeter` with the
//! real `kv-store` it depends on, its own config, and recorded events and commands.

use greeter::{Greeted, Greeting, Hello};
use patchpanel::State;
use patchpanel::testing::{RecordedCommand, TestHost};

#[test]
fn greeter_in_isolation() {
    let test = TestHost::builder()
        .plugin::<kv_store::KvStore>()
        .plugin::<greeter::Greeter>()
        .config("greeter", serde_json::json!({ "greeting": "Hi" }))
        .record::<Greeted>()
        .build()
        .unwrap();
    let hello = |name: &str| {
        test.host()
            .execute::<Hello, Greeting>("greeter:hello", Hello { name: name.into() })
            .unwrap()
    };
    // No audit-trail here, so nothing decorates the greeting.
    assert_eq!(
        hello("ada"),
        Greeting {
            message: "Hi, ada!".into(),
            count: 1
        }
    );
    assert_eq!(hello("ada").count, 2);
    assert_eq!(
        test.events::<Greeted>(),
        [
            Greeted {
                name: "ada".into(),
                count: 1
            },
            Greeted {
                name: "ada".into(),
                count: 2
            }
        ]
    );
    assert_eq!(
        test.commands(),
        [
            RecordedCommand {
                command: "greeter:hello".into(),
                caller: None
            },
            RecordedCommand {
                command: "greeter:hello".into(),
                caller: None
            },
        ]
    );
    assert_eq!(test.host().state("greeter").unwrap(), State::Active);
}

#[test]
fn a_plugin_that_fails_to_start_fails_the_test_host() {
    // greeter without the kv-store it depends on does not resolve.
    let error = TestHost::builder().plugin::<greeter::Greeter>().build().unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("plugin `greeter` depends on `kv-store` (^1.0), which is not linked"),
        "{error}"
    );
}

#[test]
#[should_panic(
    expected = "events of `greeter::Greeted` are not recorded; call `.record::<greeter::Greeted>()` on the builder"
)]
fn reading_unrecorded_events_says_how_to_record_them() {
    let test = TestHost::builder().plugin::<kv_store::KvStore>().build().unwrap();
    test.events::<Greeted>();
}

#[test]
fn a_spec_wider_than_the_registered_manifest_is_refused_unless_asked_for() {
    // greeter's registered manifest does not declare storage.write; this one does.
    let registered = <greeter::Greeter as patchpanel::registry::Registered>::MANIFEST
        .to_manifest()
        .unwrap();
    let mut wider = patchpanel::Manifest::builder("greeter", "0.3.0")
        .depends_on("kv-store", "^1.0")
        .permission("storage", "write", patchpanel::manifest::Scope::All);
    for permission in &registered.permissions {
        wider = wider.permission(permission.resource, permission.action, permission.scope);
    }
    let wider = wider.build().unwrap();
    let spec = patchpanel::PluginSpec::new::<greeter::Greeter>(wider);
    let error = TestHost::builder()
        .plugin::<kv_store::KvStore>()
        .spec(spec.clone())
        .build()
        .unwrap_err();
    assert!(matches!(
        &error,
        patchpanel::host::StartError::ManifestMismatch { plugin, type_name } if plugin == "greeter" && type_name == "greeter::Greeter"
    ));
    assert_eq!(
        error.to_string(),
        "plugin `greeter` (greeter::Greeter) is given a manifest that differs from the one it was registered with; use \
         `TestHostBuilder::plugin::<greeter::Greeter>()`, or `spec_with_other_manifest` if the difference is the point \
         of the test"
    );
    // Asked for explicitly, it runs (and its run-time checks follow the spec).
    let test = TestHost::builder()
        .plugin::<kv_store::KvStore>()
        .spec_with_other_manifest(spec)
        .build();
    assert!(test.is_ok(), "{:?}", test.err());
}
