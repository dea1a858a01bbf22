//! The async lifecycle: `configure_async`, `activate_async` and `deactivate_async`
//! driven by the host, a deadline that cancels an async activation or deactivation (the
//! future is dropped, nothing it registered is wired), independent async activations
//! overlapping under `parallel_startup`, and a host built and shut down from async code,
//! inside a tokio runtime (feature `tokio`) as well as with `block_on`.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use patchpanel::testing::TestHost;
use patchpanel::{
    Context, Host, Plugin, PluginError, PluginSpec, State,
    blocking::{BlockError, block_on},
    commands::DispatchErrorKind,
    config::PluginConfig,
    lifecycle::Failure,
};
use patchpanel_tests::futures::{Gate, yield_once};

/// Sets its flag when dropped: shows that a cancelled future was dropped.
struct DropFlag(&'static AtomicBool);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Waits up to five seconds for `flag`.
fn eventually(flag: &AtomicBool) -> bool {
    let started = Instant::now();
    while !flag.load(Ordering::SeqCst) {
        if started.elapsed() > Duration::from_secs(5) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    true
}

static POOL_CLOSED: AtomicBool = AtomicBool::new(false);

/// Configures, activates and deactivates asynchronously: it "connects" on other threads
/// (`unblock`) and suspends between steps.
#[patchpanel::register_plugin(id = "pool", version = "1.0.0", permissions = { commands = ["register"] })]
#[derive(Default)]
struct Pool {
    size: usize,
    connections: Arc<Mutex<Vec<usize>>>,
}

impl Plugin for Pool {
    async fn configure_async(&mut self, config: &PluginConfig) -> Result<(), PluginError> {
        yield_once().await;
        #[derive(Default, serde::Deserialize)]
        struct Settings {
            size: Option<usize>,
        }
        self.size = config.get::<Settings>()?.size.unwrap_or(3);
        Ok(())
    }

    async fn activate_async(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
        for n in 0..self.size {
            let connection = patchpanel::blocking::unblock(move || n * 10).await;
            self.connections.lock().unwrap().push(connection);
        }
        let connections = Arc::clone(&self.connections);
        context.command("connections", move |_, (): ()| Ok(connections.lock().unwrap().clone()))?;
        Ok(())
    }

    async fn deactivate_async(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
        yield_once().await;
        self.connections.lock().unwrap().clear();
        POOL_CLOSED.store(true, Ordering::SeqCst);
        Ok(())
    }
}

#[test]
fn async_configure_activate_and_deactivate_run_to_completion() {
    POOL_CLOSED.store(false, Ordering::SeqCst);
    let host = Host::builder()
        .plugins(vec![PluginSpec::registered::<Pool>().unwrap()])
        .config("pool", serde_json::json!({ "size": 4 }))
        .build()
        .unwrap();
    assert_eq!(host.state("pool"), Some(State::Active));
    assert_eq!(
        host.execute::<(), Vec<usize>>("pool:connections", ()).unwrap(),
        [0, 10, 20, 30]
    );
    let report = host.shutdown();
    assert_eq!(report.deactivated, ["pool"]);
    assert!(report.errors.is_empty());
    assert!(POOL_CLOSED.load(Ordering::SeqCst), "deactivate_async ran to its end");
}

#[test]
fn async_plugins_are_tested_with_test_host() {
    let test = TestHost::builder().plugin::<Pool>().build().unwrap();
    assert_eq!(
        test.host().execute::<(), Vec<usize>>("pool:connections", ()).unwrap(),
        [0, 10, 20]
    );
}

static STUCK_DROPPED: AtomicBool = AtomicBool::new(false);

/// Registers a command, then waits for ever.
#[patchpanel::register_plugin(id = "stuck", version = "1.0.0", permissions = { commands = ["register"] })]
#[derive(Default)]
struct Stuck;

impl Plugin for Stuck {
    async fn activate_async(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
        context.command("ghost", |_, (): ()| Ok(()))?;
        let _flag = DropFlag(&STUCK_DROPPED);
        Gate::default().wait().await;
        Ok(())
    }
}

#[test]
fn an_async_activation_past_its_deadline_is_cancelled_and_start_up_goes_on() {
    let host = Host::builder()
        .plugins(vec![
            PluginSpec::registered::<Stuck>().unwrap(),
            PluginSpec::registered::<Pool>().unwrap(),
        ])
        .activation_deadline_for("stuck", Duration::from_millis(100))
        .build()
        .unwrap();
    assert_eq!(host.state("stuck"), Some(State::Failed));
    let failure = host.plugin("stuck").unwrap().failure().unwrap();
    assert_eq!(
        failure,
        Failure::Deadline {
            during: "activate",
            deadline: Duration::from_millis(100)
        }
    );
    assert_eq!(failure.to_string(), "did not activate within 100 ms");
    assert!(eventually(&STUCK_DROPPED), "the cancelled future was dropped");
    // What it registered before the deadline was never wired.
    let error = host.execute::<(), ()>("stuck:ghost", ()).unwrap_err();
    assert!(
        matches!(
            error.kind(),
            DispatchErrorKind::UnknownCommand { .. } | DispatchErrorKind::NotActive { .. }
        ),
        "{error}"
    );
    // Start-up went on.
    assert_eq!(host.state("pool"), Some(State::Active));
}

static LINGER_DROPPED: AtomicBool = AtomicBool::new(false);

/// Its async deactivation waits for ever.
#[patchpanel::register_plugin(id = "linger", version = "1.0.0")]
#[derive(Default)]
struct Linger;

impl Plugin for Linger {
    async fn deactivate_async(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
        let _flag = DropFlag(&LINGER_DROPPED);
        Gate::default().wait().await;
        Ok(())
    }
}

#[test]
fn an_async_deactivation_past_its_deadline_is_cancelled() {
    let host = Host::builder()
        .plugins(vec![PluginSpec::registered::<Linger>().unwrap()])
        .deactivation_deadline(Duration::from_millis(100))
        .build()
        .unwrap();
    let report = host.shutdown();
    assert_eq!(report.deactivated, ["linger"]);
    assert_eq!(
        report.errors,
        [(
            patchpanel::host::PluginId::from("linger"),
            Failure::Deadline {
                during: "deactivate",
                deadline: Duration::from_millis(100)
            }
        )]
    );
    assert!(eventually(&LINGER_DROPPED), "the cancelled future was dropped");
}

static ACTIVATING: AtomicUsize = AtomicUsize::new(0);
static MOST_AT_ONCE: AtomicUsize = AtomicUsize::new(0);

macro_rules! meeting_plugins {
    ($($name:ident = $id:literal),*) => {$(
        /// Activates asynchronously and waits (up to 2 s) until all four are activating.
        #[patchpanel::register_plugin(id = $id, version = "1.0.0")]
        #[derive(Default)]
        struct $name;

        impl Plugin for $name {
            async fn activate_async(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
                let now = ACTIVATING.fetch_add(1, Ordering::SeqCst) + 1;
                MOST_AT_ONCE.fetch_max(now, Ordering::SeqCst);
                let started = Instant::now();
                while ACTIVATING.load(Ordering::SeqCst) < 4 && started.elapsed() < Duration::from_secs(2) {
                    patchpanel::blocking::unblock(|| std::thread::sleep(Duration::from_millis(1))).await;
                }
                MOST_AT_ONCE.fetch_max(ACTIVATING.load(Ordering::SeqCst), Ordering::SeqCst);
                Ok(())
            }
        }
    )*};
}

meeting_plugins!(MeetA = "meet-a", MeetB = "meet-b", MeetC = "meet-c", MeetD = "meet-d");

#[test]
fn independent_async_activations_overlap_under_parallel_start_up() {
    let host = Host::builder()
        .plugins(vec![
            PluginSpec::registered::<MeetA>().unwrap(),
            PluginSpec::registered::<MeetB>().unwrap(),
            PluginSpec::registered::<MeetC>().unwrap(),
            PluginSpec::registered::<MeetD>().unwrap(),
        ])
        .parallel_startup(4)
        .build()
        .unwrap();
    assert!(host.plugins().all(|plugin| plugin.state() == State::Active));
    assert_eq!(
        MOST_AT_ONCE.load(Ordering::SeqCst),
        4,
        "the four activations were in progress at the same time"
    );
}

#[test]
fn a_host_is_built_and_shut_down_from_async_code_without_an_executor() {
    POOL_CLOSED.store(false, Ordering::SeqCst);
    let host = block_on(
        Host::builder()
            .plugins(vec![PluginSpec::registered::<Pool>().unwrap()])
            .build_async(),
    )
    .unwrap();
    assert_eq!(host.execute::<(), Vec<usize>>("pool:connections", ()).unwrap().len(), 3);
    let report = block_on(host.shutdown_async());
    assert_eq!(report.deactivated, ["pool"]);
}

/// Activates on a tokio timer, which needs the tokio runtime it was built from.
#[patchpanel::register_plugin(id = "ticker", version = "1.0.0", permissions = { commands = ["register"] })]
#[derive(Default)]
struct Ticker {
    waited: Duration,
}

impl Plugin for Ticker {
    async fn activate_async(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
        let started = tokio::time::Instant::now();
        tokio::time::sleep(Duration::from_millis(20)).await;
        self.waited = started.elapsed();
        let waited = self.waited;
        context.command("waited", move |_, (): ()| Ok(waited >= Duration::from_millis(20)))?;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_is_built_inside_a_tokio_runtime_and_plugins_use_its_timers() {
    let host = Host::builder()
        .plugins(vec![PluginSpec::registered::<Ticker>().unwrap()])
        .build_async()
        .await
        .unwrap();
    assert_eq!(host.state("ticker"), Some(State::Active));
    assert!(host.execute::<(), bool>("ticker:waited", ()).unwrap());
    // The blocking bridge refuses to block a runtime thread.
    assert_eq!(
        patchpanel::blocking::try_block_on(async { 1 }),
        Err(BlockError::InsideRuntime)
    );
    let report = host.shutdown_async().await;
    assert_eq!(report.deactivated, ["ticker"]);
}

#[tokio::test(flavor = "current_thread")]
async fn a_host_is_built_inside_a_current_thread_runtime_too() {
    let host = Host::builder()
        .plugins(vec![PluginSpec::registered::<Ticker>().unwrap()])
        .build_async()
        .await
        .unwrap();
    assert!(host.execute::<(), bool>("ticker:waited", ()).unwrap());
    host.shutdown_async().await;
}
