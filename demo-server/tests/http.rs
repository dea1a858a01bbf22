//! demo-server over real sockets: each test starts the server on an ephemeral port and
//! talks HTTP/1.1 to it with a small blocking client over `TcpStream`, so that what is
//! tested is what a client sees (status, JSON error body, headers), including clients
//! that misbehave. The last test runs the binary and stops it with SIGTERM.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{ADMIN, Server, read_response};
use demo_server::Limits;

const TOKEN: (&str, &str) = ("x-patchpanel-token", "demo-token");

#[test]
fn plugins_are_listed_as_demo_app_lists_them() {
    let server = Server::start(Limits::default());
    let response = server.request("GET", "/plugins", &[], None);
    assert_eq!(response.status, 200);
    assert_eq!(response.json(), demo_app::list_json(&server.host));
    let ids: Vec<String> = response
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|plugin| plugin["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["audit-trail", "auth-guard", "kv-store", "greeter", "motd"]);
}

#[test]
fn commands_answer_over_json_with_headers_as_metadata() {
    let server = Server::start(Limits::default());
    let response = server.json("/commands/greeter:hello", r#"{"name":"ada"}"#, &[TOKEN]);
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json()["message"], "Hello, ada! [audited]");
    assert_eq!(response.json()["count"], 1);

    let response = server.json("/commands/greeter:hello", r#"{"name":"ada"}"#, &[]);
    assert_eq!(response.status, 403);
    assert_eq!(
        response.error(),
        (
            "rejected".to_owned(),
            "command `greeter:hello` was rejected: auth-guard: missing or wrong `token` metadata".to_owned()
        )
    );
    let response = server.json(
        "/commands/greeter:hello",
        r#"{"name":"ada"}"#,
        &[("x-patchpanel-token", "wrong")],
    );
    assert_eq!(response.status, 403);
}

/// motd, the async plugin: `motd:refresh` reads its message file without blocking the
/// server's workers, through the async JSON boundary.
#[test]
fn the_async_plugin_reads_its_file_through_the_json_boundary() {
    let dir = std::env::temp_dir().join(format!("demo-server-motd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("motd");
    std::fs::write(&file, "served from a file\n").unwrap();
    let config = format!("[plugins.motd]\nfile = {:?}\n", file.display().to_string());
    let server = Server::start_with(Limits::default(), Some(&config));
    let response = server.json("/commands/motd:show", "null", &[TOKEN]);
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json(), "served from a file");
    std::fs::write(&file, "changed on disk").unwrap();
    let response = server.json("/commands/motd:refresh", "null", &[TOKEN]);
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json(), "changed on disk");
    std::fs::remove_dir_all(&dir).unwrap();

    let server = Server::start(Limits::default());
    let response = server.json("/commands/motd:refresh", "null", &[TOKEN]);
    assert_eq!(response.status, 500);
    assert_eq!(
        response.error().1,
        "command `motd:refresh` failed in plugin `motd`: no message file is configured; set `file` in motd's configuration"
    );
}

#[test]
fn every_bad_request_gets_its_typed_error_and_the_server_keeps_serving() {
    let server = Server::start(Limits {
        body_bytes: 1024,
        ..Limits::default()
    });
    // Unknown command, with a suggestion.
    let response = server.json("/commands/greeter:hellp", r#"{"name":"ada"}"#, &[TOKEN]);
    assert_eq!(response.status, 404);
    assert_eq!(
        response.error(),
        (
            "unknown_command".to_owned(),
            "unknown command `greeter:hellp`; did you mean `greeter:hello`?".to_owned()
        )
    );
    // No body, malformed JSON, the wrong shape, no content type, too large.
    let response = server.json("/commands/greeter:hello", "", &[TOKEN]);
    assert_eq!((response.status, response.error().0.as_str()), (400, "bad_request"));
    let response = server.json("/commands/greeter:hello", r#"{"name":"#, &[TOKEN]);
    assert_eq!(response.status, 400);
    assert!(
        response
            .error()
            .1
            .starts_with("the request body of `greeter:hello` is not JSON: "),
        "{:?}",
        response.error()
    );
    let response = server.json("/commands/greeter:hello", r#"{"nom":"ada"}"#, &[TOKEN]);
    assert_eq!(response.status, 400);
    assert_eq!(
        response.error().1,
        "command `greeter:hello`: the request is not a valid `greeter::Hello`: missing field `name`"
    );
    let response = server.request("POST", "/commands/greeter:hello", &[TOKEN], Some(br#"{"name":"ada"}"#));
    assert_eq!(response.status, 415);
    assert_eq!(
        response.error(),
        (
            "unsupported_media_type".to_owned(),
            "a command request is JSON: send `greeter:hello` with `content-type: application/json`".to_owned()
        )
    );
    let big = format!(r#"{{"name":"{}"}}"#, "a".repeat(4096));
    let response = server.json("/commands/greeter:hello", &big, &[TOKEN]);
    assert_eq!(response.status, 413);
    assert_eq!(response.error().0, "too_large");
    // A handler's own failure is a 500 naming it.
    let response = server.json("/commands/kv-store:put", r#"{"key":"word","value":"abc"}"#, &[TOKEN]);
    assert_eq!(response.status, 200);
    let response = server.json("/commands/kv-store:increment", r#"{"key":"word"}"#, &[TOKEN]);
    assert_eq!(response.status, 500);
    assert_eq!(response.error().0, "handler");
    assert!(
        response
            .error()
            .1
            .starts_with("command `kv-store:increment` failed in plugin `kv-store`: ")
    );
    // And it serves on.
    let response = server.json("/commands/greeter:hello", r#"{"name":"bo"}"#, &[TOKEN]);
    assert_eq!(response.status, 200);
}

#[test]
fn the_admin_api_changes_states_and_names_refusals() {
    let server = Server::start(Limits::default());
    let response = server.request("POST", "/plugins/greeter/disable", &[ADMIN], None);
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json()["plugin"]["state"], "disabled");
    assert_eq!(response.json()["disabled"], serde_json::json!(["greeter"]));
    // While greeter is disabled its command and its route answer 503.
    let response = server.json("/commands/greeter:hello", r#"{"name":"ada"}"#, &[TOKEN]);
    assert_eq!((response.status, response.error().0.as_str()), (503, "not_active"));
    let response = server.request("GET", "/greeter/hello/ada", &[], None);
    assert_eq!((response.status, response.error().0.as_str()), (503, "not_active"));
    let response = server.request("POST", "/plugins/greeter/enable", &[ADMIN], None);
    assert_eq!(response.status, 200);
    assert_eq!(response.json()["plugin"]["state"], "active");

    // kv-store has active dependents: refused unless cascading.
    let response = server.request("POST", "/plugins/kv-store/disable", &[ADMIN], None);
    assert_eq!(response.status, 409);
    assert_eq!(response.error().0, "refused");
    assert!(response.error().1.contains("greeter"), "{}", response.error().1);
    let response = server.request("POST", "/plugins/kv-store/disable?cascade=true", &[ADMIN], None);
    assert_eq!(response.status, 200);
    // motd, lazy and never used, has no instance to take down.
    assert_eq!(response.json()["disabled"], serde_json::json!(["greeter", "kv-store"]));
    let response = server.request("POST", "/plugins/kv-store/enable", &[ADMIN], None);
    assert_eq!(response.status, 200);

    let response = server.request("POST", "/plugins/greeter/reload", &[ADMIN], None);
    assert_eq!(response.status, 200);
    assert_eq!(response.json()["generation"], 1);
    let response = server.request("POST", "/plugins/greetr/reload", &[ADMIN], None);
    assert_eq!(response.status, 404);
    assert_eq!(response.error().0, "unknown_plugin");
    assert!(
        response.error().1.contains("greeter"),
        "a suggestion: {}",
        response.error().1
    );
}

#[test]
fn plugin_routes_metrics_and_the_admin_page_answer() {
    let server = Server::start(Limits::default());
    let response = server.request("GET", "/greeter/hello/bob", &[], None);
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert_eq!(response.json()["message"], "Hello, bob! [audited]");
    // Path parameters reach the plugin percent-decoded.
    let response = server.request("GET", "/greeter/hello/J%C3%B6rg%20K", &[], None);
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json()["message"], "Hello, J\u{f6}rg K! [audited]");
    // A parameter that does not decode to UTF-8 is the client's error.
    let response = server.request("GET", "/greeter/hello/%FF", &[], None);
    assert_eq!(response.status, 400, "{}", response.text());

    server.json("/commands/greeter:hello", r#"{"name":"ada"}"#, &[TOKEN]);
    let response = server.request("GET", "/metrics", &[], None);
    assert_eq!(response.status, 200);
    let text = response.text();
    assert!(text.contains("# TYPE patchpanel_commands_total counter"), "{text}");
    assert!(
        text.contains(r#"patchpanel_commands_total{plugin="greeter",command="greeter:hello"}"#),
        "{text}"
    );
    // Every family says what it is, and the server's own requests are counted by route
    // template and status.
    let families: Vec<&str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split_whitespace().next())
        .collect();
    assert!(families.contains(&"http_requests_total"), "{text}");
    for family in families {
        assert!(
            text.contains(&format!("# HELP {family} ")),
            "{family} has no HELP line: {text}"
        );
    }
    for (route, status) in [
        ("/greeter/hello/{name}", 200),
        ("/greeter/hello/{name}", 400),
        ("/commands/{id}", 200),
    ] {
        let line = format!(
            r#"http_requests_total{{method="{method}",route="{route}",status="{status}"}}"#,
            method = if route.starts_with("/commands") { "POST" } else { "GET" }
        );
        assert!(text.contains(&line), "no `{line}` in {text}");
    }

    // Read as a scraper reads it, by a Prometheus text-format parser: every family has
    // its HELP; each plugin has one state series at 1, its current state; build info.
    server.host.disable("motd").unwrap();
    let text = server.request("GET", "/metrics", &[], None).text();
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|line| Ok(line.to_owned()))).unwrap();
    for sample in &scrape.samples {
        let family = ["_sum", "_count", "_bucket"]
            .iter()
            .find_map(|suffix| sample.metric.strip_suffix(suffix))
            .filter(|family| scrape.docs.contains_key(*family))
            .unwrap_or(&sample.metric);
        assert!(scrape.docs.contains_key(family), "{} has no HELP", sample.metric);
    }
    let states: Vec<(String, String)> = scrape
        .samples
        .iter()
        .filter(|sample| sample.metric == "patchpanel_plugin_state")
        .filter(|sample| matches!(sample.value, prometheus_parse::Value::Gauge(value) if value == 1.0))
        .map(|sample| {
            (
                sample.labels.get("plugin").unwrap().to_owned(),
                sample.labels.get("state").unwrap().to_owned(),
            )
        })
        .collect();
    let mut states = states;
    states.sort();
    assert_eq!(
        states,
        [
            ("audit-trail", "active"),
            ("auth-guard", "active"),
            ("greeter", "active"),
            ("kv-store", "active"),
            ("motd", "disabled"),
        ]
        .map(|(plugin, state)| (plugin.to_owned(), state.to_owned()))
    );
    let series = scrape
        .samples
        .iter()
        .filter(|s| s.metric == "patchpanel_plugin_state")
        .count();
    assert_eq!(
        series,
        5 * patchpanel::State::ALL.len(),
        "one series per plugin and state"
    );
    let build = scrape
        .samples
        .iter()
        .find(|sample| sample.metric == "patchpanel_build_info")
        .expect("build info");
    assert_eq!(build.labels.get("version"), Some(patchpanel::manifest::HOST_VERSION));
    assert_eq!(build.labels.get("backend"), Some(patchpanel::registry::BACKEND));
    server.host.enable("motd").unwrap();

    let response = server.request("GET", "/healthz", &[], None);
    assert_eq!(
        (response.status, response.json()["status"].as_str()),
        (200, Some("alive"))
    );
    let response = server.request("GET", "/readyz", &[], None);
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json()["status"], "healthy");
    assert_eq!(response.json()["plugins"].as_array().unwrap().len(), 5);
    server.host.disable("greeter").unwrap();
    let response = server.request("GET", "/readyz", &[], None);
    assert_eq!(response.status, 503);
    assert_eq!(response.json()["status"], "unhealthy");
    server.host.enable("greeter").unwrap();

    // Without a session the page is read-only, with the login form; the login sets a
    // session cookie, and the page then has its buttons.
    let response = server.request("GET", "/", &[], None);
    assert_eq!(response.status, 200);
    let read_only = response.text();
    assert!(read_only.contains("<form method=\"post\" action=\"/login\" id=\"login-form\">"));
    assert!(read_only.contains("<tr data-id=\"greeter\">") && !read_only.contains("id=\"disable-greeter\""));
    assert!(!read_only.contains("<meta name=\"csrf-token\""));
    let cookie = login(&server);
    let response = server.request("GET", "/", &[("cookie", &cookie)], None);
    assert_eq!(response.status, 200);
    let page = response.text();
    assert!(
        page.contains("Overall health: <strong id=\"overall\">healthy</strong>"),
        "{page}"
    );
    for id in ["audit-trail", "auth-guard", "kv-store", "greeter", "motd"] {
        assert!(page.contains(&format!("<tr data-id=\"{id}\">")), "{id} is listed");
        assert!(
            page.contains(&format!("id=\"disable-{id}\"")),
            "{id} has a disable button"
        );
    }
    assert!(page.contains("<svg id=\"graph\""));
}

/// Logs in to the admin page with the admin token; the session cookie (`name=value`).
fn login(server: &Server) -> String {
    let body = format!("token={}", common::ADMIN_TOKEN);
    let response = server.request(
        "POST",
        "/login",
        &[("content-type", "application/x-www-form-urlencoded")],
        Some(body.as_bytes()),
    );
    assert_eq!(response.status, 303, "{}", response.text());
    let cookie = response.header("set-cookie").expect("a session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    cookie.split(';').next().unwrap().to_owned()
}

/// The admin API's lifecycle changes need the token or a page session with its CSRF
/// token, from this server's own origin; reads and plugin routes do not.
#[test]
fn admin_changes_need_a_credential_from_this_origin() {
    let server = Server::start(Limits::default());
    let state = |server: &Server| server.host.state("greeter").unwrap();
    for (headers, status, kind) in [
        (vec![], 401, "unauthorized"),
        (vec![("authorization", "Bearer wrong")], 401, "unauthorized"),
        (vec![("authorization", "Bearer ")], 401, "unauthorized"),
        (vec![ADMIN, ("origin", "http://127.0.0.1:18099")], 403, "forbidden"),
        (vec![ADMIN, ("sec-fetch-site", "cross-site")], 403, "forbidden"),
    ] {
        let response = server.request("POST", "/plugins/greeter/disable", &headers, None);
        assert_eq!(
            (response.status, response.error().0.as_str()),
            (status, kind),
            "{headers:?}"
        );
        assert_eq!(state(&server), patchpanel::State::Active, "{headers:?} changed nothing");
    }
    let refused = server.request("POST", "/plugins/greeter/disable", &[], None);
    assert_eq!(refused.header("www-authenticate"), Some("Bearer"));
    assert_eq!(
        refused.error().1,
        "the admin API needs `Authorization: Bearer <token>` (the token is PATCHPANEL_ADMIN_TOKEN, the --admin-token-file, or the file demo-server printed at start), or the admin page's session"
    );
    // A wrong token at the login is sent back to the form, with no cookie.
    let response = server.request(
        "POST",
        "/login",
        &[("content-type", "application/x-www-form-urlencoded")],
        Some(b"token=wrong"),
    );
    assert_eq!(
        (response.status, response.header("location")),
        (303, Some("/?login=refused"))
    );
    assert_eq!(response.header("set-cookie"), None);
    // A session cookie alone (what a forged form would carry) is not enough: the page's
    // CSRF token must come with it.
    let cookie = login(&server);
    let response = server.request("POST", "/plugins/greeter/disable", &[("cookie", &cookie)], None);
    assert_eq!(response.status, 401);
    let page = server.request("GET", "/", &[("cookie", &cookie)], None).text();
    let csrf = page
        .split("<meta name=\"csrf-token\" content=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page carries its CSRF token")
        .to_owned();
    let response = server.request(
        "POST",
        "/plugins/greeter/disable",
        &[
            ("cookie", &cookie),
            ("x-csrf-token", &csrf),
            ("origin", "http://127.0.0.1"),
        ],
        None,
    );
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(state(&server), patchpanel::State::Disabled);
    // The bearer token from a client that sends no Origin (curl, scripts).
    let response = server.request("POST", "/plugins/greeter/enable", &[ADMIN], None);
    assert_eq!(response.status, 200);
    // Reads stay open.
    assert_eq!(server.request("GET", "/plugins", &[], None).status, 200);
}

/// The answers the router and the limits make themselves have the JSON error shape too.
#[test]
fn router_and_limit_errors_have_the_json_shape() {
    let server = Server::start(Limits {
        body_bytes: 1024,
        ..Limits::default()
    });
    /// Method, path, body, then the status, kind and message expected ("" for any).
    type Case<'a> = (&'a str, &'a str, Option<&'a [u8]>, u16, &'a str, &'a str);
    let cases: [Case<'_>; 3] = [
        (
            "GET",
            "/no/such/route",
            None,
            404,
            "not_found",
            "no route answers `GET /no/such/route`",
        ),
        (
            "DELETE",
            "/plugins",
            None,
            405,
            "method_not_allowed",
            "`/plugins` does not take DELETE; it takes GET,HEAD",
        ),
        (
            "POST",
            "/commands/greeter:hello",
            Some(&[b' '; 4096]),
            413,
            "too_large",
            "",
        ),
    ];
    for (method, path, body, status, kind, message) in cases {
        let headers = [
            ("content-type", "application/json"),
            ("x-patchpanel-token", "demo-token"),
        ];
        let response = server.request(method, path, &headers, body);
        assert_eq!(response.status, status, "{method} {path}: {}", response.text());
        assert_eq!(
            response.header("content-type"),
            Some("application/json"),
            "{method} {path}"
        );
        let (got_kind, got_message) = response.error();
        assert_eq!(got_kind, kind, "{method} {path}");
        if !message.is_empty() {
            assert_eq!(got_message, message, "{method} {path}");
        }
    }
}

#[test]
fn a_slow_client_is_timed_out_and_too_many_at_once_are_shed() {
    let server = Server::start(Limits {
        request_timeout: Duration::from_millis(300),
        concurrent_requests: 1,
        ..Limits::default()
    });
    // A client that announces a body and sends it too slowly.
    let mut slow = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    slow.write_all(
        b"POST /commands/greeter:hello HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/json\r\nx-patchpanel-token: demo-token\r\ncontent-length: 20\r\n\r\n{\"na",
    )
    .unwrap();
    // Meanwhile it holds the only slot: another request is shed at once.
    std::thread::sleep(Duration::from_millis(50));
    let started = Instant::now();
    let shed = server.request("GET", "/plugins", &[], None);
    assert_eq!(shed.status, 503);
    assert_eq!(shed.error().0, "overloaded");
    assert!(started.elapsed() < Duration::from_millis(250), "shed, not queued");
    let timed_out = read_response(slow);
    assert_eq!(timed_out.status, 408);
    assert_eq!(
        timed_out.error(),
        ("timeout".to_owned(), "the request took longer than 300 ms".to_owned())
    );
    // Then it serves again.
    assert_eq!(server.request("GET", "/plugins", &[], None).status, 200);
}

#[cfg(unix)]
#[test]
fn the_binary_serves_and_exits_0_on_sigterm_after_deactivating_in_reverse_order() {
    let (mut child, mut stderr, address) = spawn_binary(&[]);
    let stream = TcpStream::connect(&address).unwrap();
    let mut writer = stream.try_clone().unwrap();
    writer
        .write_all(b"GET /greeter/hello/sig HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(stream).status, 200);
    // SIGTERM through kill(1), as an operator would send it.
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert!(status.success(), "exit {status}: {rest}");
    assert!(
        rest.contains("demo-server: deactivated greeter, kv-store, auth-guard, audit-trail"),
        "{rest}"
    );
}

/// Starts the binary with `args` and returns it with its address.
#[cfg(unix)]
fn spawn_binary(args: &[&str]) -> (std::process::Child, BufReader<std::process::ChildStderr>, String) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_demo-server"))
        .args(["--port", "0", "--in-memory"])
        .args(args)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let address = line
        .trim()
        .strip_prefix("demo-server listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line: {line}"))
        .to_owned();
    (child, stderr, address)
}

/// A client that sends half a request head is disconnected at the header limit, and
/// the server goes on serving. Before, `axum::serve` set no header timeout: such a
/// client held its connection for as long as it liked.
#[cfg(unix)]
#[test]
fn a_client_that_never_finishes_its_request_head_is_closed_at_the_header_limit() {
    let (mut child, _stderr, address) = spawn_binary(&["--header-timeout-ms", "300"]);
    let mut slow = TcpStream::connect(&address).unwrap();
    slow.write_all(b"GET /plugins HTTP/1.1\r\nhost: x\r\n").unwrap();
    let started = Instant::now();
    let mut rest = Vec::new();
    slow.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let read = slow.read_to_end(&mut rest);
    let waited = started.elapsed();
    assert!(read.is_ok(), "the connection was not closed within 5 s: {read:?}");
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(3),
        "closed after {waited:?}, want about 300 ms"
    );
    let stream = TcpStream::connect(&address).unwrap();
    let mut writer = stream.try_clone().unwrap();
    writer
        .write_all(b"GET /plugins HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(stream).status, 200);
    child.kill().unwrap();
    child.wait().unwrap();
}

/// SIGTERM closes an idle kept-alive connection and one still sending its head at
/// once, instead of waiting for them (before, the half-sent head held the stop for
/// the whole grace period, 10 s).
#[cfg(unix)]
#[test]
fn sigterm_closes_idle_and_slow_connections_at_once() {
    let (mut child, mut stderr, address) = spawn_binary(&[]);
    let idle = TcpStream::connect(&address).unwrap();
    let mut writer = idle.try_clone().unwrap();
    writer.write_all(b"GET /plugins HTTP/1.1\r\nhost: x\r\n\r\n").unwrap();
    let mut reader = BufReader::new(idle);
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    let mut slow = TcpStream::connect(&address).unwrap();
    slow.write_all(b"GET /plugins HTTP/1.1\r\nhost: x\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let exit = child.wait().unwrap();
    let waited = started.elapsed();
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert!(exit.success(), "exit {exit}: {rest}");
    assert!(waited < Duration::from_secs(3), "SIGTERM took {waited:?}: {rest}");
    assert!(
        rest.contains("connections closed at once: 2, finished their request: 0, cut off at the grace period: 0"),
        "{rest}"
    );
}

/// At the stop, a request whose handler is running finishes and is answered; the
/// server then closes its connection.
#[test]
fn a_request_running_at_the_stop_finishes_within_the_grace_period() {
    let app = axum::Router::new().route(
        "/slow",
        axum::routing::get(|| async {
            tokio::time::sleep(Duration::from_millis(400)).await;
            "done"
        }),
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::spawn(move || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(async move {
                demo_server::serve::serve(
                    tokio::net::TcpListener::from_std(listener).unwrap(),
                    app,
                    Duration::from_secs(10),
                    async move {
                        let _ = stopped.await;
                    },
                    Duration::from_secs(5),
                )
                .await
            })
    });
    let stream = TcpStream::connect(address).unwrap();
    let mut writer = stream.try_clone().unwrap();
    writer.write_all(b"GET /slow HTTP/1.1\r\nhost: x\r\n\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(100));
    stop.send(()).unwrap();
    let response = read_response(stream);
    assert_eq!((response.status, response.text()), (200, "done".to_owned()));
    let stopped = server.join().unwrap();
    assert_eq!(
        stopped,
        demo_server::serve::Stopped {
            closed_at_once: 0,
            finished: 1,
            cut_off: 0
        }
    );
}
