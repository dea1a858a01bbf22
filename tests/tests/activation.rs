//! Activation: static contributions (declared in the manifest, checked at activation).

use std::sync::Arc;

use patchpanel::testing::{fn_plugin, with_every_permission};
use patchpanel::{
    Host, Manifest, PluginSpec, State, lifecycle::Failure, manifest::Contributions, registry::Registered,
};
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

fn declared(manifest: patchpanel::manifest::ManifestBuilder) -> Manifest {
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
    assert_eq!(
        greeter.contributes,
        Some(Contributions {
            services: vec!["dyn patchpanel_web::WebRoutes".into()],
            ..expected_greeter()
        })
    );
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

// ------------------------------------------------------------------ lazy activation

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use patchpanel::{commands::DispatchErrorKind, lifecycle::LifecycleError, services::ServiceError};

/// A lazy plugin `id` that counts its activations in `count`, logs them in `log`, and
/// registers command `run` (answering its id), a subscription to `Tick` and `dyn Clock`.
fn lazy(id: &str, dependencies: &[&str], count: &Arc<AtomicU64>, log: &Arc<Mutex<Vec<String>>>) -> PluginSpec {
    let mut manifest = Manifest::builder(id, "1.0.0")
        .contributes("commands", "run")
        .contributes("subscribes", "activation::Tick")
        .lazy();
    for dependency in dependencies {
        manifest = manifest.depends_on(dependency, "^1");
    }
    let (count, log, me) = (count.clone(), log.clone(), id.to_owned());
    fn_plugin(declared(manifest), move |context| {
        count.fetch_add(1, Ordering::SeqCst);
        log.lock().unwrap().push(format!("{me} activates"));
        let answer = me.clone();
        context.command("run", move |_, (): ()| Ok(answer.clone()))?;
        context.subscribe(|_, _: &Tick| Ok(()));
        // Give racing threads time to pile up behind the one activation.
        std::thread::sleep(std::time::Duration::from_millis(5));
        Ok(())
    })
}

fn counters() -> (Arc<AtomicU64>, Arc<Mutex<Vec<String>>>) {
    (Arc::new(AtomicU64::new(0)), Arc::new(Mutex::new(Vec::new())))
}

#[test]
fn a_lazy_plugin_waits_for_its_first_command() {
    let (count, log) = counters();
    let host = start(lazy("reports", &[], &count, &log));
    assert_eq!(host.state("reports"), Some(State::Resolved));
    assert_eq!(count.load(Ordering::SeqCst), 0);
    assert_eq!(host.execute::<(), String>("reports:run", ()).unwrap(), "reports");
    assert_eq!(host.state("reports"), Some(State::Active));
    assert_eq!(host.execute::<(), String>("reports:run", ()).unwrap(), "reports");
    assert_eq!(count.load(Ordering::SeqCst), 1);
    // A command it does not declare does not wake it.
    let (count, log) = counters();
    let host = start(lazy("reports", &[], &count, &log));
    let error = host.execute::<(), String>("reports:rnu", ()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "unknown command `reports:rnu`; did you mean `reports:run`?"
    );
    assert!(matches!(error.kind(), DispatchErrorKind::UnknownCommand { .. }));
    assert_eq!(count.load(Ordering::SeqCst), 0);
}

#[test]
fn a_publish_wakes_lazy_subscribers_and_reaches_them() {
    let (count, log) = counters();
    let host = start(lazy("listener", &[], &count, &log));
    let channel = host.channel::<Tick>();
    assert_eq!(channel.publish(&Tick).reached, 1, "woken, then delivered to");
    assert_eq!(host.publish(&Tick).reached, 1);
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[test]
fn a_service_lookup_wakes_its_lazy_provider() {
    let count = Arc::new(AtomicU64::new(0));
    let counted = count.clone();
    let manifest = declared(
        Manifest::builder("clock", "1.0.0")
            .contributes("services", "dyn activation::Clock")
            .lazy(),
    );
    let host = start(fn_plugin(manifest, move |context| {
        counted.fetch_add(1, Ordering::SeqCst);
        context.provide::<dyn Clock>(Arc::new(Fixed));
        Ok(())
    }));
    assert_eq!(host.state("clock"), Some(State::Resolved));
    let clock = host.service::<dyn Clock>().unwrap();
    assert_eq!(clock.with(|c| c.now()), Ok(7));
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[test]
fn dependencies_activate_first_and_eager_dependents_start_their_lazy_dependencies() {
    let (count, log) = counters();
    let host = Host::builder()
        .plugins(vec![
            lazy("base", &[], &count, &log),
            lazy("top", &["base"], &count, &log),
        ])
        .build()
        .unwrap();
    host.activate("top").unwrap();
    assert_eq!(*log.lock().unwrap(), ["base activates", "top activates"]);

    let (count, log) = counters();
    let eager = fn_plugin(
        declared(Manifest::builder("app", "1.0.0").depends_on("base", "^1")),
        |_| Ok(()),
    );
    let host = Host::builder()
        .plugins(vec![lazy("base", &[], &count, &log), eager])
        .build()
        .unwrap();
    assert_eq!(
        host.state("base"),
        Some(State::Active),
        "an eager dependent needs it at start-up"
    );
}

/// Exactly once under a race: 8 threads make their first call at the same moment; one
/// activation runs, the others wait for it, and every call is answered.
#[test]
fn racing_first_uses_share_one_activation() {
    for _ in 0..20 {
        let (count, log) = counters();
        let host = start(lazy("racy", &[], &count, &log));
        let barrier = std::sync::Barrier::new(8);
        std::thread::scope(|scope| {
            let calls: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| {
                        barrier.wait();
                        host.execute::<(), String>("racy:run", ())
                    })
                })
                .collect();
            for call in calls {
                assert_eq!(call.join().unwrap().unwrap(), "racy");
            }
        });
        assert_eq!(count.load(Ordering::SeqCst), 1, "activated exactly once");
    }
}

#[test]
fn a_failed_lazy_activation_is_typed_and_final() {
    let count = Arc::new(AtomicU64::new(0));
    let counted = count.clone();
    let manifest = declared(
        Manifest::builder("broken", "1.0.0")
            .contributes("commands", "run")
            .lazy(),
    );
    let host = start(fn_plugin(manifest, move |context| {
        counted.fetch_add(1, Ordering::SeqCst);
        context.command("run", |_, (): ()| Ok(()))?;
        Err(patchpanel::PluginError::new("the disk is gone"))
    }));
    for _ in 0..3 {
        let error = host.execute::<(), ()>("broken:run", ()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "command `broken:run` is unavailable: plugin `broken` is failed: activate returned an error: the disk is gone"
        );
    }
    assert_eq!(count.load(Ordering::SeqCst), 1, "no retry");
    assert_eq!(
        host.activate("broken"),
        Err(LifecycleError::Failed {
            plugin: "broken".into(),
            failure: Failure::Activate("the disk is gone".into()),
        })
    );
    assert_eq!(
        host.failure("broken"),
        Some(Failure::Activate("the disk is gone".into()))
    );
}

#[test]
fn a_lazy_provider_that_fails_is_a_typed_lookup_error() {
    let manifest = declared(
        Manifest::builder("clock", "1.0.0")
            .contributes("services", "dyn activation::Clock")
            .lazy(),
    );
    let host = start(fn_plugin(manifest, |_| Err(patchpanel::PluginError::new("no time"))));
    assert_eq!(
        host.service::<dyn Clock>().unwrap_err(),
        ServiceError::ProviderFailed {
            service: "dyn activation::Clock",
            provider: "clock".into(),
            failure: "activate returned an error: no time".into(),
        }
    );
}

/// A plugin's handler may be the first user of a lazy plugin: the activation runs inside
/// that call, and a plugin that uses itself while it activates gets an error, not a hang.
#[test]
fn first_use_from_inside_a_call_works_and_self_use_is_refused() {
    let (count, log) = counters();
    let caller = fn_plugin(
        declared(Manifest::builder("caller", "1.0.0").permission(
            "commands",
            "execute",
            patchpanel::manifest::Scope::All,
        )),
        |context| {
            context.command("go", |call, (): ()| Ok(call.execute::<(), String>("callee:run", ())?))?;
            Ok(())
        },
    );
    let host = Host::builder()
        .plugins(vec![lazy("callee", &[], &count, &log), caller])
        .build()
        .unwrap();
    assert_eq!(host.execute::<(), String>("caller:go", ()).unwrap(), "callee");

    // A lazy plugin that looks up its own service while it activates.
    let manifest = declared(
        Manifest::builder("ouroboros", "1.0.0")
            .contributes("services", "dyn activation::Clock")
            .lazy(),
    );
    let host = start(fn_plugin(manifest, |context| {
        context.provide::<dyn Clock>(Arc::new(Fixed));
        context.service::<dyn Clock>()?;
        Ok(())
    }));
    let error = host.activate("ouroboros").unwrap_err();
    assert_eq!(
        error.to_string(),
        "plugin `ouroboros` failed: activate returned an error: service `dyn activation::Clock` was not looked up: \
         its provider, plugin `ouroboros`, could not activate: activate returned an error: plugin `ouroboros` was used \
         while it was activating, on the same thread (its own activate, or a dependency's, uses it)"
    );
}

#[test]
fn a_dormant_plugin_is_not_reloaded_or_deactivated_and_disabling_activates_it_first() {
    let (count, log) = counters();
    let host = start(lazy("idle", &[], &count, &log));
    assert!(matches!(
        host.reload("idle"),
        Err(LifecycleError::InvalidTransition { .. })
    ));
    assert!(host.shutdown().deactivated.is_empty());
    assert_eq!(count.load(Ordering::SeqCst), 0, "never used, never activated");
    // A disable is kept across restarts, so a dormant plugin gets an instance to disable.
    let (count, log) = counters();
    let host = start(lazy("idle", &[], &count, &log));
    host.disable("idle").unwrap();
    assert_eq!(host.state("idle"), Some(State::Disabled));
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

/// A lazy plugin whose dependency the operator disabled does not wake, and is not
/// failed for it: it wakes once the dependency is enabled again.
#[test]
fn a_lazy_plugin_waits_for_a_disabled_dependency() {
    let (count, log) = counters();
    let base = fn_plugin(declared(Manifest::builder("base", "1.0.0")), |_| Ok(()));
    let host = Host::builder()
        .plugins(vec![base, lazy("top", &["base"], &count, &log)])
        .build()
        .unwrap();
    host.disable("base").unwrap();
    let error = host.execute::<(), String>("top:run", ()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "command `top:run` is unavailable: plugin `top` is resolved: activate returned an error: its dependency `base` is disabled; enable it first"
    );
    assert_eq!(host.state("top"), Some(State::Resolved));
    host.enable("base").unwrap();
    assert_eq!(host.execute::<(), String>("top:run", ()).unwrap(), "top");
}

// ------------------------------------------------------------ parallel start-up, deadlines

use std::time::Duration;

/// A plugin whose `activate` logs when it begins and ends and waits at a rendezvous for
/// `peers` plugins (itself included) to be activating at once, for up to 5 s.
fn rendezvous(
    id: &str,
    dependencies: &[&str],
    peers: usize,
    arrived: &Arc<AtomicU64>,
    log: &Arc<Mutex<Vec<String>>>,
) -> PluginSpec {
    let mut manifest = Manifest::builder(id, "1.0.0");
    for dependency in dependencies {
        manifest = manifest.depends_on(dependency, "^1");
    }
    let (arrived, log, me) = (arrived.clone(), log.clone(), id.to_owned());
    fn_plugin(declared(manifest), move |_| {
        log.lock().unwrap().push(format!("{me} begins"));
        arrived.fetch_add(1, Ordering::SeqCst);
        let until = std::time::Instant::now() + Duration::from_secs(5);
        while (arrived.load(Ordering::SeqCst) as usize) < peers && std::time::Instant::now() < until {
            std::thread::sleep(Duration::from_millis(1));
        }
        let met = arrived.load(Ordering::SeqCst) as usize >= peers;
        log.lock()
            .unwrap()
            .push(format!("{me} ends ({})", if met { "together" } else { "alone" }));
        Ok(())
    })
}

#[test]
fn parallel_start_up_overlaps_a_level_and_keeps_dependency_order() {
    let (level_one, level_two) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let log = Arc::new(Mutex::new(Vec::new()));
    let host = Host::builder()
        .plugins(vec![
            rendezvous("a", &[], 3, &level_one, &log),
            rendezvous("b", &[], 3, &level_one, &log),
            rendezvous("c", &[], 3, &level_one, &log),
            rendezvous("x", &["a", "b"], 2, &level_two, &log),
            rendezvous("y", &["c"], 2, &level_two, &log),
        ])
        .parallel_startup(4)
        .build()
        .unwrap();
    assert!(host.plugins().all(|p| p.state() == State::Active));
    let log = log.lock().unwrap().clone();
    let at = |entry: &str| {
        log.iter()
            .position(|e| e == entry)
            .unwrap_or_else(|| panic!("{entry}: {log:?}"))
    };
    for id in ["a", "b", "c", "x", "y"] {
        assert!(
            at(&format!("{id} ends (together)")) > at(&format!("{id} begins")),
            "{log:?}"
        );
    }
    // Every first-level plugin ended before any second-level one began.
    let first_level_done = ["a", "b", "c"]
        .iter()
        .map(|id| at(&format!("{id} ends (together)")))
        .max()
        .unwrap();
    let second_level_start = ["x", "y"].iter().map(|id| at(&format!("{id} begins"))).min().unwrap();
    assert!(first_level_done < second_level_start, "{log:?}");

    // One after another (the default), the same plugins never meet: each waits alone.
    let (level_one, level_two) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let log = Arc::new(Mutex::new(Vec::new()));
    let _ = (&level_two, &log);
    let host = Host::builder()
        .plugins(vec![
            rendezvous("a", &[], 1, &level_one, &log),
            rendezvous("b", &[], 2, &level_one, &log),
        ])
        .build()
        .unwrap();
    assert_eq!(
        *log.lock().unwrap(),
        ["a begins", "a ends (together)", "b begins", "b ends (together)"]
    );
    drop(host);
}

/// A plugin whose `activate` takes `hold` and logs when its instance is deactivated.
fn slow(id: &str, hold: Duration, log: &Arc<Mutex<Vec<String>>>) -> PluginSpec {
    let (log, me) = (log.clone(), id.to_owned());
    fn_plugin(
        declared(Manifest::builder(id, "1.0.0").contributes("commands", "run")),
        move |context| {
            std::thread::sleep(hold);
            log.lock().unwrap().push(format!("{me} activated"));
            context.command("run", |_, (): ()| Ok(()))?;
            Ok(())
        },
    )
}

#[test]
fn a_plugin_that_misses_its_deadline_fails_and_start_up_goes_on() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let started = std::time::Instant::now();
    let host = Host::builder()
        .plugins(vec![
            slow("sluggish", Duration::from_millis(1500), &log),
            slow("brisk", Duration::ZERO, &log),
        ])
        .activation_deadline(Duration::from_secs(5))
        .activation_deadline_for("sluggish", Duration::from_millis(50))
        .build()
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "start-up did not wait for the stuck plugin"
    );
    assert_eq!(
        host.failure("sluggish"),
        Some(Failure::Deadline {
            during: "activate",
            deadline: Duration::from_millis(50)
        })
    );
    assert_eq!(
        host.failure("sluggish").unwrap().to_string(),
        "did not activate within 50 ms"
    );
    assert_eq!(host.state("brisk"), Some(State::Active));
    assert_eq!(host.command_ids(), ["brisk:run"], "nothing of the late plugin is wired");
    // The stuck thread finishes later; what it made is never installed.
    while !log.lock().unwrap().contains(&"sluggish activated".to_owned()) {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(host.state("sluggish"), Some(State::Failed));
    assert_eq!(host.command_ids(), ["brisk:run"]);
}

#[test]
fn in_strict_mode_a_missed_deadline_aborts_and_rolls_back() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let error = Host::builder()
        .plugins(vec![
            slow("early", Duration::ZERO, &log),
            slow("stuck", Duration::from_millis(300), &log),
        ])
        .activation_deadline(Duration::from_millis(50))
        .strict(true)
        .build()
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "strict mode: plugin `stuck` failed (did not activate within 50 ms); start-up aborted, deactivated: [early]"
    );
}

/// A lazy plugin's state saved in the registry file is restored when it wakes, and kept
/// in the file across runs in which it never woke.
#[test]
fn a_lazy_plugin_gets_its_saved_state_when_it_wakes() {
    #[derive(Default)]
    struct Tally(u32);
    impl patchpanel::Plugin for Tally {
        fn activate(&mut self, _: &mut patchpanel::Context<'_, Self>) -> Result<(), patchpanel::PluginError> {
            Ok(())
        }
        fn get_state(&mut self) -> Result<Option<patchpanel::SavedState>, patchpanel::PluginError> {
            patchpanel::SavedState::new(&self.0).map(Some)
        }
        fn restore_state(&mut self, state: patchpanel::SavedState) -> Result<(), patchpanel::PluginError> {
            self.0 = state.get()?;
            Ok(())
        }
    }
    let directory = std::env::temp_dir().join(format!("patchpanel-lazy-state-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory).unwrap();
    let path = directory.join("registry.json");
    let host = || {
        let manifest = Manifest::builder("tally", "1.0.0")
            .contributes_nothing()
            .lazy()
            .build()
            .unwrap();
        Host::builder()
            .plugins(vec![PluginSpec::with_factory(manifest, Tally::default)])
            .registry_file(&path)
            .persist_state(true)
            .build()
            .unwrap()
    };
    let first = host();
    first.activate("tally").unwrap();
    first.with_plugin(|tally: &mut Tally| tally.0 = 5).unwrap();
    drop(first);
    // A run in which it never wakes keeps the saved state in the file.
    let idle = host();
    assert_eq!(idle.state("tally"), Some(State::Resolved));
    drop(idle);
    let later = host();
    later.activate("tally").unwrap();
    assert_eq!(later.with_plugin(|tally: &mut Tally| tally.0).unwrap(), 5);
}

/// A `deactivate` that does not return within the deactivation deadline is reported,
/// and shutdown goes on to the next plugin.
#[test]
fn shutdown_does_not_wait_past_the_deactivation_deadline() {
    #[derive(Default)]
    struct Clingy;
    impl patchpanel::Plugin for Clingy {
        fn activate(&mut self, _: &mut patchpanel::Context<'_, Self>) -> Result<(), patchpanel::PluginError> {
            Ok(())
        }
        fn deactivate(&mut self, _: &mut patchpanel::Context<'_, Self>) -> Result<(), patchpanel::PluginError> {
            std::thread::sleep(Duration::from_millis(1500));
            Ok(())
        }
    }
    let clingy = PluginSpec::with_factory(Manifest::builder("clingy", "1.0.0").build().unwrap(), Clingy::default);
    let other = fn_plugin(declared(Manifest::builder("other", "1.0.0")), |_| Ok(()));
    let host = Host::builder()
        .plugins(vec![other, clingy])
        .deactivation_deadline(Duration::from_millis(50))
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let report = host.shutdown();
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "shutdown waited for the stuck deactivate"
    );
    assert_eq!(report.deactivated, ["other", "clingy"]);
    assert_eq!(
        report.errors,
        [(
            patchpanel::host::PluginId::from("clingy"),
            Failure::Deadline {
                during: "deactivate",
                deadline: Duration::from_millis(50)
            }
        )]
    );
    assert_eq!(report.errors[0].1.to_string(), "did not deactivate within 50 ms");
}

/// A manifest may set its own activation deadline; the builder's default does not
/// override it.
#[test]
fn a_manifest_deadline_applies_over_the_builders_default() {
    let manifest = declared(Manifest::builder("slowpoke", "1.0.0").activation_deadline("50ms"));
    let spec = fn_plugin(manifest, |_| {
        std::thread::sleep(Duration::from_millis(600));
        Ok(())
    });
    let host = Host::builder()
        .plugins(vec![spec])
        .activation_deadline(Duration::from_secs(30))
        .build()
        .unwrap();
    assert_eq!(
        host.failure("slowpoke").unwrap().to_string(),
        "did not activate within 50 ms"
    );
    assert_eq!(
        Manifest::builder("x", "1.0.0")
            .activation_deadline("soon")
            .build()
            .unwrap_err()
            .to_string(),
        "invalid manifest for plugin `x`: `activation-deadline`: `soon` is not a deadline for `activation-deadline` \
         (help: write a whole number of seconds or milliseconds, e.g. `\"5s\"` or `\"250ms\"`, up to an hour)"
    );
}
