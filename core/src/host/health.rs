//! [`Host::health`]: every plugin's health check, bounded, and the overall verdict.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
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
    /// use patchpanel::{Context, health::{Health, HealthStatus}, Host, Plugin, PluginError, PluginSpec};
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
    /// of that plugin (which would only queue behind it): they wait on the running one
    /// within their own budget, and if it has still not answered, report it unhealthy,
    /// saying how long it has been running. A plugin that is not active is judged
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

    /// Starts the check of the active plugin at `position` on a thread of its own, or
    /// joins the one already running.
    fn start_check(&self, position: usize, borrowed_here: bool) -> Verdict {
        // Inside `with_plugin` on this plugin, its instance is this thread's: asking
        // again would deadlock.
        if borrowed_here {
            return Verdict::Known(Health::degraded(
                "not checked: this thread holds the instance (inside `with_plugin`)",
            ));
        }
        let checked_at_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_millis());
        let check = {
            let mut running = lock(&self.core.slots[position].health_check);
            if let Some(check) = running.as_ref() {
                // Another report's check (or one that overran): its answer is this
                // report's too.
                return Verdict::Pending(PendingCheck {
                    check: Arc::clone(check),
                    checked_at_ms,
                    joined: true,
                });
            }
            let check = Arc::new(InFlight::default());
            *running = Some(Arc::clone(&check));
            check
        };
        // A check that has not answered by the deadline is left running: it holds the
        // instance until it returns, so a reload or `with_plugin` of that plugin waits
        // for it (dispatch does not).
        let core = Arc::clone(&self.core);
        let answering = Arc::clone(&check);
        let spawned = std::thread::Builder::new()
            .name(format!("patchpanel-health-{}", self.core.runtime.plugin_id(position)))
            .spawn(move || {
                let answer = {
                    let instance = lock(&core.slots[position].instance);
                    instance.as_ref().map(|instance| {
                        let started = Instant::now();
                        let outcome = catch_unwind(AssertUnwindSafe(|| instance.health()))
                            .map_err(|payload| panic_message(payload.as_ref()).to_string());
                        (outcome, started.elapsed())
                    })
                };
                // Out of the slot before answering: a report that begins after this
                // point starts a fresh check rather than reading this answer, and one
                // already waiting gets it.
                {
                    let mut running = lock(&core.slots[position].health_check);
                    if running.as_ref().is_some_and(|current| Arc::ptr_eq(current, &answering)) {
                        *running = None;
                    }
                }
                answering.answer(answer);
            });
        match spawned {
            Ok(_) => Verdict::Pending(PendingCheck {
                check,
                checked_at_ms,
                joined: false,
            }),
            Err(error) => {
                *lock(&self.core.slots[position].health_check) = None;
                Verdict::Known(Health::unhealthy(format!(
                    "no thread to run the health check on: {error}"
                )))
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
    /// Judged without a check: by its state, or because no check could run.
    Known(Health),
    /// Its check is running.
    Pending(PendingCheck),
}

/// What a check answers: the plugin's verdict or its panic message, and how long it
/// took; `None` when no instance was loaded.
type Answer = Option<(Result<Health, String>, Duration)>;

/// A health check running on its own thread, which every report made meanwhile waits on.
#[derive(Debug)]
pub(super) struct InFlight {
    started: Instant,
    answer: Mutex<Option<Answer>>,
    answered: Condvar,
}

impl Default for InFlight {
    fn default() -> InFlight {
        InFlight {
            started: Instant::now(),
            answer: Mutex::new(None),
            answered: Condvar::new(),
        }
    }
}

impl InFlight {
    fn answer(&self, answer: Answer) {
        *lock(&self.answer) = Some(answer);
        self.answered.notify_all();
    }

    /// The answer, if it comes by `deadline`.
    fn wait(&self, deadline: Instant) -> Option<Answer> {
        let mut answer = lock(&self.answer);
        loop {
            if let Some(answer) = answer.as_ref() {
                return Some(answer.clone());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            answer = self
                .answered
                .wait_timeout(answer, left)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
    }
}

/// A report's view of a running check.
struct PendingCheck {
    check: Arc<InFlight>,
    checked_at_ms: u128,
    /// The check was already running when this report began.
    joined: bool,
}

impl PendingCheck {
    /// The check's answer, waiting until `deadline` at most.
    fn answer(self, deadline: Instant, budget: Duration) -> (Health, Option<u128>, Duration) {
        let (health, took) = match self.check.wait(deadline) {
            Some(Some((Ok(_), took))) if took > budget => (
                Health::unhealthy(format!(
                    "the health check took {} ms, over its budget of {} ms",
                    took.as_millis(),
                    budget.as_millis()
                )),
                took,
            ),
            Some(Some((Ok(health), took))) => (health, took),
            Some(Some((Err(message), took))) => {
                (Health::unhealthy(format!("the health check panicked: {message}")), took)
            }
            Some(None) => (Health::unhealthy("no instance is loaded"), Duration::ZERO),
            None if self.joined => {
                let running = self.check.started.elapsed();
                (
                    Health::unhealthy(format!(
                        "the health check has not returned after {} ms (it was running before this report; budget {} ms)",
                        running.as_millis(),
                        budget.as_millis()
                    )),
                    running,
                )
            }
            None => (
                Health::unhealthy(format!(
                    "the health check did not answer within its budget of {} ms",
                    budget.as_millis()
                )),
                budget,
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
