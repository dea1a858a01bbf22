//! Storage, run-time permissions and the audit log.

use std::sync::{Arc, Mutex};

use patchpanel::storage::{MemoryStorage, RedbStorage, StorageBackend};
use patchpanel::testing::fn_plugin;
use patchpanel::{
    Host, Manifest, PluginError, audit::Decision, commands::DispatchErrorKind, manifest::Scope,
    permissions::PermissionDenied, storage::StorageError,
};

type Captured<T> = Arc<Mutex<Option<T>>>;

/// A plugin `id` whose storage handle is captured for the test to use.
fn with_storage(
    manifest: Manifest,
    captured: &Captured<patchpanel::storage::Storage<patchpanel::testing::FnPlugin>>,
) -> patchpanel::PluginSpec {
    let captured = captured.clone();
    fn_plugin(manifest, move |context| {
        *captured.lock().unwrap() = Some(context.storage());
        Ok(())
    })
}

fn manifest(id: &str, grants: &[(&str, &str, Scope)]) -> Manifest {
    let mut builder = Manifest::builder(id, "1.0.0");
    for (resource, action, scope) in grants {
        builder = builder.permission(resource, action, *scope);
    }
    builder.build().unwrap()
}

#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Settings {
    greeting: String,
    times: u32,
}

#[test]
fn a_plugin_reads_and_writes_its_own_namespace_per_tenant() {
    let store: Captured<_> = Arc::default();
    let _host = Host::builder()
        .plugins(vec![with_storage(
            manifest(
                "notes",
                &[
                    ("storage", "read", Scope::PluginOnly),
                    ("storage", "tenants", Scope::PluginOnly),
                    ("storage", "write", Scope::PluginOnly),
                ],
            ),
            &store,
        )])
        .build()
        .unwrap();
    let store = store.lock().unwrap().clone().unwrap();
    store.put("raw", b"bytes").unwrap();
    let settings = Settings {
        greeting: "hi".into(),
        times: 2,
    };
    store.put_json("settings", &settings).unwrap();
    assert_eq!(store.get("raw").unwrap().as_deref(), Some(&b"bytes"[..]));
    assert_eq!(store.get_json::<Settings>("settings").unwrap(), Some(settings));
    assert_eq!(store.keys().unwrap(), ["raw", "settings"]);
    assert!(store.delete("raw").unwrap());
    assert_eq!(store.get("raw").unwrap(), None);

    // Tenants never see each other's data (reaching another needs `storage.tenants`).
    let acme = store.tenant("acme").unwrap();
    assert_eq!(acme.get("settings").unwrap(), None);
    acme.put("settings", b"{}").unwrap();
    assert_eq!(acme.keys().unwrap(), ["settings"]);
    assert_eq!(store.keys().unwrap(), ["settings"]);

    let error = store.get_json::<u64>("settings").unwrap_err();
    assert_eq!(
        error.to_string(),
        "storage of plugin `notes`: key `settings` does not hold a valid `u64`: invalid type: map, expected u64 at line 1 column 0"
    );
}

fn two_plugins(
    reader_scope: Scope,
    policy: Option<bool>,
) -> (Host, patchpanel::storage::Storage<patchpanel::testing::FnPlugin>) {
    let owner: Captured<_> = Arc::default();
    let reader: Captured<_> = Arc::default();
    let mut builder = Host::builder().plugins(vec![
        with_storage(manifest("owner", &[("storage", "write", Scope::PluginOnly)]), &owner),
        with_storage(manifest("reader", &[("storage", "read", reader_scope)]), &reader),
    ]);
    if let Some(answer) = policy {
        builder = builder.approval_policy(move |request| {
            assert_eq!(
                (request.plugin, request.resource, request.action, request.target),
                ("reader", "storage", "read", "owner")
            );
            answer
        });
    }
    let host = builder.build().unwrap();
    owner.lock().unwrap().clone().unwrap().put("secret", b"42").unwrap();
    let reader = reader.lock().unwrap().clone().unwrap();
    (host, reader)
}

#[test]
fn reading_another_plugin_needs_scope_all() {
    let (host, reader) = two_plugins(Scope::PluginOnly, None);
    let error = reader.read_from("owner", "secret").unwrap_err();
    let StorageError::Denied(denied) = &error else {
        panic!("{error}")
    };
    assert_eq!(
        **denied,
        PermissionDenied {
            plugin: "reader".into(),
            resource: "storage".into(),
            action: "read".into(),
            scope: Some(Scope::PluginOnly),
            target: "owner".into(),
            reason: "its manifest declares `storage.read` for its own namespace only; declare `storage = { read = true, scope = \"all\" }` to reach other plugins".into(),
        }
    );
    assert!(
        error
            .to_string()
            .starts_with("permission denied: plugin `reader` may not storage.read on `owner`: ")
    );
    let denials: Vec<_> = host
        .audit()
        .records_for("reader")
        .into_iter()
        .filter(|r| r.decision == Decision::Denied)
        .collect();
    assert_eq!(denials.len(), 1);
    assert_eq!(denials[0].action, "storage.read");

    let (_host, reader) = two_plugins(Scope::All, None);
    assert_eq!(
        reader.read_from("owner", "secret").unwrap().as_deref(),
        Some(&b"42"[..])
    );
}

#[test]
fn user_approved_scope_asks_the_host_policy() {
    let (_host, reader) = two_plugins(Scope::UserApproved, Some(true));
    assert_eq!(
        reader.read_from("owner", "secret").unwrap().as_deref(),
        Some(&b"42"[..])
    );
    let (_host, reader) = two_plugins(Scope::UserApproved, Some(false));
    assert!(
        reader
            .read_from("owner", "secret")
            .unwrap_err()
            .to_string()
            .ends_with("the host's approval policy refused it")
    );
    let (_host, reader) = two_plugins(Scope::UserApproved, None);
    assert!(
        reader
            .read_from("owner", "secret")
            .unwrap_err()
            .to_string()
            .contains("the host has no approval policy")
    );
}

#[test]
fn an_undeclared_permission_is_denied_at_run_time_too() {
    // `FnPlugin` holds every permission at compile time; its manifest still rules.
    let store: Captured<_> = Arc::default();
    let _host = Host::builder()
        .plugins(vec![with_storage(manifest("mute", &[]), &store)])
        .build()
        .unwrap();
    let error = store.lock().unwrap().clone().unwrap().put("k", b"v").unwrap_err();
    assert_eq!(
        error.to_string(),
        "permission denied: plugin `mute` may not storage.write on `mute`: its manifest does not declare `storage.write`; add `storage = [\"write\"]` to its permissions"
    );
}

#[test]
fn running_another_plugins_command_is_a_checked_decision() {
    let target = fn_plugin(
        manifest("target", &[("commands", "register", Scope::PluginOnly)]),
        |context| {
            context.command("ping", |_, (): ()| Ok("pong".to_owned()))?;
            Ok(())
        },
    );
    let caller = |id: &str, scope: Scope| {
        fn_plugin(
            manifest(
                id,
                &[
                    ("commands", "register", Scope::PluginOnly),
                    ("commands", "execute", scope),
                ],
            ),
            |context| {
                context.command("relay", |call, (): ()| {
                    call.execute::<(), String>("target:ping", ())
                        .map_err(|error| PluginError::wrap(error.to_string(), error))
                })?;
                Ok(())
            },
        )
    };
    let host = Host::builder()
        .plugins(vec![
            target,
            caller("narrow", Scope::PluginOnly),
            caller("wide", Scope::All),
        ])
        .build()
        .unwrap();
    assert_eq!(host.execute::<(), String>("wide:relay", ()).unwrap(), "pong");
    let error = host.execute::<(), String>("narrow:relay", ()).unwrap_err();
    assert!(matches!(error.kind(), DispatchErrorKind::Handler { .. }));
    assert!(
        error.to_string().ends_with("permission denied: plugin `narrow` may not commands.execute on `target`: its manifest declares `commands.execute` for its own namespace only; declare `commands = { execute = true, scope = \"all\" }` to reach other plugins"),
        "{error}"
    );
    let decisions: Vec<(String, Decision)> = host
        .audit()
        .records()
        .into_iter()
        .filter(|r| r.action == "commands.execute")
        .map(|r| (r.plugin.to_string(), r.decision))
        .collect();
    assert_eq!(
        decisions,
        [
            ("wide".to_owned(), Decision::Allowed),
            ("narrow".to_owned(), Decision::Denied)
        ]
    );
}

#[test]
fn lifecycle_transitions_are_audited_and_written_as_json_lines() {
    let directory = std::env::temp_dir().join(format!("patchpanel-audit-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let path = directory.join("audit.jsonl");
    let _ = std::fs::remove_file(&path);
    let host = Host::builder()
        .audit_file(&path)
        .plugins(vec![fn_plugin(manifest("solo", &[]), |_| Ok(()))])
        .build()
        .unwrap();
    host.disable("solo").unwrap();
    let transitions: Vec<String> = host
        .audit()
        .records_for("solo")
        .into_iter()
        .map(|r| r.details.into_owned())
        .collect();
    assert_eq!(
        transitions,
        [
            "discovered -> validated",
            "validated -> resolved",
            "resolved -> loaded",
            "loaded -> active",
            "active -> disabled"
        ]
    );
    drop(host);
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(
        lines.len(),
        6,
        "five transitions and the shutdown's disabled -> unloaded"
    );
    assert_eq!(lines[4]["plugin"], "solo");
    assert_eq!(lines[4]["action"], "lifecycle");
    assert_eq!(lines[4]["decision"], "transition");
    assert_eq!(lines[5]["details"], "disabled -> unloaded");
    assert!(lines[0]["timestamp_ms"].as_u64().unwrap() > 1_700_000_000_000);
}

const CHILD: &str = "PATCHPANEL_TEST_ABORT_AFTER_WRITE";

#[test]
fn a_redb_write_that_returned_ok_survives_the_process_being_killed() {
    if let Ok(path) = std::env::var(CHILD) {
        let storage = RedbStorage::open(&path).unwrap();
        storage.put("default", "kv-store", "motd", b"durable").unwrap();
        std::process::abort();
    }
    let directory = std::env::temp_dir().join(format!("patchpanel-redb-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let path = directory.join("data.redb");
    let _ = std::fs::remove_file(&path);
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_redb_write_that_returned_ok_survives_the_process_being_killed",
            "--nocapture",
        ])
        .env(CHILD, &path)
        .status()
        .unwrap();
    assert!(!status.success(), "the child aborts right after the write");
    let storage = RedbStorage::open(&path).unwrap();
    assert_eq!(
        storage.get("default", "kv-store", "motd").unwrap().as_deref(),
        Some(&b"durable"[..])
    );
    assert_eq!(storage.keys("default", "kv-store").unwrap(), ["motd"]);
    assert_eq!(
        storage.keys("default", "kv").unwrap(),
        Vec::<String>::new(),
        "prefixes do not leak across namespaces"
    );
    let memory = MemoryStorage::default();
    assert_eq!(memory.get("default", "kv-store", "motd").unwrap(), None);
}

/// A handler can `?` a storage error; the command's error keeps its message and its
/// cause chain, and the original error can be downcast.
#[test]
fn a_handler_propagates_a_storage_error_with_question_mark() {
    let spec = fn_plugin(
        manifest(
            "notes",
            &[
                ("storage", "read", Scope::PluginOnly),
                ("storage", "write", Scope::PluginOnly),
                ("commands", "register", Scope::PluginOnly),
            ],
        ),
        |context| {
            let storage = context.storage();
            storage.put("count", b"not a number")?;
            context.command("count", move |_, (): ()| -> Result<u64, PluginError> {
                Ok(storage.get_json::<u64>("count")?.unwrap_or(0))
            })?;
            Ok(())
        },
    );
    let host = Host::builder().plugins(vec![spec]).build().unwrap();
    let error = host.execute::<(), u64>("notes:count", ()).unwrap_err();
    let DispatchErrorKind::Handler { source, .. } = error.kind() else {
        panic!("{error}")
    };
    assert_eq!(
        source.to_string(),
        "storage of plugin `notes`: key `count` does not hold a valid `u64`: expected ident at line 1 column 2"
    );
    let storage_error = source.wrapped().unwrap().downcast_ref::<StorageError>().unwrap();
    assert!(matches!(storage_error, StorageError::Codec { type_name: "u64", .. }));
    assert_eq!(
        error.to_string(),
        "command `notes:count` failed in plugin `notes`: storage of plugin `notes`: key `count` does not hold a valid `u64`: expected ident at line 1 column 2"
    );
}

#[test]
fn the_audit_file_is_rotated_at_its_limit_and_keeps_two_files_at_most() {
    let directory = std::env::temp_dir().join(format!("patchpanel-audit-rotate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory).unwrap();
    let path = directory.join("audit.jsonl");
    let host = Host::builder()
        .audit_file(&path)
        .audit_file_max_bytes(2_000)
        .plugins(vec![fn_plugin(manifest("solo", &[]), |_| Ok(()))])
        .build()
        .unwrap();
    for _ in 0..50 {
        host.disable("solo").unwrap();
        host.enable("solo").unwrap();
    }
    let rotated = directory.join("audit.jsonl.1");
    let mut files: Vec<_> = std::fs::read_dir(&directory)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(files, ["audit.jsonl", "audit.jsonl.1"]);
    for file in [&path, &rotated] {
        let text = std::fs::read_to_string(file).unwrap();
        assert!(text.len() <= 2_000, "{} holds {} bytes", file.display(), text.len());
        for line in text.lines() {
            let record: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(record["plugin"], "solo");
        }
    }
    // The newest record is the last line of the live file.
    let last = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .to_owned();
    let last: serde_json::Value = serde_json::from_str(&last).unwrap();
    assert_eq!(last["details"], "disabled -> active");
    assert!(host.incidents().is_empty());
}

#[test]
fn failed_audit_writes_are_incidents_and_the_host_keeps_serving() {
    // Every write to /dev/full fails with "No space left on device".
    let host = Host::builder()
        .audit_file("/dev/full")
        .plugins(vec![fn_plugin(manifest("solo", &[]), |_| Ok(()))])
        .build()
        .unwrap();
    host.disable("solo").unwrap();
    host.enable("solo").unwrap();
    let records = host.audit().records().len();
    assert_eq!(records, 6, "four transitions to active, then disabled and active again");
    let incidents = host.incidents();
    assert_eq!(incidents.len(), 1, "{incidents:?}");
    assert_eq!(
        (incidents[0].plugin.as_str(), incidents[0].site.as_str()),
        ("host", "audit file")
    );
    assert!(
        incidents[0].message.starts_with(
            "6 audit record(s) were not written; the last error: cannot write to `/dev/full`: No space left on device"
        ),
        "{}",
        incidents[0].message
    );
    // Asking again adds nothing new; a new failure is a new incident.
    assert_eq!(host.incidents().len(), 1);
    host.disable("solo").unwrap();
    assert_eq!(host.incidents().len(), 2);
    assert!(
        host.incidents()[1]
            .message
            .starts_with("1 audit record(s) were not written")
    );
}
