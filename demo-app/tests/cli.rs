//! The demo binary, run as a user runs it.

use std::process::Command;

fn run(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_demo-app"))
        .args(args)
        .output()
        .expect("demo-app runs");
    (
        output.status.success(),
        String::from_utf8(output.stdout).expect("utf-8 stdout"),
        String::from_utf8(output.stderr).expect("utf-8 stderr"),
    )
}

#[test]
fn list_prints_one_plugin_per_line_in_activation_order() {
    let (ok, stdout, _) = run(&["list"]);
    assert!(ok);
    assert_eq!(
        stdout,
        "audit-trail 0.1.4 active\nkv-store 1.2.0 active\ngreeter 0.3.0 active\n"
    );
}

#[test]
fn list_json_carries_id_version_state_and_dependencies() {
    let (ok, stdout, _) = run(&["list", "--json"]);
    assert!(ok);
    let plugins: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let summary: Vec<(String, String, String, Vec<String>)> = plugins
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap().to_owned(),
                p["version"].as_str().unwrap().to_owned(),
                p["state"].as_str().unwrap().to_owned(),
                p["dependencies"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| d.as_str().unwrap().to_owned())
                    .collect(),
            )
        })
        .collect();
    let owned = |id: &str, version: &str, deps: &[&str]| {
        (
            id.to_owned(),
            version.to_owned(),
            "active".to_owned(),
            deps.iter().map(|d| (*d).to_owned()).collect::<Vec<_>>(),
        )
    };
    assert_eq!(
        summary,
        [
            owned("audit-trail", "0.1.4", &[]),
            owned("kv-store", "1.2.0", &[]),
            owned("greeter", "0.3.0", &["audit-trail", "kv-store"]),
        ]
    );
}

#[test]
fn graph_is_graphviz_dot() {
    let (ok, stdout, _) = run(&["graph"]);
    assert!(ok);
    assert!(stdout.starts_with("digraph plugins {\n"), "{stdout}");
    assert!(
        stdout.contains("  \"greeter\" -> \"kv-store\" [label=\"^1.0\"];\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  \"greeter\" -> \"audit-trail\" [label=\"^0.1\", style=dashed];\n"),
        "{stdout}"
    );
    assert!(stdout.ends_with("}\n"));
}

#[test]
fn inspect_shows_manifest_permissions_and_state() {
    let (ok, stdout, _) = run(&["inspect", "kv-store"]);
    assert!(ok);
    assert!(stdout.starts_with("id:               kv-store\nname:             Key-value store\nversion:          1.2.0\n"), "{stdout}");
    assert!(stdout.contains("state:            active\n"), "{stdout}");
    assert!(stdout.contains("permissions:\n  services.provide (scope: plugin-only)\n  storage.read (scope: plugin-only)\n  storage.write (scope: plugin-only)\n"), "{stdout}");
}

#[test]
fn inspect_of_an_unknown_id_fails_with_a_hint() {
    let (ok, _, stderr) = run(&["inspect", "nope"]);
    assert!(!ok);
    assert!(
        stderr.contains("no plugin `nope` is running; `demo-app list` shows the ids"),
        "{stderr}"
    );
}

#[test]
fn the_default_run_reports_runs_the_scenario_and_shuts_down_in_reverse() {
    let (ok, stdout, _) = run(&[]);
    assert!(ok);
    assert!(stdout.contains("3 plugins started in "), "{stdout}");
    assert!(stdout.contains("greeter: Hello, plugboard!\n"), "{stdout}");
    assert!(
        stdout.contains("greeter: reloaded, state kept (1 greeting so far)\n"),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("shutdown: deactivated greeter, kv-store, audit-trail\n"),
        "{stdout}"
    );
}
