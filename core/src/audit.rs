//! The audit log: every permission decision and every lifecycle transition, as a
//! structured record.
//!
//! Records go to three sinks: the `tracing` target `patchpanel::audit` (at `INFO`, or
//! `WARN` for denials), an in-memory ring buffer queried with [`Audit::records`], and,
//! when configured with [`HostBuilder::audit_file`](crate::host::HostBuilder::audit_file), a
//! JSON-lines file, one record per line.
//!
//! Both stores are bounded. The ring buffer keeps the last [`DEFAULT_CAPACITY`] records.
//! The file is rotated when the next line would take it past its limit
//! ([`DEFAULT_FILE_MAX_BYTES`] unless [`HostBuilder::audit_file_max_bytes`](crate::host::HostBuilder::audit_file_max_bytes)
//! says otherwise): it is renamed to `<path>.1`, replacing the previous `.1`, and a new
//! file is started, so the log never takes more than twice the limit on disk. A write
//! that fails is counted, not retried, and the host reports it as an
//! [`Incident`](crate::host::Incident) of plugin `host`, at site `audit file`.
//!
//! Guide chapter: [permissions and the trust model](crate::guide::permissions).

use std::borrow::Cow;
use std::collections::VecDeque;
use std::fmt;
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

/// What was decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    /// A permission check passed.
    Allowed,
    /// A permission check failed.
    Denied,
    /// A lifecycle transition happened.
    Transition,
    /// Plugin code failed (returned an error or panicked) at a boundary the host
    /// guards; `action` names the boundary and `details` the failure, cause chain and all.
    Failed,
    /// Something an operator should know that is not a failure: a deprecated plugin
    /// still in use.
    Notice,
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Decision::Allowed => "allowed",
            Decision::Denied => "denied",
            Decision::Transition => "transition",
            Decision::Failed => "failed",
            Decision::Notice => "notice",
        })
    }
}

/// One audit record.
///
/// Text that is the same for many records (plugin ids, lifecycle transitions) is shared
/// rather than copied, so that auditing every transition of a large host stays cheap.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AuditRecord {
    /// Milliseconds since the Unix epoch, to within a scheduler tick (1 to 4 ms) on
    /// Linux, where the coarse clock is read; records keep their order regardless.
    pub timestamp_ms: u128,
    /// The plugin acting, or whose state changed.
    pub plugin: Arc<str>,
    /// What it did or asked for: `storage.read`, `lifecycle`...
    pub action: Cow<'static, str>,
    /// Whether the action was allowed, denied, or is a lifecycle record.
    pub decision: Decision,
    /// The rest: the target, the scope, the states.
    pub details: Cow<'static, str>,
    /// The plugin on whose behalf `plugin` acted: the consumer of a service whose
    /// provider's code made the decision. `None` when it acted for itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<Arc<str>>,
}

thread_local! {
    static ON_BEHALF_OF: std::cell::RefCell<Option<Arc<str>>> = const { std::cell::RefCell::new(None) };
}

/// While the guard lives, audit records made on this thread say they were made on
/// behalf of `consumer` (a service call runs the provider's code for the consumer).
pub(crate) fn on_behalf_of(consumer: Option<Arc<str>>) -> OnBehalfOf {
    OnBehalfOf(ON_BEHALF_OF.with(|cell| cell.replace(consumer)))
}

/// Restores the previous "on behalf of" when dropped.
pub(crate) struct OnBehalfOf(Option<Arc<str>>);

impl Drop for OnBehalfOf {
    fn drop(&mut self) {
        let previous = self.0.take();
        ON_BEHALF_OF.with(|cell| *cell.borrow_mut() = previous);
    }
}

impl fmt::Display for AuditRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}: {}", self.plugin, self.action, self.decision, self.details)?;
        match &self.on_behalf_of {
            Some(consumer) => write!(f, " (on behalf of `{consumer}`)"),
            None => Ok(()),
        }
    }
}

/// Milliseconds since the Unix epoch, from the coarse real-time clock where there is
/// one: it is read without a system call or a hardware counter (a few nanoseconds,
/// against about 30 for `SystemTime::now`, which mattered at start-up, where 10,000
/// plugins make 40,000 records). It is exact to within a scheduler tick (1 to 4 ms).
#[cfg(target_os = "linux")]
fn now_ms() -> u64 {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `now` is a valid, writable timespec; CLOCK_REALTIME_COARSE exists on every
    // Linux since 2.6.32.
    if unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut now) } == 0 {
        // In 64 bits: a 128-bit division is a library call.
        return now.tv_sec as u64 * 1000 + now.tv_nsec as u64 / 1_000_000;
    }
    precise_now_ms()
}

#[cfg(not(target_os = "linux"))]
fn now_ms() -> u64 {
    precise_now_ms()
}

/// Milliseconds since the Unix epoch: in 64 bits until the year 584,556,019.
fn precise_now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A record as the ring keeps it: a lifecycle transition as four fields (its time, its
/// plugin, a reference to its text in the lifecycle's table, on whose behalf), which take
/// six words to write and two reference counts to drop; anything else whole. Transitions
/// are most of the records a large host makes: four a plugin at start-up and one at
/// shutdown. Readers see [`AuditRecord`]s either way.
///
/// Other records stay whole, not boxed: a box made every permission check's record (one
/// a registration) allocate and free, 430 instructions a registered command, for 85 a
/// plugin at start-up; a queue of its own for transitions saved nothing over this.
#[derive(Debug)]
enum Kept {
    /// An [`AuditRecord`] of action `lifecycle`, decision `transition`, and a
    /// transition's text as its details.
    Transition {
        timestamp_ms: u64,
        plugin: Arc<str>,
        details: &'static &'static str,
        on_behalf_of: Option<Arc<str>>,
    },
    /// Any other record.
    Record(AuditRecord),
}

impl Kept {
    fn plugin(&self) -> &str {
        match self {
            Kept::Transition { plugin, .. } => plugin,
            Kept::Record(record) => &record.plugin,
        }
    }

    fn to_record(&self) -> AuditRecord {
        match self {
            Kept::Transition {
                timestamp_ms,
                plugin,
                details,
                on_behalf_of,
            } => transition_record(*timestamp_ms, plugin, details, on_behalf_of.clone()),
            Kept::Record(record) => record.clone(),
        }
    }
}

/// The record of a lifecycle transition.
fn transition_record(
    timestamp_ms: u64,
    plugin: &Arc<str>,
    details: &'static str,
    on_behalf_of: Option<Arc<str>>,
) -> AuditRecord {
    AuditRecord {
        timestamp_ms: u128::from(timestamp_ms),
        plugin: Arc::clone(plugin),
        action: Cow::Borrowed("lifecycle"),
        decision: Decision::Transition,
        details: Cow::Borrowed(details),
        on_behalf_of,
    }
}

/// The host's audit log.
#[derive(Debug)]
pub struct Audit {
    ring: Mutex<VecDeque<Kept>>,
    capacity: usize,
    file: Option<Mutex<AuditFile>>,
}

/// How many records the ring buffer keeps by default.
pub const DEFAULT_CAPACITY: usize = 4096;

/// The size at which the audit file is rotated by default: 64 MiB.
pub const DEFAULT_FILE_MAX_BYTES: u64 = 64 << 20;

/// The JSON-lines file and its rotation.
#[derive(Debug)]
struct AuditFile {
    path: PathBuf,
    /// `None` after a rotation failed to open the new file; the next record tries again.
    file: Option<File>,
    written: u64,
    max_bytes: u64,
    /// Writes that failed since the host last reported them, and the last error.
    failures: Option<(u64, String)>,
}

impl AuditFile {
    fn open(path: &Path, max_bytes: u64) -> std::io::Result<AuditFile> {
        let file = File::options().create(true).append(true).open(path)?;
        let written = file.metadata()?.len();
        Ok(AuditFile {
            path: path.to_owned(),
            file: Some(file),
            written,
            max_bytes,
            failures: None,
        })
    }

    /// `<path>.1`, where the rotated file goes.
    fn rotated(&self) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push(".1");
        PathBuf::from(name)
    }

    fn append(&mut self, line: &str) {
        let length = line.len() as u64 + 1;
        if self.written > 0 && self.written + length > self.max_bytes {
            self.file = None;
            if let Err(error) = std::fs::rename(&self.path, self.rotated()) {
                self.failed(format!("cannot rotate `{}`: {error}", self.path.display()));
            }
            self.written = 0;
        }
        if self.file.is_none() {
            match File::options().create(true).append(true).open(&self.path) {
                Ok(file) => {
                    self.written = file.metadata().map_or(0, |m| m.len());
                    self.file = Some(file);
                }
                Err(error) => return self.failed(format!("cannot open `{}`: {error}", self.path.display())),
            }
        }
        let file = self.file.as_mut().expect("opened above");
        match writeln!(file, "{line}") {
            Ok(()) => self.written += length,
            Err(error) => self.failed(format!("cannot write to `{}`: {error}", self.path.display())),
        }
    }

    fn failed(&mut self, error: String) {
        let count = self.failures.as_ref().map_or(0, |(count, _)| *count);
        self.failures = Some((count + 1, error));
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Audit {
    /// An audit log keeping the last `capacity` records in memory, and appending every
    /// record to `file` when given.
    pub fn new(capacity: usize, file: Option<&Path>) -> std::io::Result<Audit> {
        Audit::with_file_limit(capacity, file, DEFAULT_FILE_MAX_BYTES)
    }

    /// [`Audit::new`], rotating the file when the next line would take it past
    /// `max_bytes` (see the module's docs).
    pub fn with_file_limit(capacity: usize, file: Option<&Path>, max_bytes: u64) -> std::io::Result<Audit> {
        Audit::expecting(capacity, file, max_bytes, 1024)
    }

    /// [`Audit::with_file_limit`], with room in the ring for the first `expected`
    /// records (up to its capacity) from the start: a host about to start many plugins
    /// knows how many records that makes, and its ring need not grow (and copy itself)
    /// on the way.
    pub(crate) fn expecting(
        capacity: usize,
        file: Option<&Path>,
        max_bytes: u64,
        expected: usize,
    ) -> std::io::Result<Audit> {
        let file = match file {
            Some(path) => Some(Mutex::new(AuditFile::open(path, max_bytes)?)),
            None => None,
        };
        Ok(Audit {
            ring: Mutex::new(VecDeque::with_capacity(capacity.min(expected))),
            capacity: capacity.max(1),
            file,
        })
    }

    /// Records one event in every sink.
    pub fn record(
        &self,
        plugin: &Arc<str>,
        action: impl Into<Cow<'static, str>>,
        decision: Decision,
        details: impl Into<Cow<'static, str>>,
    ) {
        let record = AuditRecord {
            timestamp_ms: u128::from(now_ms()),
            plugin: Arc::clone(plugin),
            action: action.into(),
            decision,
            details: details.into(),
            on_behalf_of: ON_BEHALF_OF.with(|cell| cell.borrow().clone()),
        };
        self.emit(&record);
        self.keep(Kept::Record(record));
    }

    /// One lifecycle transition of `plugin` (`details`: `"from -> to"`): the record
    /// [`Audit::record`] makes of it, kept as four fields ([`Kept::Transition`]).
    pub(crate) fn record_transition(&self, plugin: &Arc<str>, details: &'static &'static str) {
        let timestamp_ms = now_ms();
        let on_behalf_of = ON_BEHALF_OF.with(|cell| cell.borrow().clone());
        if self.has_sinks() {
            self.emit_to_sinks(&transition_record(timestamp_ms, plugin, details, on_behalf_of.clone()));
        }
        self.keep(Kept::Transition {
            timestamp_ms,
            plugin: Arc::clone(plugin),
            details,
            on_behalf_of,
        });
    }

    /// Keeps `kept` in the ring, dropping the oldest record when it is full.
    #[inline(always)]
    fn keep(&self, kept: Kept) {
        let mut ring = lock(&self.ring);
        if ring.len() < self.capacity {
            ring.push_back(kept);
            return;
        }
        let evicted = ring.pop_front();
        ring.push_back(kept);
        // Freed after the lock is released: the ring's lock is held for two moves, not
        // for the frees of an old record's strings, on a path every allowed permission
        // check of every thread takes.
        drop(ring);
        drop(evicted);
    }

    /// Records the same lifecycle transitions for many plugins at once (at start-up,
    /// every plugin's `discovered -> validated -> resolved`) with one clock read and one
    /// lock: the same records as one [`Audit::record`] each, in the same order, at a
    /// fraction of the cost. With no tracing subscriber and no audit file, records the
    /// ring would drop before this call returns are not made at all.
    pub(crate) fn record_transitions<'p>(
        &self,
        plugins: impl ExactSizeIterator<Item = &'p Arc<str>>,
        transitions: &[&'static &'static str],
    ) {
        let timestamp_ms = now_ms();
        let on_behalf_of = ON_BEHALF_OF.with(|cell| cell.borrow().clone());
        let quiet = !self.has_sinks();
        let total = plugins.len() * transitions.len();
        let unseen = if quiet { total.saturating_sub(self.capacity) } else { 0 };
        let mut ring = lock(&self.ring);
        let records = plugins
            .flat_map(|plugin| transitions.iter().map(move |&details| (plugin, details)))
            .skip(unseen);
        for (plugin, details) in records {
            if !quiet {
                self.emit_to_sinks(&transition_record(timestamp_ms, plugin, details, on_behalf_of.clone()));
            }
            if ring.len() == self.capacity {
                ring.pop_front();
            }
            ring.push_back(Kept::Transition {
                timestamp_ms,
                plugin: Arc::clone(plugin),
                details,
                on_behalf_of: on_behalf_of.clone(),
            });
        }
    }

    /// Sends a record to tracing and the file, when there is either (most hosts have
    /// neither: the test is inlined into every record, the work is not).
    #[inline]
    fn emit(&self, record: &AuditRecord) {
        if self.has_sinks() {
            self.emit_to_sinks(record);
        }
    }

    /// Whether a record goes anywhere but the ring: a tracing subscriber or the file.
    #[inline(always)]
    fn has_sinks(&self) -> bool {
        self.file.is_some() || tracing::dispatcher::has_been_set()
    }

    #[cold]
    #[inline(never)]
    fn emit_to_sinks(&self, record: &AuditRecord) {
        if tracing::dispatcher::has_been_set() {
            let (plugin, action, details, decision) =
                (&*record.plugin, &*record.action, &*record.details, record.decision);
            match decision {
                Decision::Denied | Decision::Failed | Decision::Notice => {
                    tracing::warn!(target: "patchpanel::audit", plugin, action, %decision, details)
                }
                _ => tracing::info!(target: "patchpanel::audit", plugin, action, %decision, details),
            }
        }
        if let Some(file) = &self.file {
            // A failing audit file must not take the host down: the failure is counted
            // and reported as an incident, and the ring buffer and tracing still hold
            // the record.
            if let Ok(line) = serde_json::to_string(record) {
                lock(file).append(&line);
            }
        }
    }

    /// The writes to the audit file that failed since the last call, and the last
    /// error, if any failed.
    pub(crate) fn take_write_failures(&self) -> Option<(u64, String)> {
        self.file.as_ref().and_then(|file| lock(file).failures.take())
    }

    /// Every record still in the ring buffer, oldest first.
    pub fn records(&self) -> Vec<AuditRecord> {
        lock(&self.ring).iter().map(Kept::to_record).collect()
    }

    /// The records about `plugin`, oldest first.
    pub fn records_for(&self, plugin: &str) -> Vec<AuditRecord> {
        lock(&self.ring)
            .iter()
            .filter(|kept| kept.plugin() == plugin)
            .map(Kept::to_record)
            .collect()
    }
}

impl Default for Audit {
    fn default() -> Audit {
        Audit::new(DEFAULT_CAPACITY, None).expect("no file to open")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn details(audit: &Audit) -> Vec<(String, String)> {
        audit
            .records()
            .into_iter()
            .map(|record| (record.plugin.to_string(), record.details.into_owned()))
            .collect()
    }

    #[test]
    fn a_full_ring_drops_its_oldest_records_one_at_a_time_and_in_a_batch() {
        let audit = Audit::new(3, None).unwrap();
        let (a, b): (Arc<str>, Arc<str>) = (Arc::from("a"), Arc::from("b"));
        for n in 0..5 {
            audit.record(&a, "test", Decision::Allowed, format!("r{n}"));
        }
        let owned = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs.iter().map(|&(p, d)| (p.to_owned(), d.to_owned())).collect()
        };
        assert_eq!(details(&audit), owned(&[("a", "r2"), ("a", "r3"), ("a", "r4")]));
        audit.record_transitions([&a, &b].into_iter(), &[&"t1", &"t2"]);
        assert_eq!(details(&audit), owned(&[("a", "t2"), ("b", "t1"), ("b", "t2")]));
        audit.record(&b, "test", Decision::Denied, "last");
        assert_eq!(details(&audit), owned(&[("b", "t1"), ("b", "t2"), ("b", "last")]));
    }

    /// A kept transition is no larger than the record it stands for (six words, its text
    /// one), so the ring's entries are the size of a whole record and no more.
    #[test]
    fn a_kept_entry_is_the_size_of_a_record() {
        assert_eq!(std::mem::size_of::<Kept>(), std::mem::size_of::<AuditRecord>());
    }
}
