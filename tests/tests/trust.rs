//! Guards fail closed: the commands a guard protects are refused while the guard is
//! down, whether it is disabled, failed, or absent, and whether it declared itself
//! (`Context::guard`) or the application did (`HostBuilder::guarded_by`).

use patchpanel::{Host, PluginError, State, commands::DispatchErrorKind, lifecycle::Failure};
use patchpanel_tests::fixture::{interceptor, wired};

fn token_guard(fails: bool) -> patchpanel::PluginSpec {
    interceptor("guard", &[], move |context| {
        if fails {
            return Err(PluginError::new("no token configured"));
        }
        context.guard("vault:*", 10, |invocation, next| {
            if invocation.metadata("token") != Some("secret") {
                return Err(invocation.reject("guard: no token"));
            }
            next.run(invocation)
        })?;
        Ok(())
    })
}

fn vault() -> patchpanel::PluginSpec {
    wired("vault", &[], |context| {
        context.command("open", |_, (): ()| Ok("gold".to_owned()))?;
        Ok(())
    })
}

fn open(host: &Host, token: &str) -> Result<String, patchpanel::commands::DispatchError> {
    host.execute_with::<(), String>("vault:open", (), &[("token", token)])
}

#[test]
fn a_guard_middleware_of_a_disabled_plugin_rejects_instead_of_stepping_aside() {
    let host = Host::builder()
        .plugins(vec![token_guard(false), vault()])
        .build()
        .unwrap();
    assert_eq!(open(&host, "secret").unwrap(), "gold");
    assert_eq!(
        open(&host, "wrong").unwrap_err().to_string(),
        "command `vault:open` was rejected: guard: no token"
    );
    host.disable("guard").unwrap();
    let error = open(&host, "secret").unwrap_err();
    assert!(matches!(
        error.kind(),
        DispatchErrorKind::GuardDown { guard, state: Some(State::Disabled), failure: None, .. } if guard == "guard"
    ));
    assert_eq!(
        error.to_string(),
        "command `vault:open` was rejected: its guard, plugin `guard`, is disabled; the command cannot run unguarded"
    );
    host.enable("guard").unwrap();
    assert_eq!(open(&host, "secret").unwrap(), "gold");
}

#[test]
fn an_application_declared_guard_that_failed_to_start_rejects_its_commands() {
    let host = Host::builder()
        .plugins(vec![token_guard(true), vault()])
        .guarded_by("guard", "vault:*")
        .build()
        .unwrap();
    assert_eq!(
        host.failure("guard"),
        Some(Failure::Activate("no token configured".into()))
    );
    let error = host.command::<(), String>("vault:open").unwrap().call(()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "command `vault:open` was rejected: its guard, plugin `guard`, is failed (activate returned an error: no token configured); the command cannot run unguarded"
    );
}

#[test]
fn an_application_declared_guard_that_is_not_linked_rejects_its_commands() {
    let host = Host::builder()
        .plugins(vec![vault()])
        .guarded_by("guard", "*")
        .build()
        .unwrap();
    let error = host.execute::<(), String>("vault:open", ()).unwrap_err();
    assert!(matches!(
        error.kind(),
        DispatchErrorKind::GuardDown {
            state: None,
            failure: None,
            ..
        }
    ));
    assert_eq!(
        error.to_string(),
        "command `vault:open` was rejected: its guard, plugin `guard`, is not running in this host; the command cannot run unguarded"
    );
}

#[test]
fn a_guard_does_not_guard_its_own_commands_or_unmatched_ones() {
    let host = Host::builder()
        .plugins(vec![
            vault(),
            wired("other", &[], |context| {
                context.command("ping", |_, (): ()| Ok(1_u8))?;
                Ok(())
            }),
        ])
        .guarded_by("vault", "other:*")
        .build()
        .unwrap();
    assert_eq!(host.execute::<(), u8>("other:ping", ()).unwrap(), 1);
    host.disable("vault").unwrap();
    assert!(matches!(
        host.execute::<(), u8>("other:ping", ()).unwrap_err().kind(),
        DispatchErrorKind::GuardDown { .. }
    ));
}

// ---------------------------------------------------------------- app grants

fn reader() -> patchpanel::PluginSpec {
    let manifest = patchpanel::Manifest::builder("reader", "1.0.0")
        .permission("storage", "read", patchpanel::manifest::Scope::PluginOnly)
        .permission("events", "publish", patchpanel::manifest::Scope::PluginOnly)
        .build()
        .unwrap();
    patchpanel::testing::fn_plugin(manifest, |_| Ok(()))
}

#[test]
fn a_plugin_asking_for_more_than_it_is_granted_stops_the_start() {
    let error = Host::builder()
        .plugins(vec![reader()])
        .grant("reader", ["storage.read"])
        .build()
        .unwrap_err();
    assert!(matches!(
        &error,
        patchpanel::host::StartError::NotGranted { problems } if problems == &[patchpanel::host::GrantProblem::Ungranted {
            plugin: "reader".into(),
            permission: "events.publish".into(),
        }]
    ));
    assert_eq!(
        error.to_string(),
        "plugin `reader` asks for `events.publish`, which the application does not grant it; add \
         `.grant(\"reader\", [\"events.publish\"])` to the host builder, or remove it from the plugin's manifest"
    );
}

#[test]
fn grants_cover_the_manifest_or_name_a_permission() {
    let host = Host::builder()
        .plugins(vec![reader()])
        .grant("reader", ["storage.read", "events.publish"])
        .build()
        .unwrap();
    assert!(host.grants_enforced());
    drop(host);
    let error = Host::builder()
        .plugins(vec![reader()])
        .grant("reader", ["storage.read", "events.publish", "storage.erase"])
        .build()
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "the grant for plugin `reader` names `storage.erase`, which is not a permission; write `resource.action`, e.g. \
         `storage.read`, with `:all` or `:user-approved` for a wider scope than the plugin's own namespace"
    );
    // No grants: manifests are taken as they are, and the host says so.
    assert!(
        !Host::builder()
            .plugins(vec![reader()])
            .build()
            .unwrap()
            .grants_enforced()
    );
}

/// A grant carries a scope: `storage.read` admits the plugin's own namespace only, so a
/// manifest asking for `storage.read` at scope `all` needs `storage.read:all`. Before
/// 2026-12-06 a plain `storage.read` grant admitted `scope = "all"`.
#[test]
fn a_grant_without_a_scope_does_not_admit_a_wider_one() {
    let wide = || {
        let manifest = patchpanel::Manifest::builder("wide", "1.0.0")
            .permission("storage", "read", patchpanel::manifest::Scope::All)
            .build()
            .unwrap();
        patchpanel::testing::fn_plugin(manifest, |_| Ok(()))
    };
    let error = Host::builder()
        .plugins(vec![wide()])
        .grant("wide", ["storage.read"])
        .build()
        .unwrap_err();
    assert!(matches!(
        &error,
        patchpanel::host::StartError::NotGranted { problems } if problems == &[patchpanel::host::GrantProblem::NarrowScope {
            plugin: "wide".into(),
            permission: "storage.read".into(),
            asked: "all",
            granted: "plugin-only",
        }]
    ));
    assert_eq!(
        error.to_string(),
        "plugin `wide` asks for `storage.read` at scope `all`, which the application grants only at scope `plugin-only`; \
         grant `storage.read:all` (`.grant(\"wide\", [\"storage.read:all\"])`), or narrow the scope in the plugin's manifest"
    );
    // Nothing granted: the message names the scope to grant.
    let error = Host::builder()
        .plugins(vec![wide(), reader()])
        .grant("reader", ["storage.read", "events.publish"])
        .build()
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "plugin `wide` asks for `storage.read:all`, which the application does not grant it; add \
         `.grant(\"wide\", [\"storage.read:all\"])` to the host builder, or remove it from the plugin's manifest"
    );
    // `:user-approved` admits `user-approved` and `plugin-only`, not `all`; `:all` admits all.
    for (grant, starts) in [
        ("storage.read:all", true),
        ("storage.read:user-approved", false),
        ("storage.read:plugin-only", false),
    ] {
        let built = Host::builder().plugins(vec![wide()]).grant("wide", [grant]).build();
        assert_eq!(built.is_ok(), starts, "{grant}");
    }
    let error = Host::builder()
        .plugins(vec![wide()])
        .grant("wide", ["storage.read:everywhere"])
        .build()
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("names `storage.read:everywhere`, which is not a permission"),
        "{error}"
    );
}

/// A grant for an id that no linked plugin has is an error with a did-you-mean (before,
/// it was ignored, so a typo left the plugin it meant ungranted or the grant unused).
#[test]
fn a_grant_for_an_id_no_plugin_has_is_an_error_with_a_suggestion() {
    let error = Host::builder()
        .plugins(vec![reader()])
        .grant("reader", ["storage.read", "events.publish"])
        .grant("raeder", ["storage.read"])
        .grant("nobody-at-all", ["storage.read"])
        .build()
        .unwrap_err();
    let patchpanel::host::StartError::NotGranted { problems } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(
        problems,
        &[
            patchpanel::host::GrantProblem::UnknownPlugin {
                plugin: "nobody-at-all".into(),
                suggestion: None,
            },
            patchpanel::host::GrantProblem::UnknownPlugin {
                plugin: "raeder".into(),
                suggestion: Some("reader".into()),
            },
        ]
    );
    assert_eq!(
        problems[1].to_string(),
        "the application grants permissions to `raeder`, but no linked plugin has that id (did you mean `reader`?); \
         correct the id, or remove the grant"
    );
}

// ---------------------------------------------------------------- run-time checks

type Register = fn(&mut patchpanel::Context<'_, patchpanel::testing::FnPlugin>) -> Result<(), PluginError>;

#[test]
fn every_registration_is_checked_against_the_manifest_at_run_time_and_audited() {
    struct Event;
    trait Service: Send + Sync {}
    impl Service for u8 {}
    let cases: [(&str, &str, Register); 7] = [
        ("commands", "register", |c| Ok(c.command("x", |_, (): ()| Ok(()))?)),
        ("events", "subscribe", |c| {
            c.subscribe(|_, _: &Event| Ok(()));
            Ok(())
        }),
        ("commands", "intercept", |c| {
            Ok(c.middleware("bare:*", 0, |i, next| next.run(i))?)
        }),
        ("services", "provide", |c| {
            c.provide::<dyn Service>(std::sync::Arc::new(1_u8));
            Ok(())
        }),
        ("hooks", "declare", |c| {
            c.declare_hook::<u8, u8>("h").map(drop).map_err(PluginError::from)
        }),
        ("hooks", "implement", |c| {
            Ok(c.implement_hook("other:h", Default::default(), |_, _: &u8| Some(1_u8))?)
        }),
        ("messaging", "receive", |c| Ok(c.on_message(|_, n: u8| Ok(n))?)),
    ];
    for (resource, action, register) in cases {
        // A closure plugin holds every permission at compile time; its manifest, built
        // in code, declares none, and the run-time check refuses the registration.
        let bare = patchpanel::Manifest::builder("bare", "1.0.0").build().unwrap();
        let host = Host::builder()
            .plugins(vec![patchpanel::testing::fn_plugin(bare, register)])
            .build()
            .unwrap();
        assert_eq!(
            host.failure("bare"),
            Some(Failure::Activate(format!(
                "permission denied: plugin `bare` may not {resource}.{action} on `bare`: its manifest does not declare \
                 `{resource}.{action}`; add `{resource} = [\"{action}\"]` to its permissions"
            ))),
            "{resource}.{action}"
        );
        let denied = host
            .audit()
            .records_for("bare")
            .into_iter()
            .filter(|record| record.action == format!("{resource}.{action}"))
            .map(|record| record.decision)
            .collect::<Vec<_>>();
        assert_eq!(denied, [patchpanel::audit::Decision::Denied], "{resource}.{action}");
    }
    // Declared, the same registrations pass and are audited as allowed.
    let full = patchpanel::testing::with_every_permission(patchpanel::Manifest::builder("full", "1.0.0"))
        .build()
        .unwrap();
    let host = Host::builder()
        .plugins(vec![patchpanel::testing::fn_plugin(full, |c| {
            c.command("x", |_, (): ()| Ok(()))?;
            Ok(())
        })])
        .build()
        .unwrap();
    assert_eq!(host.state("full"), Some(State::Active));
    assert!(
        host.audit()
            .records_for("full")
            .iter()
            .any(|record| record.action == "commands.register"
                && record.decision == patchpanel::audit::Decision::Allowed)
    );
}

#[test]
fn publishing_sending_and_consuming_are_checked_at_run_time_when_used() {
    struct Ping;
    trait Clock: Send + Sync {}
    impl Clock for u8 {}
    // A closure plugin holds every permission at compile time; its manifest declares
    // only `commands.register`, so everything its handler tries is refused at run time.
    let narrow = patchpanel::Manifest::builder("narrow", "1.0.0")
        .permission("commands", "register", patchpanel::manifest::Scope::PluginOnly)
        .build()
        .unwrap();
    let host = Host::builder()
        .plugins(vec![
            wired("clock", &[], |context| {
                context.provide::<dyn Clock>(std::sync::Arc::new(1_u8));
                context.on_message(|_, n: u8| Ok(n))?;
                Ok(())
            }),
            patchpanel::testing::fn_plugin(narrow, |context| {
                context.command("try", |call, (): ()| {
                    let delivery = call.publish(&Ping);
                    let sent = call.request::<u8, u8>("clock", 1).unwrap_err().to_string();
                    let consumed = call.service::<dyn Clock>().unwrap_err().to_string();
                    Ok((delivery.denied, delivery.reached, sent, consumed))
                })?;
                Ok(())
            }),
        ])
        .build()
        .unwrap();
    let (denied, reached, sent, consumed) = host
        .execute::<(), (bool, usize, String, String)>("narrow:try", ())
        .unwrap();
    assert_eq!((denied, reached), (true, 0));
    assert_eq!(
        sent,
        "permission denied: plugin `narrow` may not messaging.send on `narrow`: its manifest does not declare \
         `messaging.send`; add `messaging = [\"send\"]` to its permissions"
    );
    assert_eq!(
        consumed,
        "permission denied: plugin `narrow` may not services.consume on `narrow`: its manifest does not declare \
         `services.consume`; add `services = [\"consume\"]` to its permissions"
    );
    let denials: Vec<String> = host
        .audit()
        .records_for("narrow")
        .into_iter()
        .filter(|record| record.decision == patchpanel::audit::Decision::Denied)
        .map(|record| record.action.to_string())
        .collect();
    assert_eq!(denials, ["events.publish", "messaging.send", "services.consume"]);
    let incident = host.incidents().pop().unwrap();
    assert_eq!(
        (incident.plugin.as_str(), incident.site.as_str()),
        (
            "narrow",
            "publish of trust::publishing_sending_and_consuming_are_checked_at_run_time_when_used::Ping"
        )
    );
}

#[test]
fn a_service_call_acts_with_the_providers_rights_on_behalf_of_the_consumer() {
    // greeter stores its counts through kv-store's KeyValue service: kv-store's code,
    // kv-store's storage permission, and the audit says for whom.
    let host = demo_app::start().unwrap();
    host.execute_with::<greeter::Hello, greeter::Greeting>(
        "greeter:hello",
        greeter::Hello { name: "ada".into() },
        &[("token", demo_app::TOKEN)],
    )
    .unwrap();
    let writes: Vec<String> = host
        .audit()
        .records_for("kv-store")
        .into_iter()
        .filter(|record| record.action == "storage.write")
        .map(|record| record.to_string())
        .collect();
    assert_eq!(
        writes,
        [
            // The count, written through the service, for greeter.
            "kv-store storage.write allowed: target `kv-store` (on behalf of `greeter`)",
            // `greeter/last`, written by kv-store's own inbox handling a message: for itself.
            "kv-store storage.write allowed: target `kv-store`",
        ]
    );
}

// ---------------------------------------------------------------- intercept scope

/// A plugin `snoop` declaring `commands.intercept` at `scope` whose middleware on
/// `pattern` answers every call it wraps with a forged value.
fn snoop(pattern: &'static str, scope: patchpanel::manifest::Scope) -> patchpanel::PluginSpec {
    let manifest = patchpanel::Manifest::builder("snoop", "1.0.0")
        .permission("commands", "register", scope)
        .permission("commands", "intercept", scope)
        .build()
        .unwrap();
    patchpanel::testing::fn_plugin(manifest, move |context| {
        context.command("own", |_, (): ()| Ok("snoop's own".to_owned()))?;
        context.middleware(pattern, 100, |invocation, _next| {
            invocation.respond("forged".to_owned());
            Ok(())
        })?;
        Ok(())
    })
}

/// The attack of 2026-12-06: a plugin declaring `commands.intercept` at the default
/// scope wrapped `*` and answered `vault:open` (standing in for `kv-store:get`) with a
/// forged value, audited as allowed. At `plugin-only` a pattern that can match another
/// plugin's commands now stops its activation, and the audit names the pattern.
#[test]
fn intercept_at_plugin_only_scope_wraps_only_the_plugins_own_commands() {
    use patchpanel::{audit::Decision, manifest::Scope};
    let cases = [
        ("*", "*"),
        ("vault:open", "vault"),
        ("vault:*", "vault:*"),
        ("v*", "v*"),
        // `snoop` is a prefix of `snoopy`'s ids: only `snoop:` is its own.
        ("snoop*", "snoop*"),
    ];
    for (pattern, target) in cases {
        let host = Host::builder()
            .plugins(vec![snoop(pattern, Scope::PluginOnly), vault()])
            .build()
            .unwrap();
        assert_eq!(
            host.failure("snoop"),
            Some(Failure::Activate(format!(
                "permission denied: plugin `snoop` may not commands.intercept on `{target}`: its manifest declares \
                 `commands.intercept` for its own namespace only; declare `commands = {{ intercept = true, scope = \"all\" }}` \
                 to reach other plugins"
            ))),
            "{pattern}"
        );
        assert_eq!(open(&host, "any").unwrap(), "gold", "{pattern}");
        let records = host.audit().records_for("snoop");
        let intercept = records.iter().find(|r| r.action == "commands.intercept").unwrap();
        assert_eq!(intercept.decision, Decision::Denied, "{pattern}");
        assert!(
            intercept
                .details
                .starts_with(&format!("target `{target}` (scope `plugin-only`): ")),
            "{pattern}: {}",
            intercept.details
        );
    }
    // Its own commands, at its own scope: allowed, and the middleware runs on them only.
    for pattern in ["snoop:own", "snoop:*"] {
        let host = Host::builder()
            .plugins(vec![snoop(pattern, Scope::PluginOnly), vault()])
            .build()
            .unwrap();
        assert_eq!(host.failure("snoop"), None, "{pattern}");
        assert_eq!(host.execute::<(), String>("snoop:own", ()).unwrap(), "forged");
        assert_eq!(open(&host, "any").unwrap(), "gold");
        let records = host.audit().records_for("snoop");
        let intercept = records.iter().find(|r| r.action == "commands.intercept").unwrap();
        assert_eq!(
            (intercept.decision, &*intercept.details),
            (Decision::Allowed, "target `snoop`")
        );
    }
    // At scope `all` it may wrap every command, and the audit says under which scope.
    let host = Host::builder()
        .plugins(vec![snoop("*", Scope::All), vault()])
        .build()
        .unwrap();
    assert_eq!(open(&host, "any").unwrap(), "forged");
    let records = host.audit().records_for("snoop");
    let intercept = records.iter().find(|r| r.action == "commands.intercept").unwrap();
    assert_eq!(
        (intercept.decision, &*intercept.details),
        (Decision::Allowed, "target `*` (scope `all`)")
    );
}
