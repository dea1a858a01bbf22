//! Identity is a type, not an id string. Two attacks of 2026-12-06, reproduced:
//! - a type of another crate implements `Registered` by hand with the id of a real
//!   plugin (`audit-trail`) and applies `#[subscribe]` to it: its subscriber ran as
//!   audit-trail, with audit-trail's rights. Now a subscriber attaches only to the plugin
//!   whose registered type it names, and one whose type claims another plugin's id stops
//!   the start-up.
//! - a dependency registers `id = "kv-store"` at 1.99.0: it replaced the real kv-store
//!   even when the application named `kv_store::KvStore`, and inherited its grants and
//!   storage. Now the application's list binds the id to the type it named: the other
//!   type is set aside and reported, and refused in strict mode.
//!
//! Static subscribers are collected at link time for the whole binary, which is why these
//! tests have a test binary of their own.

use std::sync::atomic::{AtomicU64, Ordering};

use patchpanel::{
    Call, Context, Host, Plugin, PluginError, PluginSpec,
    host::{ForeignSubscriber, StartError},
    lifecycle::StateChanged,
    manifest::Scope,
    registry::{ExpectedPlugin, Registered, StaticManifest, StaticPermission},
};

/// How many times the impostor's code ran.
static FORGED: AtomicU64 = AtomicU64::new(0);

const fn manifest(id: &'static str, version: &'static str, permissions: &'static [StaticPermission]) -> StaticManifest {
    StaticManifest {
        id,
        name: "",
        version,
        description: "",
        min_host_version: None,
        required_features: &[],
        dependencies: &[],
        permissions,
        contributes: None,
        lazy: false,
        activation_deadline_ms: None,
        deprecated: None,
    }
}

/// Claims audit-trail's id with a hand-written registration.
#[derive(Default)]
pub struct Impostor;

impl Registered for Impostor {
    const MANIFEST: &'static StaticManifest = &manifest(
        "audit-trail",
        "0.1.0",
        &[StaticPermission {
            resource: "events",
            action: "subscribe",
            scope: Scope::All,
        }],
    );
}

impl patchpanel::permissions::EventsSubscribe for Impostor {}

#[patchpanel::subscribe(Impostor)]
fn forge(_: &Call<'_, Impostor>, _: &StateChanged) -> Result<(), PluginError> {
    FORGED.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

#[test]
fn a_subscriber_whose_type_claims_another_plugins_id_stops_the_start() {
    let error = Host::builder()
        .plugins(vec![PluginSpec::registered::<audit_trail::AuditTrail>().unwrap()])
        .build()
        .unwrap_err();
    let StartError::ForeignSubscriber { subscribers } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(
        subscribers,
        &[ForeignSubscriber {
            function: "identity::forge".into(),
            subscriber_type: "identity::Impostor".into(),
            id: "audit-trail".into(),
            plugin_type: "audit_trail::AuditTrail".into(),
        }]
    );
    assert_eq!(
        error.to_string(),
        "subscriber `identity::forge` belongs to `identity::Impostor`, which registers the id `audit-trail`, but plugin \
         `audit-trail` is `audit_trail::AuditTrail`; a subscriber runs only as the plugin type it names: attach it to \
         `audit_trail::AuditTrail`, or give `identity::Impostor` its own id"
    );
    assert_eq!(FORGED.load(Ordering::SeqCst), 0);
}

#[test]
fn a_subscriber_attaches_to_its_own_type_only() {
    // Without audit-trail, the impostor's subscriber attaches to nothing: kv-store starts,
    // lifecycle events flow, and the impostor's code never runs.
    let host = Host::builder()
        .plugins(vec![PluginSpec::registered::<kv_store::KvStore>().unwrap()])
        .build()
        .unwrap();
    host.disable("kv-store").unwrap();
    host.enable("kv-store").unwrap();
    assert_eq!(FORGED.load(Ordering::SeqCst), 0);
}

/// Registers kv-store's id, at a higher version than the real one.
#[derive(Default)]
pub struct Squatter;

impl Registered for Squatter {
    const MANIFEST: &'static StaticManifest = &manifest(
        "kv-store",
        "1.99.0",
        &[StaticPermission {
            resource: "storage",
            action: "read",
            scope: Scope::PluginOnly,
        }],
    );
}

impl Plugin for Squatter {
    fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
        FORGED.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

fn linked() -> Vec<PluginSpec> {
    vec![
        PluginSpec::registered::<Squatter>().unwrap(),
        PluginSpec::registered::<kv_store::KvStore>().unwrap(),
    ]
}

#[test]
fn the_applications_list_binds_each_id_to_the_type_it_named() {
    let host = Host::builder()
        .plugins(linked())
        .expect([ExpectedPlugin::of::<kv_store::KvStore>()])
        .grant(
            "kv-store",
            [
                "commands.register",
                "messaging.receive",
                "services.provide",
                "storage.read",
                "storage.write",
            ],
        )
        .build()
        .unwrap();
    // The named type runs under the id, at its own version; the squatter never ran.
    let plugin = host.plugin("kv-store").unwrap();
    assert_eq!(plugin.type_name(), "kv_store::KvStore");
    assert_eq!(
        plugin.manifest().version.to_string(),
        kv_store::KvStore::MANIFEST.version
    );
    assert_eq!(FORGED.load(Ordering::SeqCst), 0);
    let unexpected = host.unexpected_plugins();
    assert_eq!(unexpected.len(), 1);
    assert_eq!(
        (&*unexpected[0].id, &*unexpected[0].type_name),
        ("kv-store", "identity::Squatter")
    );
    assert_eq!(unexpected[0].claims.as_deref(), Some("kv_store::KvStore"));
    assert_eq!(
        unexpected[0].to_string(),
        "plugin `kv-store` (identity::Squatter, from crate `identity`), which registers the id of `kv_store::KvStore` \
         that the application named; it was set aside and `kv_store::KvStore` runs under `kv-store`"
    );
    drop(host);

    // Strict mode refuses it, naming both types.
    let error = Host::builder()
        .plugins(linked())
        .expect([ExpectedPlugin::of::<kv_store::KvStore>()])
        .strict(true)
        .build()
        .unwrap_err();
    assert!(matches!(&error, StartError::Unexpected { plugins } if plugins.len() == 1));
    assert!(
        error
            .to_string()
            .contains("plugin `kv-store` (identity::Squatter, from crate `identity`), which registers the id of `kv_store::KvStore`"),
        "{error}"
    );
    assert_eq!(FORGED.load(Ordering::SeqCst), 0);
}
