//! Registry queries: by version (`plugin_matching`) and by capability
//! (`plugins_with_capability`, over capabilities derived from what each plugin
//! registered), including disabled, failed and lazy plugins.

use patchpanel::testing::{fn_plugin, with_every_permission};
use patchpanel::{Capability, Host, Manifest, PluginError, State};
use patchpanel_tests::fixture::wired;

fn host() -> Host {
    let lazy = fn_plugin(
        with_every_permission(Manifest::builder("sleepy", "2.0.0"))
            .contributes("commands", "wake")
            .lazy()
            .build()
            .unwrap(),
        |context| {
            context.command("wake", |_, (): ()| Ok(()))?;
            Ok(())
        },
    );
    Host::builder()
        .plugins(vec![
            wired("maths", &[], |context| {
                context.command("double", |_, n: u64| Ok(n * 2))?;
                context.declare_hook::<u8, u8>("tweak")?;
                Ok(())
            }),
            wired("echo", &[], |context| {
                context.command("say", |_, text: String| Ok(text))?;
                context.implement_hook("maths:tweak", patchpanel::hooks::HookOrder::default(), |_, n: &u8| {
                    Some(*n)
                })?;
                Ok(())
            }),
            wired("broken", &[], |context| {
                context.command("never", |_, (): ()| Ok(()))?;
                Err(PluginError::new("no database"))
            }),
            lazy,
        ])
        .build()
        .unwrap()
}

fn ids(plugins: Vec<patchpanel::host::PluginInfo<'_>>) -> Vec<String> {
    plugins.iter().map(|plugin| plugin.id().to_owned()).collect()
}

#[test]
fn capabilities_are_derived_from_registrations_and_found_by_name() {
    let host = host();
    assert_eq!(
        host.plugin("maths").unwrap().capabilities(),
        [
            Capability::new("command", "maths:double"),
            Capability::new("hook", "maths:tweak")
        ]
    );
    assert_eq!(ids(host.plugins_with_capability("maths:double")), ["maths"]);
    assert_eq!(
        ids(host.plugins_with_capability("maths:tweak")),
        ["echo", "maths"],
        "implemented and declared, in activation order"
    );
    // A lazy plugin that never ran offers what its manifest declares.
    assert_eq!(ids(host.plugins_with_capability("sleepy:wake")), ["sleepy"]);
    assert_eq!(host.plugin("sleepy").unwrap().state(), State::Resolved);
    // A failed plugin offers nothing: what it registered was never committed.
    assert!(host.plugins_with_capability("broken:never").is_empty());
    assert!(host.plugins_with_capability("nobody:nothing").is_empty());
    // A disabled plugin keeps its capabilities; the caller filters by state.
    host.disable("echo").unwrap();
    let found = host.plugins_with_capability("echo:say");
    assert_eq!(ids(found.clone()), ["echo"]);
    assert_eq!(found[0].state(), State::Disabled);
    let serving: Vec<_> = found
        .into_iter()
        .filter(|plugin| plugin.state() == State::Active)
        .collect();
    assert!(serving.is_empty());
}

#[test]
fn plugins_are_found_by_version_range_in_any_state() {
    let host = host();
    assert_eq!(
        host.plugin_matching("sleepy", "^2").map(|plugin| plugin.id()),
        Some("sleepy")
    );
    assert!(host.plugin_matching("sleepy", "^1").is_none());
    assert!(host.plugin_matching("sleepy", "not a range").is_none());
    assert!(host.plugin_matching("nobody", "*").is_none());
    let broken = host
        .plugin_matching("broken", ">=1.0.0")
        .expect("a failed plugin is found");
    assert_eq!(broken.state(), State::Failed);
}
