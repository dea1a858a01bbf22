//! The demo application's plugin set and its reports, kept in a library so that
//! integration tests link exactly the plugins the binary links.

use std::fmt::Write as _;

use plugboard::{Host, PluginInfo};

// Each plugin: one Cargo feature, one line here.
plugboard::link_plugins! {
    #[cfg(feature = "kv-store")] kv_store::KvStore,
    #[cfg(feature = "greeter")] greeter::Greeter,
    #[cfg(feature = "audit-trail")] audit_trail::AuditTrail,
}

/// Starts the host over every linked plugin, checking that each expected one is there.
pub fn start() -> Result<Host, plugboard::StartError> {
    Host::builder().expect(linked_plugins()).build()
}

/// The start-up report: one row per plugin in activation order.
pub fn report(host: &Host) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "plugboard {} ({} backend): {} plugins started in {:.3} ms",
        plugboard::manifest::HOST_VERSION,
        plugboard::registry::BACKEND,
        host.plugins().len(),
        host.startup_duration().as_secs_f64() * 1000.0
    );
    let id_width = host
        .plugins()
        .map(|p| p.id().len())
        .max()
        .unwrap_or(2)
        .max(2);
    let _ = writeln!(
        out,
        "  {:>2}  {:<id_width$}  {:<8}  {:<8}  depends on",
        "#", "id", "version", "state"
    );
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

/// `list`: one plugin per line, in activation order.
pub fn list(host: &Host) -> String {
    host.plugins()
        .map(|p| format!("{} {} {}\n", p.id(), p.manifest().version, p.state()))
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
        "state": plugin.state().state().as_str(),
        "order": plugin.order(),
        "dependencies": plugin.dependencies(),
        "absentOptional": plugin.absent_optional(),
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
pub fn inspect(host: &Host, id: &str) -> Option<String> {
    let plugin = host.plugin(id)?;
    let manifest = plugin.manifest();
    let mut out = String::new();
    let _ = writeln!(out, "id:               {}", manifest.id);
    let _ = writeln!(out, "name:             {}", manifest.name);
    let _ = writeln!(out, "version:          {}", manifest.version);
    let _ = writeln!(out, "description:      {}", manifest.description);
    let _ = writeln!(out, "type:             {}", plugin.type_name());
    let _ = writeln!(out, "state:            {}", plugin.state());
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
        let _ = writeln!(
            out,
            "  {} {}{optional}{presence})",
            dependency.id, dependency.req
        );
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
    let capabilities = plugin.capabilities();
    let _ = writeln!(
        out,
        "capabilities:     {}",
        join_or_dash(
            capabilities
                .iter()
                .map(|c| format!("{} {}", c.kind, c.name))
        )
    );
    Some(out)
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
pub fn scenario(host: &Host) -> Vec<String> {
    let mut lines = Vec::new();
    #[cfg(feature = "kv-store")]
    if let Some(stored) = host.with_plugin(|store: &mut kv_store::KvStore| {
        store.put("motd", "plugins are ordinary crates");
        store.get("motd").map(str::to_owned)
    }) {
        lines.push(format!("kv-store: motd = {:?}", stored.unwrap_or_default()));
    }
    #[cfg(feature = "greeter")]
    {
        if let Some(greeting) =
            host.with_plugin(|greeter: &mut greeter::Greeter| greeter.greet("plugboard"))
        {
            lines.push(format!("greeter: {greeting}"));
        }
        match host.reload("greeter") {
            Ok(()) => {
                let count = host
                    .with_plugin(|greeter: &mut greeter::Greeter| greeter.greeted())
                    .unwrap_or(0);
                lines.push(format!(
                    "greeter: reloaded, state kept ({count} greeting so far)"
                ));
            }
            Err(error) => lines.push(format!("greeter: reload failed: {error}")),
        }
    }
    #[cfg(feature = "audit-trail")]
    if let Some(records) =
        host.with_plugin(|trail: &mut audit_trail::AuditTrail| trail.records().to_vec())
    {
        lines.push(format!("audit-trail: {}", records.join("; ")));
    }
    let _ = host;
    lines
}
