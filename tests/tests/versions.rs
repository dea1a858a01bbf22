//! Two releases of one plugin id linked together, from two real crates (clock 1.4.0 and
//! clock 2.1.0): the host runs the highest, unless the application pins another, and
//! dependents resolve against the version that runs.

use clock_v1 as _;
use clock_v2 as _;
use patchpanel::testing::{fn_plugin, with_every_permission};
use patchpanel::{Host, Manifest, PluginSpec, config::ConfigFile, host::StartError, resolve::ResolveError};

fn version(host: &Host) -> String {
    host.execute::<(), String>("clock:version", ()).unwrap()
}

/// The registry of this binary, plus a plugin `app` that depends on `clock` with `range`.
fn with_dependent(range: &str) -> Vec<PluginSpec> {
    let mut plugins: Vec<PluginSpec> = patchpanel::registry::registry_entries()
        .map(|entry| entry.to_spec().unwrap())
        .collect();
    plugins.push(fn_plugin(
        with_every_permission(Manifest::builder("app", "1.0.0").depends_on("clock", range))
            .build()
            .unwrap(),
        |_| Ok(()),
    ));
    plugins
}

#[test]
fn both_releases_are_linked_and_the_highest_runs() {
    let mut linked: Vec<(String, String)> = patchpanel::registry::registry_entries()
        .map(|entry| (entry.manifest().id.to_owned(), entry.manifest().version.to_owned()))
        .collect();
    linked.sort();
    assert_eq!(
        linked,
        [("clock".into(), "1.4.0".into()), ("clock".into(), "2.1.0".into())]
    );
    let host = Host::builder().trust_linked_plugins().build().unwrap();
    assert_eq!(version(&host), "2.1.0");
    let superseded: Vec<String> = host
        .superseded()
        .iter()
        .map(|s| s.manifest().version.to_string())
        .collect();
    assert_eq!(superseded, ["1.4.0"]);
}

#[test]
fn a_pin_chooses_the_release_and_dependents_resolve_against_it() {
    let host = Host::builder()
        .trust_linked_plugins()
        .pin("clock", "^1")
        .build()
        .unwrap();
    assert_eq!(version(&host), "1.4.0");
    let host = Host::builder()
        .trust_linked_plugins()
        .plugins(with_dependent("^1.2"))
        .pin("clock", "^1")
        .build()
        .unwrap();
    assert_eq!(version(&host), "1.4.0");
    assert_eq!(host.plugin("app").unwrap().dependencies(), ["clock"]);
}

#[test]
fn a_dependent_that_refuses_the_pinned_release_names_both_ranges() {
    let error = Host::builder()
        .trust_linked_plugins()
        .plugins(with_dependent("^2"))
        .pin("clock", "^1")
        .build()
        .unwrap_err();
    let StartError::Resolve(errors) = &error else {
        panic!("{error}")
    };
    assert_eq!(
        errors.errors(),
        [ResolveError::PinConflict {
            plugin: "app".into(),
            dependency: "clock".into(),
            req: "^2".parse().unwrap(),
            pin: "^1".parse().unwrap(),
            pinned: "1.4.0".parse().unwrap(),
        }]
    );
    assert_eq!(
        errors.errors()[0].to_string(),
        "plugin `app` needs `clock` ^2, but the application pins `clock` to ^1, which runs 1.4.0; change the pin or \
         `app`'s range so that both accept one version"
    );
}

/// A pin for an id that no linked plugin has is an error with a did-you-mean (before,
/// it was ignored, so a typo pinned nothing).
#[test]
fn a_pin_for_an_id_no_plugin_has_is_an_error_with_a_suggestion() {
    let error = Host::builder()
        .trust_linked_plugins()
        .pin("clok", "^1")
        .build()
        .unwrap_err();
    let StartError::Resolve(errors) = &error else {
        panic!("{error:?}")
    };
    assert_eq!(
        errors.errors(),
        [ResolveError::PinUnknown {
            id: "clok".into(),
            suggestion: Some("clock".into()),
        }]
    );
    assert_eq!(
        errors.errors()[0].to_string(),
        "the application pins `clok`, but no linked plugin has that id (did you mean `clock`?); correct the id, or \
         remove the pin"
    );
}

#[test]
fn a_pin_no_release_satisfies_is_an_error() {
    let error = Host::builder()
        .trust_linked_plugins()
        .pin("clock", "^3")
        .build()
        .unwrap_err();
    assert_eq!(
        error.to_string().lines().next().unwrap(),
        "the application pins `clock` to ^3, but the linked versions are 1.4.0, 2.1.0; change the pin, or link a version it accepts"
    );
    let error = Host::builder()
        .trust_linked_plugins()
        .pin("clock", "one")
        .build()
        .unwrap_err();
    assert!(matches!(&error, StartError::Pin { id, range, .. } if id == "clock" && range == "one"));
    assert!(
        error
            .to_string()
            .starts_with("the pin of `clock` is `one`, which is not a version range (")
    );
}

#[test]
fn the_config_file_pins_too() {
    let file = ConfigFile::parse("[pins]\nclock = \"=1.4.0\"\n").unwrap();
    let host = Host::builder()
        .trust_linked_plugins()
        .config_file(file)
        .build()
        .unwrap();
    assert_eq!(version(&host), "1.4.0");
    assert_eq!(
        ConfigFile::parse("[pins]\nclock = 1\n").unwrap_err().to_string(),
        "the pin of `clock` must be a version range, e.g. `\"clock\" = \"^2\"`"
    );
}
