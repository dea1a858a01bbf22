//! Wiring fixtures: small plugins built from closures.

use patchpanel::testing::{FnPlugin, fn_plugin};
use patchpanel::{Context, Manifest, PluginError, PluginSpec};

/// A plugin `id` (version 1.0.0, depending on `dependencies` at `^1`, declaring every
/// permission at scope `plugin-only`) whose activation runs `activate`.
pub fn wired(
    id: &str,
    dependencies: &[&str],
    activate: impl Fn(&mut Context<'_, FnPlugin>) -> Result<(), PluginError> + Send + Sync + 'static,
) -> PluginSpec {
    let mut manifest = patchpanel::testing::with_every_permission(Manifest::builder(id, "1.0.0"));
    for dependency in dependencies {
        manifest = manifest.depends_on(dependency, "^1");
    }
    fn_plugin(manifest.build().expect("valid test manifest"), activate)
}

/// [`wired`] for a plugin whose middleware wraps other plugins' commands: it declares
/// `commands` at scope `all` (a manifest gives one scope per resource, so `commands.execute`
/// and `commands.register` widen with it), since `commands.intercept` at `plugin-only`
/// wraps the plugin's own commands only.
pub fn interceptor(
    id: &str,
    dependencies: &[&str],
    activate: impl Fn(&mut Context<'_, FnPlugin>) -> Result<(), PluginError> + Send + Sync + 'static,
) -> PluginSpec {
    let mut manifest = patchpanel::testing::with_every_permission(Manifest::builder(id, "1.0.0")).permission(
        "commands",
        "intercept",
        patchpanel::manifest::Scope::All,
    );
    for dependency in dependencies {
        manifest = manifest.depends_on(dependency, "^1");
    }
    fn_plugin(manifest.build().expect("valid test manifest"), activate)
}

/// Plugin `idle`, whose one layer wraps only its own commands (it has none): a test
/// disables it to disarm the dispatch gate without touching the chain it watches.
pub fn idle_layer() -> PluginSpec {
    interceptor("idle", &[], |context| {
        context.middleware("idle:*", 0, |invocation, next| next.run(invocation))?;
        Ok(())
    })
}

/// Runs `check` with the dispatch gate armed, then disarmed by disabling [`idle_layer`]'s
/// plugin `idle` (which the host must have): a chain walked whole behind the gate, then
/// layer by layer.
pub fn armed_then_disarmed(host: &patchpanel::Host, mut check: impl FnMut(&str)) {
    check("armed");
    host.disable("idle").unwrap();
    check("disarmed");
}

/// What a test's plugins write down as they run, in order.
pub type Log = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

/// Appends `entry` to `log`.
pub fn push(log: &Log, entry: impl Into<String>) {
    log.lock().unwrap().push(entry.into());
}

/// What `log` holds, leaving it empty.
pub fn take(log: &Log) -> Vec<String> {
    std::mem::take(&mut *log.lock().unwrap())
}

/// The action and details of every decision the host audited as `Denied` against
/// `plugin` (a middleware's rejection, a permission refused), oldest first.
pub fn audited_denials(host: &patchpanel::Host, plugin: &str) -> Vec<(String, String)> {
    host.audit()
        .records_for(plugin)
        .into_iter()
        .filter(|record| record.decision == patchpanel::audit::Decision::Denied)
        .map(|record| (record.action.into_owned(), record.details.into_owned()))
        .collect()
}

/// The details of every failure the host audited against `plugin`, oldest first.
pub fn audited_failures(host: &patchpanel::Host, plugin: &str) -> Vec<String> {
    host.audit()
        .records_for(plugin)
        .into_iter()
        .filter(|record| record.decision == patchpanel::audit::Decision::Failed)
        .map(|record| record.details.into_owned())
        .collect()
}

/// The event [`math_and_listener`] subscribes to.
#[derive(Debug)]
pub struct Ping;

/// Two plugins: `math` (commands `math:double` and `math:fail`, which always fails)
/// and `ear` (subscribes to [`Ping`]).
pub fn math_and_listener() -> Vec<PluginSpec> {
    vec![
        wired("math", &[], |context| {
            context.command("double", |_, n: u64| Ok(n * 2))?;
            context.command("fail", |_, (): ()| -> Result<u8, PluginError> {
                Err(PluginError::new("no"))
            })?;
            Ok(())
        }),
        wired("ear", &[], |context| {
            context.subscribe(|_, _: &Ping| Ok(()));
            Ok(())
        }),
    ]
}

/// Waits for `flag` to be set by another thread, panicking with `what` after ten
/// seconds: a test that waits for a plugin to reach a point fails, rather than hangs,
/// when the plugin never gets there (it failed to activate, say).
pub fn wait_for(flag: &std::sync::atomic::AtomicBool, what: &str) {
    let started = std::time::Instant::now();
    while !flag.load(std::sync::atomic::Ordering::SeqCst) {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "waited 10 s for {what}"
        );
        std::thread::yield_now();
    }
}
