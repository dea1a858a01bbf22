//! The demo application's plugin set and its reports, kept in a library so that
//! integration tests link exactly the plugins the binary links.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use patchpanel::storage::{MemoryStorage, StorageBackend};
use patchpanel::{Host, host::PluginInfo};

// Each plugin: one Cargo feature, one line here, with what the application grants it.
// A plugin whose manifest asks for more does not start (the host refuses it at start-up).
patchpanel::link_plugins! {
    #[cfg(feature = "kv-store")] kv_store::KvStore => [
        "commands.register", "messaging.receive", "services.provide", "storage.read", "storage.write",
    ],
    #[cfg(feature = "greeter")] greeter::Greeter => [
        "commands.register", "events.publish", "hooks.declare", "messaging.send", "services.consume",
        "services.provide",
    ],
    #[cfg(feature = "audit-trail")] audit_trail::AuditTrail => [
        "commands.intercept:all", "events.subscribe:all", "hooks.implement", "messaging.receive", "messaging.send",
    ],
    #[cfg(feature = "auth-guard")] auth_guard::AuthGuard => ["commands.intercept:all"],
    #[cfg(feature = "motd")] motd::Motd => ["commands.register", "services.consume"],
    #[cfg(feature = "noop")] noop::Noop => [],
}

/// The token `auth-guard` expects by default; the scenario presents it.
pub const TOKEN: &str = "demo-token";

/// How the demo host is set up.
pub struct Setup {
    /// Where plugins keep their data.
    pub storage: Arc<dyn StorageBackend>,
    /// Per-plugin configuration tables, if a file was given.
    pub config: Option<patchpanel::config::ConfigFile>,
    /// Record metrics.
    pub metrics: bool,
    /// The registry file that keeps the operator's disables across runs, if any.
    pub registry_file: Option<PathBuf>,
}

impl Default for Setup {
    /// In-memory storage, no configuration, no metrics, nothing persisted.
    fn default() -> Setup {
        Setup {
            storage: Arc::new(MemoryStorage::default()),
            config: None,
            metrics: false,
            registry_file: None,
        }
    }
}

/// The plugins' storage as the demos' `--in-memory` and `--data-dir` flags ask: in
/// memory, or the redb file `demo.redb` in `data_dir` (created if missing), with an
/// error that says which flag changes it.
pub fn storage(data_dir: &std::path::Path, in_memory: bool) -> anyhow::Result<Arc<dyn StorageBackend>> {
    use anyhow::Context as _;
    if in_memory {
        return Ok(Arc::new(MemoryStorage::default()));
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create the data directory `{}`", data_dir.display()))?;
    let storage = patchpanel::storage::RedbStorage::open(data_dir.join("demo.redb")).context(
        "cannot open the demo's storage (`--data-dir <dir>` uses another directory, `--in-memory` keeps nothing on disk)",
    )?;
    Ok(Arc::new(storage))
}

/// Starts the host over every linked plugin with in-memory storage, checking that each
/// expected plugin is there.
pub fn start() -> Result<Host, patchpanel::host::StartError> {
    start_with(Setup::default())
}

/// Starts the host over every linked plugin as `setup` says.
pub fn start_with(setup: Setup) -> Result<Host, patchpanel::host::StartError> {
    let mut builder = Host::builder()
        .expect(linked_plugins())
        .grants(linked_grants())
        .storage(setup.storage)
        .metrics(setup.metrics);
    // The token check fails closed: if auth-guard does not start (a typo in its
    // config, say), every command is refused instead of running without it.
    if cfg!(feature = "auth-guard") {
        builder = builder.guarded_by("auth-guard", "*");
    }
    if let Some(config) = setup.config {
        builder = builder.config_file(config);
    }
    if let Some(path) = setup.registry_file {
        builder = builder.registry_file(path);
    }
    builder.build()
}

/// The start-up report: one row per plugin in activation order.
pub fn report(host: &Host) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "patchpanel {} ({} backend): {} plugins started in {:.3} ms",
        patchpanel::manifest::HOST_VERSION,
        patchpanel::registry::BACKEND,
        host.plugins().len(),
        host.startup_duration().as_secs_f64() * 1000.0
    );
    let id_width = host.plugins().map(|p| p.id().len()).max().unwrap_or(2).max(2);
    let _ = writeln!(
        out,
        "  {:>2}  {:<id_width$}  {:<8}  {:<8}  depends on",
        "#", "id", "version", "state"
    );
    for warning in host.config_warnings() {
        let _ = writeln!(out, "  warning: {warning}");
    }
    if host.trusts_linked_plugins() {
        let _ = writeln!(
            out,
            "  note: no grants stated; the application trusts every linked plugin (HostBuilder::trust_linked_plugins): each holds what its manifest declares"
        );
    } else if !host.grants_enforced() {
        let _ = writeln!(
            out,
            "  note: no grants declared (HostBuilder::grant): each plugin holds what its manifest declares"
        );
    }
    for plugin in host.unexpected_plugins() {
        let _ = writeln!(out, "  warning: {plugin} is linked but not named in link_plugins!");
    }
    for plugin in host.plugins() {
        let dependencies = plugin.dependencies();
        let _ = writeln!(
            out,
            "  {:>2}  {:<id_width$}  {:<8}  {:<8}  {}",
            plugin.order() + 1,
            plugin.id(),
            plugin.manifest().version.to_string(),
            plugin.state().to_string(),
            if dependencies.is_empty() {
                "-".to_owned()
            } else {
                dependencies.join(", ")
            }
        );
    }
    out
}

/// `list`: one plugin per line, in activation order; a failed plugin's line ends with
/// its reason.
pub fn list(host: &Host) -> String {
    host.plugins()
        .map(|p| {
            let line = match p.failure() {
                // A failed plugin's line carries its reason, cause chain and all.
                Some(failure) => format!("{} {} {}: {failure}", p.id(), p.manifest().version, p.state()),
                None if p.state() == patchpanel::State::Resolved
                    && p.manifest().activation == patchpanel::manifest::Activation::Lazy =>
                {
                    format!("{} {} lazy (not yet used)", p.id(), p.manifest().version)
                }
                None => format!("{} {} {}", p.id(), p.manifest().version, p.state()),
            };
            match &p.manifest().deprecated {
                Some(deprecation) => match &deprecation.replacement {
                    Some(replacement) => format!("{line} (deprecated: use {replacement})\n"),
                    None => format!("{line} (deprecated)\n"),
                },
                None => format!("{line}\n"),
            }
        })
        .collect()
}

/// `commands`: every command id, sorted, with the state of its plugin when that is not
/// `active`. A plugin that declares `contributes` is listed from its manifest, so its
/// commands show before it has ever activated; others from what they registered.
pub fn commands(host: &Host) -> String {
    let registered = host.command_ids();
    let mut lines: Vec<String> = Vec::new();
    for plugin in host.plugins() {
        let ids: Vec<String> = match &plugin.manifest().contributes {
            Some(contributes) => contributes
                .commands
                .iter()
                .map(|name| format!("{}:{name}", plugin.id()))
                .collect(),
            None => registered
                .iter()
                .filter(|id| id.strip_prefix(plugin.id()).is_some_and(|rest| rest.starts_with(':')))
                .cloned()
                .collect(),
        };
        let state = plugin.state();
        for id in ids {
            lines.push(if state == patchpanel::State::Active {
                format!("{id}\n")
            } else {
                format!("{id} ({state})\n")
            });
        }
    }
    lines.sort();
    lines.concat()
}

/// `health`: one line per plugin (state, health, reason, how long its check took),
/// then the overall verdict.
pub fn health(report: &patchpanel::health::HealthReport) -> String {
    let mut out = String::new();
    let width = report
        .plugins
        .iter()
        .map(|plugin| plugin.plugin.len())
        .max()
        .unwrap_or(0);
    for plugin in &report.plugins {
        let took = if plugin.checked_at_ms.is_some() {
            format!(" (checked in {:.3} ms)", plugin.took.as_secs_f64() * 1e3)
        } else {
            String::new()
        };
        let reason = plugin
            .health
            .reason
            .as_deref()
            .map(|reason| format!(": {reason}"))
            .unwrap_or_default();
        let optional = if plugin.required { "" } else { " [not required]" };
        let _ = writeln!(
            out,
            "{:<width$}  {:<9} {}{reason}{took}{optional}",
            plugin.plugin,
            plugin.state.as_str(),
            plugin.health.status,
        );
    }
    let _ = writeln!(out, "overall: {}", report.status());
    out
}

/// A health report as JSON: `{"status", "plugins": [{"id", "state", "health", "reason",
/// "required", "checkedAtMs", "tookMs"}]}`.
pub fn health_json(report: &patchpanel::health::HealthReport) -> serde_json::Value {
    serde_json::json!({
        "status": report.status().as_str(),
        "plugins": report.plugins.iter().map(|plugin| serde_json::json!({
            "id": plugin.plugin,
            "state": plugin.state.as_str(),
            "health": plugin.health.status.as_str(),
            "reason": plugin.health.reason,
            "required": plugin.required,
            "checkedAtMs": plugin.checked_at_ms.map(|ms| ms as u64),
            "tookMs": plugin.took.as_secs_f64() * 1e3,
        })).collect::<Vec<_>>(),
    })
}

/// `search <text>`: the plugins whose id, name or description contains `text`, one per
/// line with their description.
pub fn search(host: &Host, text: &str) -> String {
    let found = host.search(text);
    if found.is_empty() {
        return format!("no plugin matches {}\n", quoted(text));
    }
    found
        .iter()
        .map(|plugin| {
            format!(
                "{} {} {}: {}\n",
                plugin.id(),
                plugin.manifest().version,
                plugin.state().as_str(),
                plugin.manifest().description
            )
        })
        .collect()
}

/// `list --capability <name>`: the plugins offering it, one per line with their state.
pub fn with_capability(host: &Host, name: &str) -> String {
    let found = host.plugins_with_capability(name);
    if found.is_empty() {
        return format!("no plugin offers {}\n", quoted(name));
    }
    found
        .iter()
        .map(|plugin| {
            format!(
                "{} {} {}\n",
                plugin.id(),
                plugin.manifest().version,
                plugin.state().as_str()
            )
        })
        .collect()
}

/// `list --json`: a JSON array in activation order.
pub fn list_json(host: &Host) -> serde_json::Value {
    serde_json::Value::Array(host.plugins().map(|plugin| plugin_json(&plugin)).collect())
}

fn plugin_json(plugin: &PluginInfo<'_>) -> serde_json::Value {
    let manifest = plugin.manifest();
    serde_json::json!({
        "id": plugin.id(),
        "name": manifest.name,
        "version": manifest.version.to_string(),
        "state": plugin.state().as_str(),
        "order": plugin.order(),
        "dependencies": plugin.dependencies(),
        "absentOptional": plugin.absent_optional(),
        "failure": plugin.failure().map(|failure| failure.to_string()),
    })
}

/// `graph`: the dependency graph as Graphviz DOT. Edges point from a plugin to what it
/// depends on; absent optional dependencies are dashed.
pub fn graph(host: &Host) -> String {
    let mut out = String::from("digraph plugins {\n  rankdir=LR;\n  node [shape=box];\n");
    for plugin in host.plugins() {
        let _ = writeln!(
            out,
            "  \"{}\" [label=\"{}\\n{}\"];",
            plugin.id(),
            plugin.id(),
            plugin.manifest().version
        );
    }
    for plugin in host.plugins() {
        for dependency in &plugin.manifest().dependencies {
            let style = if plugin.absent_optional().contains(&dependency.id) {
                ", style=dashed, color=gray"
            } else if dependency.optional {
                ", style=dashed"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "  \"{}\" -> \"{}\" [label=\"{}\"{style}];",
                plugin.id(),
                dependency.id,
                dependency.req
            );
        }
    }
    out.push_str("}\n");
    out
}

/// `inspect <id>`: the manifest, the permissions and the state.
pub fn inspect(host: &Host, id: &str) -> Result<String, patchpanel::lifecycle::LifecycleError> {
    let plugin = host.plugin(id)?;
    let manifest = plugin.manifest();
    let mut out = String::new();
    let _ = writeln!(out, "id:               {}", manifest.id);
    let _ = writeln!(out, "name:             {}", manifest.name);
    let _ = writeln!(out, "version:          {}", manifest.version);
    let _ = writeln!(out, "description:      {}", manifest.description);
    let _ = writeln!(out, "type:             {}", plugin.type_name());
    let _ = writeln!(out, "state:            {}", plugin.state());
    if let Some(failure) = plugin.failure() {
        let _ = writeln!(out, "failure:          {failure}");
    }
    if let Some(by) = plugin.disabled_with() {
        let _ = writeln!(out, "disabled with:    {by} (enabling {by} enables it again)");
    }
    let _ = writeln!(out, "order:            {}", plugin.order() + 1);
    let min_host = manifest
        .min_host_version
        .as_ref()
        .map_or("-".to_owned(), ToString::to_string);
    let _ = writeln!(out, "min host version: {min_host}");
    let _ = writeln!(
        out,
        "features:         {}",
        join_or_dash(manifest.required_features.iter().map(String::as_str))
    );
    let _ = writeln!(out, "dependencies:");
    if manifest.dependencies.is_empty() {
        let _ = writeln!(out, "  -");
    }
    for dependency in &manifest.dependencies {
        let presence = if plugin.absent_optional().contains(&dependency.id) {
            ", absent"
        } else {
            ""
        };
        let optional = if dependency.optional {
            " (optional"
        } else {
            " (required"
        };
        let _ = writeln!(out, "  {} {}{optional}{presence})", dependency.id, dependency.req);
    }
    let _ = writeln!(out, "permissions:");
    if manifest.permissions.is_empty() {
        let _ = writeln!(out, "  -");
    }
    for permission in &manifest.permissions {
        let _ = writeln!(
            out,
            "  {}.{} (scope: {})",
            permission.resource, permission.action, permission.scope
        );
    }
    // From the manifest: known whether or not the plugin has ever activated.
    let _ = writeln!(out, "activation:       {}", manifest.activation.as_str());
    if let Some(deprecation) = &manifest.deprecated {
        let replacement = deprecation
            .replacement
            .as_ref()
            .map(|replacement| format!(" (replacement: {replacement})"))
            .unwrap_or_default();
        let _ = writeln!(out, "deprecated:       {}{replacement}", deprecation.message);
    }
    match &manifest.contributes {
        None => {
            let _ = writeln!(out, "contributes:      (not declared)");
        }
        Some(contributes) => {
            let _ = writeln!(out, "contributes:");
            for kind in patchpanel::manifest::Contributions::KINDS {
                let names = contributes.list(kind);
                if !names.is_empty() {
                    let _ = writeln!(out, "  {kind}: {}", names.join(", "));
                }
            }
            if patchpanel::manifest::Contributions::KINDS
                .iter()
                .all(|kind| contributes.list(kind).is_empty())
            {
                let _ = writeln!(out, "  -");
            }
        }
    }
    let capabilities = plugin.capabilities();
    let _ = writeln!(
        out,
        "capabilities:     {}",
        join_or_dash(capabilities.iter().map(|c| format!("{} {}", c.kind, c.name)))
    );
    Ok(out)
}

fn join_or_dash<S: AsRef<str>>(items: impl Iterator<Item = S>) -> String {
    let items: Vec<String> = items.map(|s| s.as_ref().to_owned()).collect();
    if items.is_empty() {
        "-".to_owned()
    } else {
        items.join(", ")
    }
}

/// The short scenario `demo-app` runs after start-up, using whichever plugins are linked.
/// Every line goes through the host's dispatch: JSON, typed handles, middleware,
/// services, hooks, events and messages.
pub fn scenario(host: &Host) -> Vec<String> {
    let metadata: &[(&str, &str)] = &[("token", TOKEN)];
    let mut lines = kv_store_steps(host, metadata);
    lines.extend(motd_steps(host, metadata));
    lines.extend(greeter_steps(host, metadata));
    lines.extend(audit_trail_steps(host));
    lines
}

/// How much of a user's input an error message quotes.
pub const QUOTE_MAX_CHARS: usize = 120;

/// `text` in backticks for an error message: whole when short, otherwise cut at
/// [`QUOTE_MAX_CHARS`] characters with its length, so that a 120 KB request is not
/// echoed back whole.
///
/// ```
/// assert_eq!(demo_app::quoted("kv-store"), "`kv-store`");
/// assert_eq!(demo_app::quoted(&"x".repeat(200)), format!("`{}…` (200 bytes)", "x".repeat(120)));
/// ```
pub fn quoted(text: &str) -> String {
    match text.char_indices().nth(QUOTE_MAX_CHARS) {
        None => format!("`{text}`"),
        Some((end, _)) => format!("`{}…` ({} bytes)", &text[..end], text.len()),
    }
}

/// A JSON command into `kv-store`, when it is linked.
fn kv_store_steps(host: &Host, metadata: &[(&str, &str)]) -> Vec<String> {
    #[cfg(feature = "kv-store")]
    {
        let request = serde_json::json!({ "key": "motd", "value": "plugins are ordinary crates" });
        vec![match host.execute_json_with("kv-store:put", request, metadata) {
            Ok(previous) => format!("kv-store:put motd (json) -> previous value {previous}"),
            Err(error) => format!("kv-store:put failed: {error}"),
        }]
    }
    #[cfg(not(feature = "kv-store"))]
    {
        let _ = (host, metadata);
        Vec::new()
    }
}

/// Lazy activation through `motd`, when it is linked: its first command activates it.
fn motd_steps(host: &Host, metadata: &[(&str, &str)]) -> Vec<String> {
    #[cfg(feature = "motd")]
    {
        let before = host.state("motd").map(|state| state.to_string()).unwrap_or_default();
        let shown = host.execute_with::<(), Option<String>>("motd:show", (), metadata);
        let after = host.state("motd").map(|state| state.to_string()).unwrap_or_default();
        vec![match shown {
            Ok(message) => format!("motd:show -> {message:?} (motd was {before}; its first use made it {after})"),
            Err(error) => format!("motd:show failed: {error}"),
        }]
    }
    #[cfg(not(feature = "motd"))]
    {
        let _ = (host, metadata);
        Vec::new()
    }
}

/// Typed handles, middleware, services and a reload through `greeter`, when it is linked.
fn greeter_steps(host: &Host, metadata: &[(&str, &str)]) -> Vec<String> {
    #[cfg(feature = "greeter")]
    {
        let mut lines = Vec::new();
        match host.command::<greeter::Hello, greeter::Greeting>("greeter:hello") {
            Ok(hello) => {
                for name in ["patchpanel", "patchpanel"] {
                    lines.push(
                        match hello.call_with(greeter::Hello { name: name.to_owned() }, metadata) {
                            Ok(greeting) => format!(
                                "greeter:hello -> {:?} (greeting #{} for {name})",
                                greeting.message, greeting.count
                            ),
                            Err(error) => format!("greeter:hello failed: {error}"),
                        },
                    );
                }
                if let Err(error) = hello.call(greeter::Hello {
                    name: "mallory".to_owned(),
                }) {
                    lines.push(format!("greeter:hello without a token -> {error}"));
                }
            }
            Err(error) => lines.push(format!("greeter:hello unavailable: {error}")),
        }
        lines.push(stats(host, metadata));
        lines.push(match host.reload("greeter") {
            Ok(report) => match report.old_deactivate {
                Ok(()) => "greeter reloaded; its greeting count survives:".to_owned(),
                Err(failure) => format!("greeter reloaded, but its old instance failed to deactivate: {failure}"),
            },
            Err(error) => format!("greeter reload failed: {error}"),
        });
        lines.push(stats(host, metadata));
        lines
    }
    #[cfg(not(feature = "greeter"))]
    {
        let _ = (host, metadata);
        Vec::new()
    }
}

/// The trail `audit-trail` kept, asked for by message, when it is linked.
fn audit_trail_steps(host: &Host) -> Vec<String> {
    #[cfg(feature = "audit-trail")]
    {
        match host.request::<audit_trail::Records, Vec<String>>("audit-trail", audit_trail::Records) {
            Ok(records) => std::iter::once(format!("audit-trail holds {} records:", records.len()))
                .chain(records.into_iter().map(|record| format!("  {record}")))
                .collect(),
            Err(error) => vec![format!("audit-trail unavailable: {error}")],
        }
    }
    #[cfg(not(feature = "audit-trail"))]
    {
        let _ = host;
        Vec::new()
    }
}

#[cfg(feature = "greeter")]
fn stats(host: &Host, metadata: &[(&str, &str)]) -> String {
    match host.execute_with::<(), greeter::Stats>("greeter:stats", (), metadata) {
        Ok(stats) => format!(
            "greeter:stats -> {} greetings so far; kv-store holds {} keys",
            stats.greetings, stats.stored_keys
        ),
        Err(error) => format!("greeter:stats failed: {error}"),
    }
}

/// `exec`: runs any command through the JSON boundary.
pub fn exec(
    host: &Host,
    id: &str,
    request: serde_json::Value,
    token: Option<&str>,
) -> Result<serde_json::Value, patchpanel::commands::DispatchError> {
    match token {
        Some(token) => host.execute_json_with(id, request, &[("token", token)]),
        None => host.execute_json(id, request),
    }
}
