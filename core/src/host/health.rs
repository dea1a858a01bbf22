//! [`Host::health`]: every plugin's health check, bounded, and the overall verdict.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{Host, instance_borrow};
use crate::audit::Decision;
use crate::health::{Health, HealthReport, HealthStatus, PluginHealth};
use crate::lifecycle::State;
use crate::support::{lock, panic_message};

/// How long one plugin's check may take before it counts as unhealthy.
pub const DEFAULT_HEALTH_BUDGET: Duration = Duration::from_secs(1);

impl Host {
    /// Every plugin's health, within [`DEFAULT_HEALTH_BUDGET`] per check.
    ///
    /// ```
    /// use patchpanel::{Context, Health, HealthStatus, Host, Plugin, PluginError, PluginSpec};
    ///
    /// #[patchpanel::register_plugin(id = "disk", version = "1.0.0")]
    /// #[derive(Default)]
    /// struct Disk;
    ///
    /// impl Plugin for Disk {
    ///     fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> { Ok(()) }
    ///     fn health(&self) -> Health { Health::degraded("the data file is read-only") }
    /// }
    ///
    /// let host = Host::builder().plugins(vec![PluginSpec::registered::<Disk>()?]).build()?;
    /// let report = host.health();
    /// assert_eq!(report.status(), HealthStatus::Degraded);
    /// assert_eq!(report.plugins[0].health.reason.as_deref(), Some("the data file is read-only"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn health(&self) -> HealthReport {
        self.health_within(DEFAULT_HEALTH_BUDGET)
    }

    /// Every plugin's health, each check within `budget`.
    ///
    /// An active plugin is asked (its [`Plugin::health`](crate::Plugin::health)), on a
    /// thread of the check's own. All the checks start together and this call waits
    /// `budget` in all for their answers, however many plugins there are: a check that
    /// panics, or that has not answered by then, is unhealthy with that reason. A check
    /// cannot be stopped (it is synchronous code): one that overran goes on, holding its
    /// plugin's instance until it returns, so a reload of that plugin waits for it;
    /// dispatch never does. Until it returns, later reports do not start another check
    /// of that plugin (which would only queue behind it): they report it unhealthy,
    /// saying how long the check has been running. A plugin that is not active is judged
    /// by its state: failed, disabled or unloaded is unhealthy; a lazy plugin not used
    /// yet is healthy. Plugins are required (they count in [`HealthReport::status`]) when
    /// the application expects them (`link_plugins!`), or all of them when it named none.
    /// A change of a plugin's status since the last report is an audit record, and a
    /// gauge `patchpanel_plugin_health` (2 healthy, 1 degraded, 0 unhealthy) when the
    /// host records metrics.
    pub fn health_within(&self, budget: Duration) -> HealthReport {
        let borrowed = instance_borrow::held();
        // Every check starts before any answer is awaited, so that N slow checks cost
        // one budget, not N.
        let verdicts: Vec<(State, Verdict)> = (0..self.core.slots.len())
            .map(|position| {
                let slot = self.core.runtime.plugin(position);
                let state = slot.state();
                let verdict = match state {
                    State::Active => self.start_check(position, borrowed.as_deref() == Some(&*slot.id)),
                    State::Resolved => Verdict::Known(Health::healthy()),
                    State::Failed => Verdict::Known(Health::unhealthy(
                        slot.failure()
                            .map_or_else(|| "failed".to_owned(), |failure| format!("failed: {failure}")),
                    )),
                    other => Verdict::Known(Health::unhealthy(other.as_str())),
                };
                (state, verdict)
            })
            .collect();
        let deadline = Instant::now() + budget;
        let plugins = verdicts
            .into_iter()
            .enumerate()
            .map(|(position, (state, verdict))| {
                let id = self.core.runtime.plugin_id(position).to_owned();
                let required = !self.unexpected.iter().any(|unexpected| unexpected.id == id);
                let (health, checked_at_ms, took) = match verdict {
                    Verdict::Known(health) => (health, None, Duration::ZERO),
                    Verdict::Checked(health, checked_at_ms) => (health, Some(checked_at_ms), Duration::ZERO),
                    Verdict::Pending(pending) => pending.answer(deadline, budget),
                };
                self.note_change(position, health.status);
                PluginHealth {
                    plugin: id,
                    state,
                    health,
                    required,
                    checked_at_ms,
                    took,
                }
            })
            .collect();
        HealthReport { plugins }
    }

    /// Checks every plugin's health every `interval` on a thread of its own, so that a
    /// change is recorded (an audit record, the `patchpanel_plugin_health` gauge) even
    /// when nobody asks. Opt-in; it stops when the returned [`HealthWatch`] is dropped
    /// or the host is.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// # use patchpanel::Host;
    /// let host = Arc::new(Host::builder().plugins(vec![]).build()?);
    /// let watch = host.watch_health(Duration::from_secs(10));
    /// drop(watch); // stops the checks
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn watch_health(self: &Arc<Self>, interval: Duration) -> HealthWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let host: Weak<Host> = Arc::downgrade(self);
        let stopping = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("patchpanel-health".to_owned())
            .spawn(move || {
                while !stopping.load(Ordering::Acquire) {
                    match host.upgrade() {
                        Some(host) => drop(host.health()),
                        None => return,
                    }
                    std::thread::park_timeout(interval);
                }
            })
            .ok();
        HealthWatch { stop, thread }
    }

    /// Starts the check of the active plugin at `position` on a thread of its own.
    fn start_check(&self, position: usize, borrowed_here: bool) -> Verdict {
        let checked_at_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_millis());
        // Inside `with_plugin` on this plugin, its instance is this thread's: asking
        // again would deadlock.
        if borrowed_here {
            return Verdict::Known(Health::degraded(
                "not checked: this thread holds the instance (inside `with_plugin`)",
            ));
        }
        let running = Arc::clone(&self.core.slots[position].health_check);
        let started = Instant::now();
        {
            let mut running = lock(&running);
            if let Some(since) = *running {
                return Verdict::Checked(
                    Health::unhealthy(format!(
                        "the previous health check has not returned after {} ms",
                        since.elapsed().as_millis()
                    )),
                    checked_at_ms,
                );
            }
            *running = Some(started);
        }
        // A check that has not answered by the deadline is left running: it holds the
        // instance until it returns, so a reload or `with_plugin` of that plugin waits
        // for it (dispatch does not).
        let core = Arc::clone(&self.core);
        let (answer, answered) = std::sync::mpsc::sync_channel(1);
        let done = Arc::clone(&running);
        let spawned = std::thread::Builder::new()
            .name(format!("patchpanel-health-{}", self.core.runtime.plugin_id(position)))
            .spawn(move || {
                let outcome = {
                    let instance = lock(&core.slots[position].instance);
                    instance.as_ref().map(|instance| {
                        let started = Instant::now();
                        let outcome = catch_unwind(AssertUnwindSafe(|| instance.health()))
                            .map_err(|payload| panic_message(payload.as_ref()).to_string());
                        (outcome, started.elapsed())
                    })
                };
                *lock(&done) = None;
                let _ = answer.send(outcome);
            });
        match spawned {
            Ok(_) => Verdict::Pending(PendingCheck {
                answered,
                checked_at_ms,
            }),
            Err(error) => {
                *lock(&running) = None;
                Verdict::Checked(
                    Health::unhealthy(format!("no thread to run the health check on: {error}")),
                    checked_at_ms,
                )
            }
        }
    }

    /// Records a change of the plugin's status since the last report.
    fn note_change(&self, position: usize, status: HealthStatus) {
        let previous = lock(&self.core.slots[position].last_health).replace(status);
        if previous == Some(status) {
            return;
        }
        let id = &self.core.runtime.plugin(position).id;
        let details = match previous {
            Some(previous) => format!("health: {previous} -> {status}"),
            None => format!("health: {status}"),
        };
        self.core
            .runtime
            .audit
            .record(id, "health", Decision::Transition, details);
        if self.core.runtime.observe.metrics {
            let value = match status {
                HealthStatus::Healthy => 2.0,
                HealthStatus::Degraded => 1.0,
                HealthStatus::Unhealthy => 0.0,
            };
            ::metrics::gauge!("patchpanel_plugin_health", "plugin" => id.to_string()).set(value);
        }
    }
}

/// One plugin's verdict while a report is being made.
enum Verdict {
    /// Judged by its state, without a check.
    Known(Health),
    /// Judged at the time given (ms since the Unix epoch) without a new check: the
    /// previous one is still running, or no thread could be started for it.
    Checked(Health, u128),
    /// Its check is running.
    Pending(PendingCheck),
}

/// A check started on its own thread, and when.
struct PendingCheck {
    answered: std::sync::mpsc::Receiver<Option<(Result<Health, String>, Duration)>>,
    checked_at_ms: u128,
}

impl PendingCheck {
    /// The check's answer, waiting until `deadline` at most.
    fn answer(self, deadline: Instant, budget: Duration) -> (Health, Option<u128>, Duration) {
        let wait = deadline.saturating_duration_since(Instant::now());
        let (health, took) = match self.answered.recv_timeout(wait) {
            Ok(Some((Ok(_), took))) if took > budget => (
                Health::unhealthy(format!(
                    "the health check took {} ms, over its budget of {} ms",
                    took.as_millis(),
                    budget.as_millis()
                )),
                took,
            ),
            Ok(Some((Ok(health), took))) => (health, took),
            Ok(Some((Err(message), took))) => {
                (Health::unhealthy(format!("the health check panicked: {message}")), took)
            }
            Ok(None) => (Health::unhealthy("no instance is loaded"), Duration::ZERO),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => (
                Health::unhealthy(format!(
                    "the health check did not answer within its budget of {} ms",
                    budget.as_millis()
                )),
                budget,
            ),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => (
                Health::unhealthy("the health check ended without an answer"),
                Duration::ZERO,
            ),
        };
        (health, Some(self.checked_at_ms), took)
    }
}

/// Periodic health checks ([`Host::watch_health`]); dropping it stops them and waits for
/// the check in progress.
#[derive(Debug)]
pub struct HealthWatch {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for HealthWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}
