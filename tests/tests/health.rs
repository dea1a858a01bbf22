//! Plugin health and registry search: the default, a plugin's own verdict, a check that
//! panics or overruns its budget, what a state implies (failed, disabled, lazy), which
//! plugins are required, the audit record of a change, and search by text.

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use patchpanel::{
    Context, Host, Manifest, Plugin, PluginError, PluginSpec, State,
    health::{Health, HealthStatus},
    testing::fn_plugin,
};
use patchpanel_tests::fixture::wired;

/// What the next check of [`Moody`] reports: 0 healthy, 1 degraded, 2 unhealthy,
/// 3 panics, 4 sleeps 1.5 s (past any budget the tests give).
static MOOD: AtomicU8 = AtomicU8::new(0);

/// Serialises the tests that set [`MOOD`].
static MOODY_TESTS: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[patchpanel::register_plugin(id = "moody", version = "1.0.0", description = "Changes its mind")]
#[derive(Default)]
struct Moody;

impl Plugin for Moody {
    fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
        Ok(())
    }

    fn health(&self) -> Health {
        match MOOD.load(Ordering::SeqCst) {
            0 => Health::healthy(),
            1 => Health::degraded("the cache is cold"),
            2 => Health::unhealthy("the disk is full"),
            3 => panic!("the check broke"),
            _ => {
                std::thread::sleep(Duration::from_millis(1500));
                Health::healthy()
            }
        }
    }
}

fn host() -> Host {
    Host::builder()
        .plugins(vec![
            PluginSpec::registered::<Moody>().unwrap(),
            wired("steady", &[], |_| Ok(())),
            wired("broken", &[], |_| Err(PluginError::new("no database"))),
        ])
        .build()
        .unwrap()
}

fn of<'r>(report: &'r patchpanel::health::HealthReport, id: &str) -> &'r patchpanel::health::PluginHealth {
    report.plugins.iter().find(|plugin| plugin.plugin == id).unwrap()
}

#[test]
fn each_plugin_is_judged_by_its_check_or_its_state_and_the_worst_required_decides() {
    let _serial = MOODY_TESTS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    MOOD.store(0, Ordering::SeqCst);
    let host = host();
    let report = host.health_within(Duration::from_secs(5));
    assert_eq!(of(&report, "steady").health, Health::healthy());
    assert!(of(&report, "steady").checked_at_ms.is_some());
    assert_eq!(of(&report, "moody").health, Health::healthy());
    assert_eq!(
        of(&report, "broken").health,
        Health::unhealthy("failed: activate returned an error: no database")
    );
    assert_eq!(of(&report, "broken").state, State::Failed);
    assert_eq!(of(&report, "broken").checked_at_ms, None);
    assert_eq!(report.status(), HealthStatus::Unhealthy);

    for (mood, expected) in [
        (1, Health::degraded("the cache is cold")),
        (2, Health::unhealthy("the disk is full")),
        (3, Health::unhealthy("the health check panicked: the check broke")),
    ] {
        MOOD.store(mood, Ordering::SeqCst);
        assert_eq!(
            of(&host.health_within(Duration::from_secs(5)), "moody").health,
            expected
        );
    }
    MOOD.store(4, Ordering::SeqCst);
    let started = std::time::Instant::now();
    let slow = host.health_within(Duration::from_millis(30));
    assert_eq!(
        of(&slow, "moody").health,
        Health::unhealthy("the health check did not answer within its budget of 30 ms")
    );
    // Bounded by the budget, not by the check: generous, for a loaded machine.
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "the report waited for the slow check: {:?}",
        started.elapsed()
    );
    MOOD.store(0, Ordering::SeqCst);
    // The host serves on after a check panicked.
    assert_eq!(host.state("moody").unwrap(), State::Active);
}

#[test]
fn a_health_change_is_an_audit_record_and_disabled_or_lazy_plugins_are_judged_by_state() {
    let lazy = {
        let manifest = patchpanel::testing::with_every_permission(Manifest::builder("sleepy", "1.0.0"))
            .contributes("commands", "wake")
            .lazy()
            .build()
            .unwrap();
        fn_plugin(manifest, |context| {
            context.command("wake", |_, (): ()| Ok(()))?;
            Ok(())
        })
    };
    let host = Host::builder()
        .plugins(vec![wired("steady", &[], |_| Ok(())), lazy])
        .build()
        .unwrap();
    let report = host.health();
    assert!(report.is_healthy());
    assert_eq!(of(&report, "sleepy").state, State::Resolved);
    assert_eq!(of(&report, "sleepy").health, Health::healthy());

    host.disable("steady").unwrap();
    let report = host.health();
    assert_eq!(of(&report, "steady").health, Health::unhealthy("disabled"));
    assert_eq!(report.status(), HealthStatus::Unhealthy);
    host.enable("steady").unwrap();
    assert!(host.health().is_healthy());
    let changes: Vec<String> = host
        .audit()
        .records_for("steady")
        .into_iter()
        .filter(|record| record.action == "health")
        .map(|record| record.details.to_string())
        .collect();
    assert_eq!(
        changes,
        [
            "health: healthy",
            "health: healthy -> unhealthy",
            "health: unhealthy -> healthy"
        ]
    );
}

#[test]
fn search_finds_plugins_by_id_name_or_description_in_any_case_and_any_state() {
    let host = host();
    let ids = |text: &str| -> Vec<String> { host.search(text).iter().map(|plugin| plugin.id().to_owned()).collect() };
    assert_eq!(ids("MIND"), ["moody"], "by description");
    assert_eq!(ids("stead"), ["steady"], "by id");
    assert_eq!(ids("broken"), ["broken"], "a failed plugin is found too");
    assert_eq!(host.search("broken")[0].state(), State::Failed);
    assert!(ids("nothing like it").is_empty());
    assert_eq!(ids("").len(), 3, "the empty text matches every plugin");
}

#[test]
fn periodic_checks_record_a_change_that_nobody_asked_about() {
    let _serial = MOODY_TESTS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    MOOD.store(0, Ordering::SeqCst);
    let host = std::sync::Arc::new(
        Host::builder()
            .plugins(vec![PluginSpec::registered::<Moody>().unwrap()])
            .build()
            .unwrap(),
    );
    let changes = || -> Vec<String> {
        host.audit()
            .records_for("moody")
            .into_iter()
            .filter(|record| record.action == "health")
            .map(|record| record.details.to_string())
            .collect()
    };
    let watch = host.watch_health(Duration::from_millis(10));
    let started = std::time::Instant::now();
    while changes().is_empty() {
        assert!(started.elapsed() < Duration::from_secs(5), "no periodic check ran");
        std::thread::sleep(Duration::from_millis(5));
    }
    MOOD.store(1, Ordering::SeqCst);
    while changes().len() < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the change was not recorded"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(watch);
    MOOD.store(0, Ordering::SeqCst);
    assert_eq!(changes(), ["health: healthy", "health: healthy -> degraded"]);
}

/// A plugin whose health check blocks until the test releases it (5 s at most).
#[derive(Default)]
struct Stuck {
    calls: std::sync::Arc<std::sync::atomic::AtomicU64>,
    released: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Plugin for Stuck {
    fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
        Ok(())
    }

    fn health(&self) -> Health {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let started = std::time::Instant::now();
        while !self.released.load(Ordering::SeqCst) && started.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(2));
        }
        Health::healthy()
    }
}

#[test]
fn stuck_checks_cost_one_budget_together_and_are_not_asked_again_until_they_return() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64};
    let calls = Arc::new(AtomicU64::new(0));
    let released = Arc::new(AtomicBool::new(false));
    let stuck = |id: &str| {
        let (calls, released) = (calls.clone(), released.clone());
        PluginSpec::with_factory(Manifest::builder(id, "1.0.0").build().unwrap(), move || Stuck {
            calls: calls.clone(),
            released: released.clone(),
        })
    };
    let host = Host::builder()
        .plugins(vec![
            stuck("stuck-a"),
            stuck("stuck-b"),
            stuck("stuck-c"),
            stuck("stuck-d"),
        ])
        .build()
        .unwrap();

    let started = std::time::Instant::now();
    let first = host.health_within(Duration::from_millis(200));
    let waited = started.elapsed();
    for id in ["stuck-a", "stuck-b", "stuck-c", "stuck-d"] {
        assert_eq!(
            of(&first, id).health,
            Health::unhealthy("the health check did not answer within its budget of 200 ms")
        );
    }
    // Four stuck checks, one budget: sequential checks would take 800 ms at least.
    assert!(
        waited >= Duration::from_millis(200),
        "returned before the budget: {waited:?}"
    );
    assert!(
        waited < Duration::from_millis(700),
        "the checks were awaited one by one: {waited:?}"
    );

    // The stuck checks still run: a second report waits on them instead of asking
    // again.
    let second = host.health_within(Duration::from_millis(50));
    let reason = of(&second, "stuck-a").health.reason.clone().unwrap();
    assert!(
        reason.starts_with("the health check has not returned after ")
            && reason.ends_with(" ms (it was running before this report; budget 50 ms)"),
        "{reason}"
    );
    assert_eq!(of(&second, "stuck-a").health.status, HealthStatus::Unhealthy);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        4,
        "a check was started behind a stuck one"
    );

    // Reports made at the same time share one check of each plugin.
    let ready = std::sync::Barrier::new(4);
    std::thread::scope(|scope| {
        let reports: Vec<_> = (0..3)
            .map(|_| {
                scope.spawn(|| {
                    ready.wait();
                    host.health_within(Duration::from_secs(3))
                })
            })
            .collect();
        ready.wait();
        std::thread::sleep(Duration::from_millis(200));
        released.store(true, Ordering::SeqCst);
        for report in reports {
            assert!(report.join().unwrap().is_healthy());
        }
    });
    assert_eq!(
        calls.load(Ordering::SeqCst),
        4,
        "concurrent reports started checks of their own"
    );

    // Once they return, the next report asks them again.
    released.store(true, Ordering::SeqCst);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let report = host.health_within(Duration::from_secs(1));
        if report.is_healthy() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the checks never came back: {report:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(calls.load(Ordering::SeqCst) >= 8);
}

/// A plugin whose every health check answers with its own number.
#[derive(Default)]
struct Counting {
    checks: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Plugin for Counting {
    fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
        Ok(())
    }

    fn health(&self) -> Health {
        Health::degraded(format!("check {}", self.checks.fetch_add(1, Ordering::SeqCst) + 1))
    }
}

#[test]
fn back_to_back_reports_each_get_a_fresh_answer() {
    let checks = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counted = checks.clone();
    let host = Host::builder()
        .plugins(vec![PluginSpec::with_factory(
            Manifest::builder("counting", "1.0.0").build().unwrap(),
            move || Counting {
                checks: counted.clone(),
            },
        )])
        .build()
        .unwrap();
    // A report that followed the previous one at once used to find that check still in
    // its slot, answered, and reuse its answer.
    for round in 1..=300_u64 {
        let report = host.health_within(Duration::from_secs(5));
        assert_eq!(
            of(&report, "counting").health,
            Health::degraded(format!("check {round}")),
            "report {round} got a stale answer"
        );
    }
    assert_eq!(checks.load(Ordering::SeqCst), 300);
}
