//! Fuzzing, proptest-style, of the two places that take text or data from outside: the
//! manifest validator (plugin.json and Cargo.toml sources; the inline arguments are
//! fuzzed in the macro crate's own tests) and the JSON command boundary.
//!
//! The inputs are drawn from a vocabulary near the real thing (manifest keys, ids,
//! versions, ranges, permissions) with random values, random nesting and random byte
//! edits, so that most cases get past the parser and reach the checks. Each case must
//! return a valid result or an error with a location, and never panic.
//!
//! `PROPTEST_CASES` raises the number of cases (RELIABILITY.md reports a long run).

use std::sync::Arc;

use patchpanel::{Host, PluginSpec, commands::DispatchErrorKind, storage::MemoryStorage};
use patchpanel_manifest::{Defaults, KeyStyle, parse_cargo_toml, parse_json, validate};
use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::{Value, json};

fn cases() -> Config {
    Config {
        cases: std::env::var("PROPTEST_CASES").map_or(512, |n| n.parse().unwrap()),
        failure_persistence: None,
        ..Config::default()
    }
}

/// Words a manifest is made of, and some that are almost right.
const WORDS: &[&str] = &[
    "id",
    "name",
    "version",
    "description",
    "minHostVersion",
    "min-host-version",
    "min_host_version",
    "requiredFeatures",
    "required-features",
    "dependencies",
    "permissions",
    "optional",
    "scope",
    "greeter",
    "kv-store",
    "Kv_Store",
    "1.0.0",
    "1.0",
    "^1",
    ">=1, <2",
    "*",
    "~0.1",
    "0.1.0",
    "events",
    "storage",
    "read",
    "write",
    "publish",
    "subscribe",
    "all",
    "plugin-only",
    "user-approved",
    "everyone",
    "",
    " ",
    "é",
    "\u{0}",
    "\u{feff}",
    "a:b",
];

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(WORDS).prop_map(str::to_owned),
        1 => any::<String>(),
    ]
}

/// JSON values over the manifest's vocabulary, nested up to four levels.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        4 => word().prop_map(Value::String),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<f64>().prop_map(|f| json!(f)),
        1 => Just(Value::Null),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((word(), inner), 0..6)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

/// A manifest object: mostly the real fields, with random values.
fn manifest_object() -> impl Strategy<Value = Value> {
    prop::collection::vec((word(), json_value()), 0..9).prop_map(|entries| {
        let mut object = json!({ "id": "greeter", "version": "1.0.0" });
        for (key, value) in entries {
            object[key] = value;
        }
        object
    })
}

/// Edits text by bytes: deletes, inserts or replaces up to three, at char boundaries.
fn edited(text: String, edits: Vec<(usize, u8, u8)>) -> String {
    let mut text = text;
    for (at, kind, byte) in edits {
        if text.is_empty() {
            break;
        }
        let mut at = at % text.len();
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        let c = char::from(byte % 128);
        match kind % 3 {
            0 => {
                text.remove(at);
            }
            1 => text.insert(at, c),
            _ => {
                text.remove(at);
                text.insert(at, c);
            }
        }
    }
    text
}

fn edits() -> impl Strategy<Value = Vec<(usize, u8, u8)>> {
    prop_oneof![
        2 => Just(Vec::new()),
        1 => prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..4),
    ]
}

/// A diagnostic must say where and what; a parse error has no field, a check has one.
fn located(
    text: &str,
    diagnostic: &patchpanel_manifest::Diagnostic<patchpanel_manifest::FileLocation>,
) -> Result<(), TestCaseError> {
    let lines = text.lines().count().max(1) + 1;
    prop_assert!(
        diagnostic.at.line >= 1 && diagnostic.at.line <= lines,
        "line {} of {}",
        diagnostic.at.line,
        lines
    );
    prop_assert!(!diagnostic.message.is_empty());
    Ok(())
}

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn plugin_json_gives_a_manifest_or_located_errors(object in manifest_object(), pretty in any::<bool>(), edits in edits()) {
        let text = if pretty { serde_json::to_string_pretty(&object) } else { serde_json::to_string(&object) }.unwrap();
        let text = edited(text, edits);
        match parse_json(&text) {
            Err(diagnostic) => located(&text, &diagnostic)?,
            Ok(tree) => match validate(&tree, KeyStyle::Camel, &Defaults::default()) {
                Ok(manifest) => prop_assert!(patchpanel_manifest::catalogue::check_id(&manifest.id).is_ok()),
                Err(diagnostics) => {
                    prop_assert!(!diagnostics.is_empty());
                    for diagnostic in &diagnostics {
                        located(&text, diagnostic)?;
                    }
                }
            },
        }
    }

    #[test]
    fn cargo_toml_gives_a_manifest_or_located_errors(object in manifest_object(), edits in edits()) {
        // TOML has no null: the converter drops them, as a Cargo.toml author would.
        let table: toml::Table = match serde_json::from_value(strip_nulls(object)) {
            Ok(table) => table,
            Err(_) => return Ok(()),
        };
        let body = toml::to_string(&table).unwrap_or_default();
        let text = edited(format!("[package]\nname = \"greeter\"\nversion = \"1.0.0\"\n\n[package.metadata.plugin]\n{body}"), edits);
        match parse_cargo_toml(&text) {
            Err(diagnostic) => located(&text, &diagnostic)?,
            Ok(None) => {}
            Ok(Some(tree)) => {
                if let Err(diagnostics) = validate(&tree, KeyStyle::Kebab, &Defaults::default()) {
                    prop_assert!(!diagnostics.is_empty());
                    for diagnostic in &diagnostics {
                        located(&text, diagnostic)?;
                    }
                }
            }
        }
    }

    #[test]
    fn arbitrary_text_never_panics_the_parsers(text in any::<String>()) {
        if let Err(diagnostic) = parse_json(&text) {
            located(&text, &diagnostic)?;
        }
        if let Err(diagnostic) = parse_cargo_toml(&text) {
            located(&text, &diagnostic)?;
        }
    }
}

fn strip_nulls(value: Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.into_iter().filter(|v| !v.is_null()).map(strip_nulls).collect()),
        Value::Object(entries) => Value::Object(
            entries
                .into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, strip_nulls(v)))
                .collect(),
        ),
        other => other,
    }
}

fn demo_host() -> Host {
    Host::builder()
        .plugins(vec![
            PluginSpec::registered::<kv_store::KvStore>().unwrap(),
            PluginSpec::registered::<greeter::Greeter>().unwrap(),
        ])
        .storage(Arc::new(MemoryStorage::default()))
        .build()
        .unwrap()
}

/// Requests: random JSON, or the right shape with random field values.
fn requests() -> impl Strategy<Value = Value> {
    prop_oneof![
        json_value(),
        (word(), json_value()).prop_map(|(name, value)| json!({ "name": name, "key": value })),
        (json_value(), json_value()).prop_map(|(key, value)| json!({ "key": key, "value": value })),
        word().prop_map(|key| json!({ "key": key, "value": "v" })),
    ]
}

proptest! {
    #![proptest_config(cases())]

    /// Any JSON at any command: a response, or an error naming the command, the type
    /// and the field at fault; a refused request changes nothing.
    #[test]
    fn the_json_boundary_answers_or_names_the_problem(request in requests(), command in prop::sample::select(&["kv-store:put", "kv-store:get", "kv-store:increment", "greeter:hello", "greeter:stats"][..])) {
        let host = demo_host();
        let keys_before = host.request::<kv_store::Count, usize>("kv-store", kv_store::Count).unwrap();
        match host.execute_json(command, request.clone()) {
            Ok(_) => {}
            Err(error) => match error.kind() {
                DispatchErrorKind::Json { command: at, message } => {
                    prop_assert_eq!(at.as_str(), command);
                    prop_assert!(message.starts_with("the request is not a valid `"), "{}", message);
                    prop_assert!(message.chars().count() < 600, "a bounded message: {} chars", message.chars().count());
                    let keys_after = host.request::<kv_store::Count, usize>("kv-store", kv_store::Count).unwrap();
                    prop_assert_eq!(keys_before, keys_after, "a refused request writes nothing");
                }
                // Well-formed requests the plugin itself refuses (not a count, ...).
                DispatchErrorKind::Handler { plugin, .. } => prop_assert!(plugin == "kv-store" || plugin == "greeter"),
                other => return Err(TestCaseError::fail(format!("unexpected error: {other}"))),
            },
        }
    }
}

#[test]
fn deep_and_huge_requests_get_errors_not_crashes() {
    let host = demo_host();
    // 10,000 levels of nesting, built without recursion.
    let mut deep = Value::Null;
    for _ in 0..10_000 {
        deep = Value::Array(vec![deep]);
    }
    let error = host.execute_json("kv-store:put", deep).unwrap_err();
    assert_eq!(
        error.to_string(),
        "command `kv-store:put`: the request is not a valid `kv_store::Put` at `[0]`: invalid type: sequence, expected a string"
    );
    // A 16 MiB value is stored and read back; a 16 MiB key of the wrong type is refused
    // with a message of bounded length.
    let huge = "x".repeat(16 << 20);
    host.execute_json("kv-store:put", json!({ "key": "big", "value": huge }))
        .unwrap();
    let back = host.execute_json("kv-store:get", json!({ "key": "big" })).unwrap();
    assert_eq!(back.as_str().map(str::len), Some(16 << 20));
    let error = host
        .execute_json("kv-store:put", json!({ "key": 1, "value": [huge] }))
        .unwrap_err();
    assert!(error.to_string().len() < 400, "{} bytes", error.to_string().len());
    // serde_json's own parser refuses nesting past 128 levels, which is what the CLI and
    // a server parse requests with.
    let text = format!("{}{}", "[".repeat(200), "]".repeat(200));
    assert!(
        serde_json::from_str::<Value>(&text)
            .unwrap_err()
            .to_string()
            .starts_with("recursion limit exceeded")
    );
}
