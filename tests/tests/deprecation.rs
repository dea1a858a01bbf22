//! Deprecation: the manifest field in all three sources, the start-up report (audit
//! notice, `Host::deprecations`) with the plugins that still depend on it, and the
//! refusals of a bad field. The compile-time warning is pinned by the UI case
//! `ui/deprecated-plugin-linked.rs`.

use patchpanel::testing::fn_plugin;
use patchpanel::{Host, Manifest, audit::Decision, manifest::Deprecation, registry::Registered};
use patchpanel_manifest::{Defaults, KeyStyle, parse_cargo_toml, parse_json, validate};

#[patchpanel::register_plugin(
    id = "old-store",
    version = "1.0.0",
    deprecated = { message = "it keeps everything in one file", replacement = "new-store" },
)]
#[derive(Default)]
struct OldStore;

impl patchpanel::Plugin for OldStore {
    fn activate(&mut self, _: &mut patchpanel::Context<'_, Self>) -> Result<(), patchpanel::PluginError> {
        Ok(())
    }
}

fn expected() -> Option<Deprecation> {
    Some(Deprecation {
        message: "it keeps everything in one file".to_owned(),
        replacement: Some("new-store".to_owned()),
    })
}

#[test]
fn the_three_manifest_sources_carry_a_deprecation() {
    assert_eq!(OldStore::MANIFEST.to_manifest().unwrap().deprecated, expected());
    let json = r#"{ "id": "old-store", "version": "1.0.0",
        "deprecated": { "message": "it keeps everything in one file", "replacement": "new-store" } }"#;
    let from_json = validate(&parse_json(json).unwrap(), KeyStyle::Camel, &Defaults::default()).unwrap();
    assert_eq!(from_json.deprecated, expected());
    let toml = "[package]\nname = \"old-store\"\n\n[package.metadata.plugin]\nid = \"old-store\"\nversion = \"1.0.0\"\n\
                [package.metadata.plugin.deprecated]\nmessage = \"it keeps everything in one file\"\nreplacement = \"new-store\"\n";
    let from_toml = validate(
        &parse_cargo_toml(toml).unwrap().unwrap(),
        KeyStyle::Kebab,
        &Defaults::default(),
    )
    .unwrap();
    assert_eq!(from_toml.deprecated, expected());
    // The short form: a message alone.
    let short = validate(
        &parse_json(r#"{ "id": "old", "version": "1.0.0", "deprecated": "going away" }"#).unwrap(),
        KeyStyle::Camel,
        &Defaults::default(),
    )
    .unwrap();
    assert_eq!(
        short.deprecated,
        Some(Deprecation {
            message: "going away".to_owned(),
            replacement: None
        })
    );
}

#[test]
fn a_bad_deprecation_is_refused_with_the_fix() {
    let error = Manifest::builder("old", "1.0.0")
        .deprecated("", None)
        .build()
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid manifest for plugin `old`: `deprecated.message`: the deprecation message of `old` is empty (help: say why it is deprecated and what to use instead)"
    );
    let error = Manifest::builder("old", "1.0.0")
        .deprecated("use the new one", Some("Not An Id"))
        .build()
        .unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("invalid manifest for plugin `old`: `deprecated.replacement`: "),
        "{error}"
    );
    let error = validate(
        &parse_json(r#"{ "id": "old", "version": "1.0.0", "deprecated": { "mesage": "x" } }"#).unwrap(),
        KeyStyle::Camel,
        &Defaults::default(),
    )
    .unwrap_err();
    let messages: Vec<String> = error.iter().map(|diagnostic| diagnostic.message.clone()).collect();
    assert_eq!(
        messages,
        [
            "`deprecated` has no field `mesage`",
            "the deprecation of `old` has no `message`"
        ]
    );
}

#[test]
fn the_host_reports_a_deprecated_plugin_and_who_still_uses_it() {
    let user = fn_plugin(
        Manifest::builder("greeter", "1.0.0")
            .depends_on("old-store", "^1")
            .build()
            .unwrap(),
        |_| Ok(()),
    );
    let bystander = fn_plugin(Manifest::builder("clock", "1.0.0").build().unwrap(), |_| Ok(()));
    let host = Host::builder()
        .plugins(vec![
            patchpanel::PluginSpec::registered::<OldStore>().unwrap(),
            user,
            bystander,
        ])
        .build()
        .unwrap();
    let sentence = "plugin `old-store` is deprecated: it keeps everything in one file; use `new-store` instead; still used by greeter";
    assert_eq!(host.deprecations(), [sentence]);
    let notices: Vec<(String, String)> = host
        .audit()
        .records()
        .into_iter()
        .filter(|record| record.decision == Decision::Notice)
        .map(|record| (record.plugin.to_string(), record.details.to_string()))
        .collect();
    assert_eq!(notices, [("old-store".to_owned(), sentence.to_owned())]);
}
