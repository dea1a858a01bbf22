//! The demo binary, run as a user runs it.

use std::process::Command;

/// A data directory of its own for each call site, emptied first: the demo's storage
/// is durable, and each test starts from nothing.
fn fresh_data_dir(name: &str) -> std::path::PathBuf {
    let directory = std::env::temp_dir().join(format!("patchpanel-demo-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&directory);
    directory
}

fn run(args: &[&str]) -> (bool, String, String) {
    let name: String = args.join("_").chars().filter(char::is_ascii_alphanumeric).collect();
    run_in(&fresh_data_dir(&name), args)
}

fn run_in(directory: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_demo-app"))
        .args(args)
        .arg("--data-dir")
        .arg(directory)
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
        "audit-trail 0.1.4 active\nauth-guard 0.2.0 active\nkv-store 1.2.0 active\ngreeter 0.3.0 active\n\
         motd 0.1.0 lazy (not yet used)\n"
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
            if id == "motd" { "resolved" } else { "active" }.to_owned(),
            deps.iter().map(|d| (*d).to_owned()).collect::<Vec<_>>(),
        )
    };
    assert_eq!(
        summary,
        [
            owned("audit-trail", "0.1.4", &[]),
            owned("auth-guard", "0.2.0", &[]),
            owned("kv-store", "1.2.0", &[]),
            owned("greeter", "0.3.0", &["audit-trail", "kv-store"]),
            owned("motd", "0.1.0", &["kv-store"]),
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
    assert!(
        stdout.starts_with("id:               kv-store\nname:             Key-value store\nversion:          1.2.0\n"),
        "{stdout}"
    );
    assert!(stdout.contains("state:            active\n"), "{stdout}");
    assert!(
        stdout.contains(
            "permissions:\n  commands.register (scope: plugin-only)\n  messaging.receive (scope: plugin-only)\n  \
             services.provide (scope: plugin-only)\n  storage.read (scope: plugin-only)\n  storage.write (scope: plugin-only)\n"
        ),
        "{stdout}"
    );
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
fn inspect_of_a_mistyped_id_suggests_the_closest() {
    let (ok, _, stderr) = run(&["inspect", "kv-stor"]);
    assert!(!ok);
    assert!(
        stderr.contains("no plugin `kv-stor` is running; did you mean `kv-store`?"),
        "{stderr}"
    );
}

#[test]
fn the_default_run_reports_runs_the_scenario_and_shuts_down_in_reverse() {
    let (ok, stdout, _) = run(&[]);
    assert!(ok);
    assert!(stdout.contains("5 plugins started in "), "{stdout}");
    let scenario = stdout.split("scenario:\n").nth(1).unwrap();
    assert_eq!(
        scenario,
        "  kv-store:put motd (json) -> previous value null
  motd:show -> Some(\"plugins are ordinary crates\") (motd was resolved; its first use made it active)
  greeter:hello -> \"Hello, patchpanel! [audited]\" (greeting #1 for patchpanel)
  greeter:hello -> \"Hello, patchpanel! [audited]\" (greeting #2 for patchpanel)
  greeter:hello without a token -> command `greeter:hello` was rejected: auth-guard: missing or wrong `token` metadata
  greeter:stats -> 2 greetings so far; kv-store holds 3 keys
  greeter reloaded; its greeting count survives:
  greeter:stats -> 2 greetings so far; kv-store holds 3 keys
  audit-trail holds 8 records:
    kv-store:put by host: ok
    motd:show by host: ok
    greeter:hello by host: ok
    greeter:hello by host: ok
    greeter:hello by host: error: command `greeter:hello` was rejected: auth-guard: missing or wrong `token` metadata
    greeter:stats by host: ok
    greeter: reloaded (generation 1)
    greeter:stats by host: ok
shutdown: deactivated motd, greeter, kv-store, auth-guard, audit-trail
"
    );
}

#[test]
fn exec_runs_any_command_through_json() {
    let (ok, stdout, _) = run(&["exec", "greeter:hello", r#"{"name":"ada"}"#, "--token", "demo-token"]);
    assert!(ok);
    let response: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        response,
        serde_json::json!({ "message": "Hello, ada! [audited]", "count": 1 })
    );
}

#[test]
fn exec_without_the_token_is_rejected() {
    let (ok, _, stderr) = run(&["exec", "kv-store:get", r#"{"key":"x"}"#]);
    assert!(!ok);
    assert!(
        stderr.contains("command `kv-store:get` was rejected: auth-guard: missing or wrong `token` metadata"),
        "{stderr}"
    );
}

#[test]
fn exec_of_an_unknown_command_suggests_the_closest() {
    let (ok, _, stderr) = run(&["exec", "greeter:helo", "--token", "demo-token"]);
    assert!(!ok);
    assert!(
        stderr.contains("unknown command `greeter:helo`; did you mean `greeter:hello`?"),
        "{stderr}"
    );
}

#[test]
fn exec_with_a_request_of_the_wrong_shape_names_the_type() {
    let (ok, _, stderr) = run(&["exec", "greeter:hello", r#"{"nom":"ada"}"#, "--token", "demo-token"]);
    assert!(!ok);
    assert!(
        stderr.contains("command `greeter:hello`: the request is not a valid `greeter::Hello`: missing field `name`"),
        "{stderr}"
    );
}

#[test]
fn storage_is_durable_across_runs() {
    let directory = fresh_data_dir("durable");
    let token = ["--token", "demo-token"];
    let put = [
        &["exec", "kv-store:put", r#"{"key":"colour","value":"teal"}"#][..],
        &token[..],
    ]
    .concat();
    let (ok, stdout, _) = run_in(&directory, &put);
    assert!(ok);
    assert_eq!(stdout, "null\n");
    let get = [&["exec", "kv-store:get", r#"{"key":"colour"}"#][..], &token[..]].concat();
    let (ok, stdout, _) = run_in(&directory, &get);
    assert!(ok);
    assert_eq!(stdout, "\"teal\"\n");
    // The greeting count lives in kv-store too, so it carries over as well.
    let hello = [&["exec", "greeter:hello", r#"{"name":"ada"}"#][..], &token[..]].concat();
    run_in(&directory, &hello);
    let (_, stdout, _) = run_in(&directory, &hello);
    assert!(stdout.contains("\"count\": 2"), "{stdout}");
}

#[test]
fn config_file_reconfigures_the_plugins() {
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/patchpanel.toml");
    let (ok, stdout, _) = run(&[
        "exec",
        "greeter:hello",
        r#"{"name":"ada"}"#,
        "--token",
        "demo-token",
        "--config",
        sample,
    ]);
    assert!(ok);
    assert!(stdout.contains("\"message\": \"Howdy, ada! [audited]\""), "{stdout}");
}

#[test]
fn metrics_snapshot_is_printed_at_shutdown() {
    let (ok, stdout, _) = run(&["--metrics"]);
    assert!(ok);
    let metrics = stdout.split("metrics:\n").nth(1).expect("a metrics section");
    assert!(
        metrics.contains("  patchpanel_commands_total{plugin=greeter,command=greeter:hello} 3\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("  patchpanel_command_errors_total{plugin=greeter,command=greeter:hello} 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("patchpanel_activation_seconds{plugin=kv-store} count=1 "),
        "{metrics}"
    );
}

#[test]
fn a_broken_auth_guard_config_fails_closed() {
    let directory = fresh_data_dir("broken-guard");
    std::fs::create_dir_all(&directory).unwrap();
    let config = directory.join("typo.toml");
    std::fs::write(&config, "[plugins.\"auth-guard\"]\ntokn = \"s3cret\"\n").unwrap();
    let request = r#"{"key":"motd","value":"pwned"}"#;
    let (ok, stdout, stderr) = run_in(
        &directory,
        &["--config", config.to_str().unwrap(), "exec", "kv-store:put", request],
    );
    assert!(!ok, "ran unguarded: {stdout}");
    assert!(
        stderr.contains(
            "command `kv-store:put` was rejected: its guard, plugin `auth-guard`, is failed (configure returned an error: \
             bad auth-guard configuration: invalid configuration for plugin `auth-guard` at `tokn`: unknown field `tokn`, \
             expected `token`); the command cannot run unguarded"
        ),
        "{stderr}"
    );
}

/// An empty token would admit a caller that sends `--token ''`: the configuration is
/// refused, auth-guard fails, and its guard rejects the command (fail closed).
#[test]
fn an_empty_auth_guard_token_is_refused_and_fails_closed() {
    let directory = fresh_data_dir("empty-token");
    std::fs::create_dir_all(&directory).unwrap();
    let config = directory.join("empty.toml");
    std::fs::write(&config, "[plugins.\"auth-guard\"]\ntoken = \"\"\n").unwrap();
    let (ok, stdout, stderr) = run_in(
        &directory,
        &[
            "--config",
            config.to_str().unwrap(),
            "exec",
            "greeter:hello",
            r#"{"name":"x"}"#,
            "--token",
            "",
        ],
    );
    assert!(!ok, "ran with an empty token: {stdout}");
    assert!(
        stderr.contains(
            "command `greeter:hello` was rejected: its guard, plugin `auth-guard`, is failed (configure returned an error: \
             bad auth-guard configuration: `token` is empty; set it under [plugins.\"auth-guard\"] to a non-blank secret \
             (or leave it out for the demo default)); the command cannot run unguarded"
        ),
        "{stderr}"
    );
}

#[test]
fn disable_persists_refuses_without_cascade_and_enable_restores() {
    let directory = fresh_data_dir("operator");
    let (ok, stdout, _) = run_in(&directory, &["disable", "greeter"]);
    assert!(ok && stdout == "disabled greeter\n", "{stdout}");
    let (_, list, _) = run_in(&directory, &["list"]);
    assert!(list.contains("greeter 0.3.0 disabled\n"), "{list}");
    let (ok, stdout, _) = run_in(&directory, &["enable", "greeter"]);
    assert!(ok && stdout == "enabled greeter\n", "{stdout}");
    let (ok, _, stderr) = run_in(&directory, &["disable", "kv-store"]);
    assert!(!ok);
    assert!(
        stderr.contains(
            "plugin `kv-store` cannot be disabled while greeter depend on it; disable them first; or pass --cascade"
        ),
        "{stderr}"
    );
    let (ok, stdout, _) = run_in(&directory, &["disable", "kv-store", "--cascade"]);
    assert!(ok && stdout == "disabled greeter, kv-store\n", "{stdout}");
    let (_, list, _) = run_in(&directory, &["list"]);
    assert!(
        list.contains("kv-store 1.2.0 disabled\ngreeter 0.3.0 disabled\n"),
        "{list}"
    );
    let (ok, stdout, _) = run_in(&directory, &["reload", "audit-trail"]);
    assert!(ok && stdout == "reloaded audit-trail (generation 1)\n", "{stdout}");
}

/// Bad arguments and bad files at the command line: each exits non-zero with a message
/// that says what is wrong, never with a panic (exit code 101), and nothing is echoed
/// back at length.
#[test]
fn bad_arguments_get_clear_errors_and_no_panic() {
    let directory = fresh_data_dir("bad-arguments");
    std::fs::create_dir_all(&directory).unwrap();
    let not_toml = directory.join("not.toml");
    std::fs::write(&not_toml, "[plugins.greeter\n").unwrap();
    let a_file = directory.join("a-file");
    std::fs::write(&a_file, "").unwrap();
    let huge_request = format!("{{\"key\": 1, \"pad\": \"{}\"}}", "x".repeat(120_000));
    let huge_id = "k".repeat(100_000);
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (vec!["frobnicate"], 2, "unrecognized subcommand 'frobnicate'"),
        (vec!["exec"], 2, "the following required arguments were not provided"),
        (
            vec!["--config", "/nonexistent/patchpanel.toml", "list"],
            1,
            "cannot read the configuration file `/nonexistent/patchpanel.toml`",
        ),
        (
            vec!["--config", not_toml.to_str().unwrap(), "list"],
            1,
            "the configuration does not parse: TOML parse error at line 1",
        ),
        (
            vec!["exec", "kv-store:get", "{not json", "--token", "demo-token"],
            1,
            "the request is not JSON: `{not json`",
        ),
        (
            vec!["exec", "kv-store:get", &huge_request, "--token", "demo-token"],
            1,
            "the request is not a valid `kv_store::Get` at `key`",
        ),
        (vec!["exec", &huge_id, "{}"], 1, "(100000 bytes)"),
        (vec!["inspect", ""], 1, "no plugin `` is running"),
        (vec!["disable", "nope"], 1, "no plugin `nope` is running in this host"),
        (
            vec!["enable", "kv-store"],
            1,
            "plugin `kv-store` cannot go from active to active",
        ),
    ];
    for (args, code, expected) in cases {
        let output = Command::new(env!("CARGO_BIN_EXE_demo-app"))
            .args(&args)
            .arg("--data-dir")
            .arg(&directory)
            .env_remove("RUST_BACKTRACE")
            .output()
            .expect("demo-app runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let shown: String = args
            .iter()
            .map(|a| a.chars().take(40).collect::<String>())
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(output.status.code(), Some(code), "{shown}: {stderr}");
        assert!(stderr.contains(expected), "{shown}: {stderr}");
        assert!(!stderr.contains("panicked"), "{shown}: {stderr}");
        assert!(stderr.len() < 2_000, "{shown}: {} bytes of error", stderr.len());
    }
    // The data directory is a file: refused before anything starts.
    let output = Command::new(env!("CARGO_BIN_EXE_demo-app"))
        .args(["--data-dir", a_file.to_str().unwrap(), "list"])
        .output()
        .expect("demo-app runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot create the data directory `{}`", a_file.display())),
        "{stderr}"
    );
}

/// The cause chain of a failure reaches the operator: a config type error in greeter
/// names the key and the expected type in `list`, `list --json` and `inspect`.
#[test]
fn a_failed_plugin_shows_its_whole_reason() {
    let directory = fresh_data_dir("failure-reason");
    std::fs::create_dir_all(&directory).unwrap();
    let config = directory.join("bad.toml");
    std::fs::write(&config, "[plugins.greeter]\ngreeting = 5\n").unwrap();
    let reason = "configure returned an error: bad greeter configuration: invalid configuration for plugin \
                  `greeter` at `greeting`: invalid type: integer `5`, expected a string";
    let config = config.to_str().unwrap();
    let (ok, stdout, _) = run_in(&directory, &["--config", config, "list"]);
    assert!(ok);
    assert!(
        stdout.contains(&format!("greeter 0.3.0 failed: {reason}\n")),
        "{stdout}"
    );
    let (_, stdout, _) = run_in(&directory, &["--config", config, "list", "--json"]);
    let list: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let greeter = list.as_array().unwrap().iter().find(|p| p["id"] == "greeter").unwrap();
    assert_eq!(greeter["failure"], reason);
    let (_, stdout, _) = run_in(&directory, &["--config", config, "inspect", "greeter"]);
    assert!(stdout.contains(&format!("failure:          {reason}\n")), "{stdout}");
}
