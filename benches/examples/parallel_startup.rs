//! Sequential against parallel start-up, in one run: 40 plugins whose `activate` sleeps
//! 50 ms (standing for a connection or a file read), in 4 dependency levels of 10.
//! `cargo run --release -p patchpanel-benches --example parallel_startup`.

use std::time::{Duration, Instant};

use patchpanel::testing::fn_plugin;
use patchpanel::{Host, Manifest, PluginSpec};

const LEVELS: usize = 4;
const PER_LEVEL: usize = 10;
const HOLD: Duration = Duration::from_millis(50);

/// Plugin `l<level>-<n>` depends on `l<level-1>-<n>`.
fn plugins() -> Vec<PluginSpec> {
    let mut plugins = Vec::new();
    for level in 0..LEVELS {
        for n in 0..PER_LEVEL {
            let mut manifest = Manifest::builder(format!("l{level}-{n}"), "1.0.0");
            if level > 0 {
                manifest = manifest.depends_on(&format!("l{}-{n}", level - 1), "^1");
            }
            plugins.push(fn_plugin(manifest.build().expect("valid"), |_| {
                std::thread::sleep(HOLD);
                Ok(())
            }));
        }
    }
    plugins
}

fn time(threads: usize) -> Duration {
    let started = Instant::now();
    let host = Host::builder()
        .plugins(plugins())
        .parallel_startup(threads)
        .build()
        .expect("starts");
    let elapsed = started.elapsed();
    assert!(host.plugins().all(|plugin| plugin.state() == patchpanel::State::Active));
    elapsed
}

#[allow(clippy::print_stdout)]
fn main() {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let sequential = time(1);
    println!(
        "{} plugins x {} ms in {LEVELS} levels, {cores} cores; theory: {} ms one after another, {} ms at {PER_LEVEL} per level",
        LEVELS * PER_LEVEL,
        HOLD.as_millis(),
        (LEVELS * PER_LEVEL) as u128 * HOLD.as_millis(),
        LEVELS as u128 * HOLD.as_millis()
    );
    println!("sequential:           {:>6.0} ms", sequential.as_secs_f64() * 1e3);
    for threads in [2, 4, PER_LEVEL] {
        let parallel = time(threads);
        println!(
            "parallel_startup({threads:>2}): {:>6.0} ms  ({:.1}x)",
            parallel.as_secs_f64() * 1e3,
            sequential.as_secs_f64() / parallel.as_secs_f64()
        );
    }
}
