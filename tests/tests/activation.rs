//! Activation: static contributions (declared in the manifest, checked at activation).

use std::sync::Arc;

use patchpanel::testing::{fn_plugin, with_every_permission};
use patchpanel::{Contributions, Failure, Host, Manifest, PluginSpec, Registered, State};
use patchpanel_manifest::{Defaults, KeyStyle, parse_cargo_toml, parse_json, validate};

#[derive(Clone, Debug)]
struct Tick;

trait Clock: Send + Sync {
    fn now(&self) -> u64;
}

struct Fixed;

impl Clock for Fixed {
    fn now(&self) -> u64 {
        7
    }
}

fn declared(manifest: patchpanel::ManifestBuilder) -> Manifest {
    with_every_permission(manifest).build().unwrap()
}

/// A plugin that registers one command `run`, a subscription to `Tick`, hook `every`
/// and the service `dyn Clock`.
fn registering(manifest: Manifest) -> PluginSpec {
    fn_plugin(manifest, |context| {
        context.command("run", |_, (): ()| Ok(()))?;
        context.subscribe(|_, _: &Tick| Ok(()));
        context.declare_hook::<(), ()>("every")?;
        context.provide::<dyn Clock>(Arc::new(Fixed));
        Ok(())
    })
}

fn start(spec: PluginSpec) -> Host {
    Host::builder().plugins(vec![spec]).build().unwrap()
}

#[test]
fn a_plugin_that_registers_what_it_declares_activates() {
    let manifest = declared(
        Manifest::builder("timer", "1.0.0")
            .contributes("commands", "run")
            .contributes("subscribes", "activation::Tick")
            .contributes("hooks", "every")
            .contributes("services", "dyn activation::Clock")
            .contributes("publishes", "activation::Tick"),
    );
    let host = start(registering(manifest));
    assert_eq!(host.state("timer"), Some(State::Active));
    assert_eq!(host.service::<dyn Clock>().unwrap().with(|clock| clock.now()), Ok(7));
}

#[test]
fn a_mismatch_fails_the_plugin_naming_each_difference() {
    let manifest = declared(
        Manifest::builder("timer", "1.0.0")
            .contributes("commands", "run")
            .contributes("commands", "stop")
            .contributes("services", "dyn activation::Clock"),
    );
    let host = start(registering(manifest));
    let failure = host.failure("timer").unwrap();
    assert_eq!(
        failure,
        Failure::Contributions {
            undeclared: vec!["subscription to `activation::Tick`".into(), "hook `every`".into()],
            unregistered: vec!["command `stop`".into()],
        }
    );
    assert_eq!(
        failure.to_string(),
        "what it registered differs from the `contributes` of its manifest: registered but not declared: \
         subscription to `activation::Tick`, hook `every`; declared but not registered: command `stop`; make the two match"
    );
    assert_eq!(host.command_ids(), Vec::<String>::new(), "nothing of it is wired");
}

#[test]
fn an_empty_contributes_allows_no_registration_and_none_means_unchecked() {
    let host = start(registering(declared(
        Manifest::builder("timer", "1.0.0").contributes_nothing(),
    )));
    assert!(matches!(host.failure("timer"), Some(Failure::Contributions { .. })));
    let host = start(registering(declared(Manifest::builder("timer", "1.0.0"))));
    assert_eq!(
        host.state("timer"),
        Some(State::Active),
        "no `contributes`: not checked"
    );
}

fn expected_greeter() -> Contributions {
    Contributions {
        commands: vec!["hello".into(), "stats".into()],
        publishes: vec!["greeter::Greeted".into()],
        subscribes: vec![],
        hooks: vec!["decorate".into()],
        services: vec![],
    }
}

/// The demo plugins declare theirs in the three sources: inline (greeter), Cargo.toml
/// (kv-store) and plugin.json (audit-trail).
#[test]
fn the_three_manifest_sources_carry_contributions() {
    let greeter = greeter::Greeter::MANIFEST.to_manifest().unwrap();
    assert_eq!(greeter.contributes, Some(expected_greeter()));
    let kv = kv_store::KvStore::MANIFEST.to_manifest().unwrap();
    assert_eq!(kv.contributes.as_ref().unwrap().commands, ["get", "increment", "put"]);
    assert_eq!(kv.contributes.as_ref().unwrap().services, ["dyn kv_store::KeyValue"]);
    let audit = audit_trail::AuditTrail::MANIFEST.to_manifest().unwrap();
    assert_eq!(
        audit.contributes.as_ref().unwrap().subscribes,
        ["patchpanel::lifecycle::Reloaded", "patchpanel::lifecycle::StateChanged"]
    );

    let json = r#"{ "id": "greeter", "version": "1.0.0",
        "permissions": { "commands": ["register"], "events": ["publish"], "hooks": ["declare"] },
        "contributes": { "commands": ["stats", "hello"], "publishes": ["greeter::Greeted"], "hooks": ["decorate"] } }"#;
    let from_json = validate(&parse_json(json).unwrap(), KeyStyle::Camel, &Defaults::default()).unwrap();
    assert_eq!(from_json.contributes, Some(expected_greeter()));
    let toml = "[package]\nname = \"greeter\"\n\n[package.metadata.plugin]\nid = \"greeter\"\nversion = \"1.0.0\"\n\
                [package.metadata.plugin.permissions]\ncommands = [\"register\"]\nevents = [\"publish\"]\nhooks = [\"declare\"]\n\
                [package.metadata.plugin.contributes]\ncommands = [\"hello\", \"stats\"]\npublishes = [\"greeter::Greeted\"]\nhooks = [\"decorate\"]\n";
    let from_toml = validate(
        &parse_cargo_toml(toml).unwrap().unwrap(),
        KeyStyle::Kebab,
        &Defaults::default(),
    )
    .unwrap();
    assert_eq!(from_toml.contributes, Some(expected_greeter()));
}

#[test]
fn the_demo_plugins_register_what_they_declare() {
    let host = Host::builder()
        .plugins(vec![
            PluginSpec::registered::<kv_store::KvStore>().unwrap(),
            PluginSpec::registered::<greeter::Greeter>().unwrap(),
            PluginSpec::registered::<audit_trail::AuditTrail>().unwrap(),
        ])
        .build()
        .unwrap();
    for id in ["kv-store", "greeter", "audit-trail"] {
        assert_eq!(host.state(id), Some(State::Active), "{id}: {:?}", host.failure(id));
    }
}
