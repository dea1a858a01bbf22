//! Bad input at the host's public entries that read files or take configuration: config
//! files, `reconfigure`, and registry state files. Each gets a clear error (or, for the
//! registry file, a notice) and leaves the host as it was. The JSON command boundary is
//! fuzzed in `fuzz.rs`, and demo-app's arguments are tried in `demo-app/tests/cli.rs`.

use std::path::PathBuf;
use std::sync::Arc;

use greeter::{Greeting, Hello};
use patchpanel::{
    Host, PluginSpec, State,
    config::{ConfigFile, ConfigFileError},
    host::RegistryNotice,
    lifecycle::{Failure, LifecycleError, ReloadStep},
    storage::MemoryStorage,
};

fn scratch(name: &str) -> PathBuf {
    let directory = std::env::temp_dir().join(format!("patchpanel-bad-input-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory).unwrap();
    directory
}

#[test]
fn config_files_with_bad_contents_name_the_file_and_the_problem() {
    let directory = scratch("config");
    let cases: &[(&str, &[u8], &str)] = &[
        (
            "syntax.toml",
            b"[plugins.greeter\ngreeting = 1\n",
            "the configuration does not parse: TOML parse error at line 1, column 17",
        ),
        (
            "top-level.toml",
            b"greeting = \"Hi\"\n",
            "the configuration has `greeting` where only `[plugins.\"<plugin-id>\"]` tables, a `[grants]` and a `[pins]` table belong",
        ),
        (
            "not-a-table.toml",
            b"[plugins]\ngreeter = \"Hi\"\n",
            "the configuration has `plugins.greeter = ...` where only",
        ),
        (
            "grant.toml",
            b"[grants]\ngreeter = \"storage.read\"\n",
            "the grant for `greeter` must be a list of permissions",
        ),
    ];
    for (name, contents, expected) in cases {
        let path = directory.join(name);
        std::fs::write(&path, contents).unwrap();
        let error = ConfigFile::read(&path).unwrap_err();
        assert!(
            matches!(&error, ConfigFileError::InFile { path: p, .. } if *p == path),
            "{error:?}"
        );
        let message = error.to_string();
        let prefix = format!("in the configuration file `{}`: {expected}", path.display());
        assert!(message.starts_with(&prefix), "{name}: {message}");
    }
    // Not UTF-8, and not there at all: the read fails, naming the file.
    let binary = directory.join("binary.toml");
    std::fs::write(&binary, [0xff, 0xfe, 0x00, 0x80]).unwrap();
    for path in [binary, directory.join("missing.toml")] {
        let error = ConfigFile::read(&path).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with(&format!("cannot read the configuration file `{}`: ", path.display())),
            "{error}"
        );
    }
}

fn greeter_host() -> Host {
    Host::builder()
        .plugins(vec![
            PluginSpec::registered::<kv_store::KvStore>().unwrap(),
            PluginSpec::registered::<greeter::Greeter>().unwrap(),
        ])
        .storage(Arc::new(MemoryStorage::default()))
        .config("greeter", serde_json::json!({ "greeting": "Howdy" }))
        .build()
        .unwrap()
}

fn greet(host: &Host) -> String {
    host.execute::<Hello, Greeting>("greeter:hello", Hello { name: "ada".into() })
        .unwrap()
        .message
}

#[test]
fn a_bad_reconfiguration_is_refused_and_the_old_one_keeps_serving() {
    let host = greeter_host();
    assert_eq!(greet(&host), "Howdy, ada!");
    for (bad, reason) in [
        (
            serde_json::json!({ "greeting": 5 }),
            "bad greeter configuration: invalid configuration for plugin `greeter` at `greeting`: invalid type: integer `5`, expected a string",
        ),
        (
            serde_json::json!({ "greting": "Hi" }),
            "bad greeter configuration: invalid configuration for plugin `greeter` at `greting`: unknown field `greting`, expected `greeting`",
        ),
        (
            serde_json::json!("Hi"),
            "bad greeter configuration: invalid configuration for plugin `greeter` at `.`: invalid type: string \"Hi\", expected struct GreeterConfig",
        ),
    ] {
        let error = host.reconfigure("greeter", bad).unwrap_err();
        assert_eq!(
            error,
            LifecycleError::ReloadFailed {
                plugin: "greeter".into(),
                step: ReloadStep::Configure,
                failure: Failure::Configure(reason.into()),
            }
        );
        assert_eq!(host.state("greeter"), Some(State::Active));
        assert_eq!(greet(&host), "Howdy, ada!", "the old instance and configuration serve");
    }
    // The configuration kept is the old one: a plain reload still says Howdy.
    let _ = host.reload("greeter").unwrap();
    assert_eq!(greet(&host), "Howdy, ada!");
}

fn registry_host(path: &std::path::Path) -> Host {
    Host::builder()
        .plugins(vec![PluginSpec::registered::<kv_store::KvStore>().unwrap()])
        .registry_file(path)
        .build()
        .unwrap()
}

#[test]
fn unreadable_registry_files_are_set_aside_and_the_host_starts_with_defaults() {
    let directory = scratch("registry");
    let cases: &[(&str, &[u8], &str)] = &[
        ("empty.json", b"", "EOF while parsing a value at line 1 column 0"),
        (
            "garbage.json",
            &[0xff, 0x00, 0x13, 0x37],
            "expected value at line 1 column 1",
        ),
        (
            "wrong-shape.json",
            b"\"plugins\"",
            "invalid type: string \"plugins\", expected struct",
        ),
        (
            "wrong-status.json",
            br#"{"plugins": {"kv-store": {"version": "1.2.0", "status": "sleeping"}}}"#,
            "unknown variant `sleeping`",
        ),
    ];
    for (name, contents, reason) in cases {
        let path = directory.join(name);
        std::fs::write(&path, contents).unwrap();
        let host = registry_host(&path);
        let notices = host.registry_notices();
        let [
            RegistryNotice::SetAside {
                moved_to, reason: said, ..
            },
        ] = notices.as_slice()
        else {
            panic!("{name}: {notices:?}")
        };
        assert!(said.starts_with(reason), "{name}: {said}");
        assert_eq!(
            std::fs::read(moved_to).unwrap(),
            *contents,
            "{name}: the bytes are kept aside"
        );
        assert_eq!(host.state("kv-store"), Some(State::Active), "{name}");
        // The next change writes a good file again.
        host.disable("kv-store").unwrap();
        drop(host);
        let again = registry_host(&path);
        assert_eq!(again.registry_notices(), [], "{name}");
        assert_eq!(again.state("kv-store"), Some(State::Disabled), "{name}");
    }
}

#[test]
fn a_registry_path_that_cannot_be_read_is_a_notice_not_a_failure() {
    let directory = scratch("registry-dir");
    let path = directory.join("registry.json");
    std::fs::create_dir_all(&path).unwrap();
    let host = registry_host(&path);
    let notices = host.registry_notices();
    assert!(
        matches!(notices.as_slice(), [RegistryNotice::Io { path: p, .. }] if *p == path),
        "{notices:?}"
    );
    assert_eq!(host.state("kv-store"), Some(State::Active));
    assert!(path.is_dir(), "left where it was");
}
