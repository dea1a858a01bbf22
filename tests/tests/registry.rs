//! The link-time registry, seen through the demo application's plugin set.

// The demo app names its plugin crates in `link_plugins!`; referencing it links them.
use demo_app as _;

use patchpanel::{
    Host, State,
    host::StartError,
    registry::{ExpectedPlugin, Registered, registry_entries},
    resolve::ResolveError,
};

#[test]
fn every_linked_plugin_is_registered_once() {
    let mut ids: Vec<&str> = registry_entries().map(|entry| entry.manifest().id).collect();
    ids.sort();
    assert_eq!(ids, ["audit-trail", "auth-guard", "greeter", "kv-store", "motd"]);
}

#[test]
fn the_demo_host_starts_in_dependency_order() {
    let host = demo_app::start().unwrap();
    assert_eq!(
        host.order(),
        ["audit-trail", "auth-guard", "kv-store", "greeter", "motd"]
    );
    // motd is lazy: resolved until its first use.
    assert!(host.plugins().all(|p| p.state()
        == if p.id() == "motd" {
            State::Resolved
        } else {
            State::Active
        }));
    assert_eq!(
        host.plugin("greeter").unwrap().dependencies(),
        ["audit-trail", "kv-store"]
    );
}

/// `link_plugins!` computed the activation order while the demo compiled, and start-up
/// takes it as it is; the same plugins expected without that order are resolved at run
/// time, and the two orders are the same.
#[test]
fn the_order_link_plugins_checked_is_the_order_start_up_computes() {
    let linked = demo_app::linked_plugins();
    let unranked: Vec<ExpectedPlugin> = linked
        .iter()
        .map(|expected| ExpectedPlugin::new(expected.id, expected.type_name, expected.type_id))
        .collect();
    let from_link_time = Host::builder().expect(linked).trust_linked_plugins().build().unwrap();
    let from_run_time = Host::builder().expect(unranked).trust_linked_plugins().build().unwrap();
    assert_eq!(from_link_time.order(), from_run_time.order());
    assert_eq!(
        from_link_time.order(),
        ["audit-trail", "auth-guard", "kv-store", "greeter", "motd"]
    );
    for plugin in from_run_time.plugins() {
        assert_eq!(
            from_link_time.plugin(plugin.id()).unwrap().dependencies(),
            plugin.dependencies(),
            "{}",
            plugin.id()
        );
    }
}

#[test]
fn linked_plugins_names_each_enabled_plugin() {
    let mut expected: Vec<&str> = demo_app::linked_plugins().iter().map(|p| p.id).collect();
    expected.sort();
    assert_eq!(expected, ["audit-trail", "auth-guard", "greeter", "kv-store", "motd"]);
    assert_eq!(ExpectedPlugin::of::<greeter::Greeter>().type_name, "greeter::Greeter");
}

#[test]
fn an_expected_plugin_missing_from_the_registry_is_reported() {
    struct Ghost;
    let ghost = ExpectedPlugin::new("ghost", "ghost::Ghost", std::any::TypeId::of::<Ghost>());
    let error = Host::builder().expect([ghost]).build().unwrap_err();
    let StartError::Resolve(errors) = &error else {
        panic!("{error}")
    };
    assert_eq!(
        errors.errors(),
        [ResolveError::NotRegistered {
            id: "ghost".into(),
            type_name: "ghost::Ghost".into()
        }]
    );
    assert_eq!(
        error.to_string(),
        "plugin `ghost` (ghost::Ghost) is expected by `link_plugins!` but is not in the registry; check that its \
         crate is enabled and that `#[register_plugin]` is on `ghost::Ghost`"
    );
}

#[test]
fn cargo_toml_manifest_takes_version_and_description_from_the_package() {
    let manifest = kv_store::KvStore::MANIFEST;
    assert_eq!(
        (manifest.id, manifest.name, manifest.version),
        ("kv-store", "Key-value store", "1.2.0")
    );
    assert_eq!(manifest.description, "A key-value store other plugins build on");
    assert_eq!(manifest.min_host_version, Some("0.1.0"));
    let permissions: Vec<String> = manifest
        .permissions
        .iter()
        .map(|p| format!("{}.{}", p.resource, p.action))
        .collect();
    assert_eq!(
        permissions,
        [
            "commands.register",
            "messaging.receive",
            "services.provide",
            "storage.read",
            "storage.write"
        ]
    );
}

#[test]
fn inline_manifest_keeps_optional_dependencies() {
    let manifest = greeter::Greeter::MANIFEST;
    let dependencies: Vec<(&str, &str, bool)> = manifest
        .dependencies
        .iter()
        .map(|d| (d.id, d.req, d.optional))
        .collect();
    assert_eq!(
        dependencies,
        [("audit-trail", "^0.1", true), ("kv-store", "^1.0", false)]
    );
    assert_eq!(manifest.version, "0.3.0");
    assert_eq!(
        manifest.required_features,
        ["commands", "events", "hooks", "messaging", "services"]
    );
}

#[test]
fn json_manifest_carries_scopes() {
    let manifest = audit_trail::AuditTrail::MANIFEST.to_manifest().unwrap();
    assert_eq!(manifest.id, "audit-trail");
    let permissions: Vec<String> = manifest.permissions.iter().map(ToString::to_string).collect();
    assert_eq!(
        permissions,
        [
            "commands.intercept (all)",
            "events.subscribe (all)",
            "hooks.implement",
            "messaging.receive",
            "messaging.send"
        ]
    );
}

#[test]
fn the_backend_is_the_one_ci_asked_for() {
    // `.ci/run` sets PATCHPANEL_EXPECT_BACKEND for each backend pass, so a pass that
    // silently ran on the other backend fails here.
    if let Some(expected) = option_env!("PATCHPANEL_EXPECT_BACKEND") {
        assert_eq!(patchpanel::registry::BACKEND, expected);
    }
    assert!(registry_entries().count() >= 4);
}

#[test]
fn static_subscribers_are_collected_and_wired_to_their_plugin() {
    let mut subscribers: Vec<(&str, &str)> = patchpanel::registry::static_subscribers()
        .map(|s| (s.plugin(), s.function()))
        .collect();
    subscribers.sort_unstable();
    assert_eq!(
        subscribers,
        [
            ("audit-trail", "audit_trail::on_reloaded"),
            ("audit-trail", "audit_trail::on_state_changed")
        ]
    );

    let host = demo_app::start().unwrap();
    host.disable("greeter").unwrap();
    host.enable("greeter").unwrap();
    let records: Vec<String> = host.request("audit-trail", audit_trail::Records).unwrap();
    assert_eq!(records, ["greeter: active -> disabled", "greeter: disabled -> active"]);
}

#[test]
fn plugins_present_but_not_expected_are_reported_and_refused_in_strict_mode() {
    // This binary links all five demo plugins (through demo-app); the application here
    // names only kv-store.
    let expected = [ExpectedPlugin::of::<kv_store::KvStore>()];
    let host = Host::builder().expect(expected).trust_linked_plugins().build().unwrap();
    let unexpected: Vec<String> = host.unexpected_plugins().iter().map(ToString::to_string).collect();
    assert_eq!(
        unexpected,
        [
            "plugin `audit-trail` (audit_trail::AuditTrail, from crate `audit_trail`)",
            "plugin `auth-guard` (auth_guard::AuthGuard, from crate `auth_guard`)",
            "plugin `greeter` (greeter::Greeter, from crate `greeter`)",
            "plugin `motd` (motd::Motd, from crate `motd`)",
        ]
    );
    drop(host);
    let error = Host::builder()
        .expect(expected)
        .trust_linked_plugins()
        .strict(true)
        .build()
        .unwrap_err();
    assert!(matches!(&error, StartError::Unexpected { plugins } if plugins.len() == 4));
    assert_eq!(
        error.to_string(),
        "strict mode: plugins are present in the registry but not expected: plugin `audit-trail` \
         (audit_trail::AuditTrail, from crate `audit_trail`), plugin `auth-guard` (auth_guard::AuthGuard, from \
         crate `auth_guard`), plugin `greeter` (greeter::Greeter, from crate `greeter`), plugin `motd` (motd::Motd, \
         from crate `motd`); name each in \
         `link_plugins!` (or `HostBuilder::expect`), or stop linking the crate that brings it in"
    );
    // Naming every linked plugin reports nothing.
    assert!(demo_app::start().unwrap().unexpected_plugins().is_empty());
}

/// Grants fail closed for plugins taken from the link-time registry: with no grants
/// stated, the start fails and says how to state them, unless the application says it
/// trusts every linked plugin, which is audited and reported. Before 2026-12-06 such a
/// host ran every linked plugin with everything its manifest asked for, scope `all`
/// included, and nothing warned.
#[test]
fn a_host_from_the_registry_needs_grants_or_an_explicit_trust() {
    let error = Host::builder().build().unwrap_err();
    let StartError::NoGrants { plugins } = &error else {
        panic!("{error:?}")
    };
    let mut ids = plugins.clone();
    ids.sort();
    assert_eq!(ids, ["audit-trail", "auth-guard", "greeter", "kv-store", "motd"]);
    assert_eq!(
        error.to_string(),
        format!(
            "no grants are stated for the 5 linked plugins that ask for permissions ({}): any linked crate can register a plugin, so state \
             what each may hold: in `link_plugins!` (`kv_store::KvStore => [\"storage.read\"]`, then \
             `HostBuilder::grants(linked_grants())`), with `HostBuilder::grant`, or in a `[grants]` table; or call \
             `HostBuilder::trust_linked_plugins()` to run each with what its manifest asks for",
            plugins.join(", ")
        )
    );
    let host = Host::builder().trust_linked_plugins().build().unwrap();
    assert!(host.trusts_linked_plugins() && !host.grants_enforced());
    let records = host.audit().records_for("host");
    let trust = records.iter().find(|r| r.action == "grants").unwrap();
    assert_eq!(
        &*trust.details,
        "trust_linked_plugins: no grants stated; 5 plugins run with what their manifests ask for"
    );
    drop(host);
    // Stated grants take precedence over the trust, and an explicit list needs neither.
    let host = Host::builder()
        .expect(demo_app::linked_plugins())
        .grants(demo_app::linked_grants())
        .trust_linked_plugins()
        .build()
        .unwrap();
    assert!(host.grants_enforced() && !host.trusts_linked_plugins());
    drop(host);
    let explicit = Host::builder()
        .plugins(vec![patchpanel::PluginSpec::registered::<kv_store::KvStore>().unwrap()])
        .build()
        .unwrap();
    assert!(!explicit.grants_enforced() && !explicit.trusts_linked_plugins());
}

#[test]
fn grants_stated_in_link_plugins_are_enforced() {
    let grants = demo_app::linked_grants();
    let ids: Vec<&str> = grants.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, ["kv-store", "greeter", "audit-trail", "auth-guard", "motd"]);
    assert!(demo_app::start().unwrap().grants_enforced());
    // Take events.publish away from greeter: the host refuses to start.
    let narrowed = grants.into_iter().map(|(id, permissions)| {
        let kept: Vec<&str> = permissions
            .into_iter()
            .filter(|permission| !(id == "greeter" && *permission == "events.publish"))
            .collect();
        (id, kept)
    });
    let error = Host::builder()
        .expect(demo_app::linked_plugins())
        .grants(narrowed)
        .build()
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "plugin `greeter` asks for `events.publish`, which the application does not grant it; add \
         `.grant(\"greeter\", [\"events.publish\"])` to the host builder, or remove it from the plugin's manifest"
    );
}
