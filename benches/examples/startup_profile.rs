//! Builds (and drops) a host of `N` synthetic no-op plugins `R` times, for profiling the
//! start-up under `perf` or `valgrind --tool=callgrind`:
//! `cargo run --release -p patchpanel-benches --example startup_profile -- 10000 20`;
//! a third argument `lazy` makes every plugin lazy (nothing is activated).

use patchpanel::Host;
use patchpanel_benches::{synthetic_lazy_plugins, synthetic_plugins};

fn main() {
    let mut args = std::env::args().skip(1);
    let count: usize = args.next().map_or(10_000, |n| n.parse().expect("a plugin count"));
    let rounds: usize = args.next().map_or(20, |n| n.parse().expect("a number of rounds"));
    let lazy = args.next().is_some_and(|kind| kind == "lazy");
    let plugins = if lazy {
        synthetic_lazy_plugins(count)
    } else {
        synthetic_plugins(count)
    };
    let mut built = std::time::Duration::ZERO;
    for _ in 0..rounds {
        let plugins = plugins.clone();
        let started = std::time::Instant::now();
        let host = Host::builder().plugins(plugins).build().expect("synthetic set starts");
        built += started.elapsed();
        if std::env::var_os("STARTUP_PROFILE_LEAK").is_some() {
            // Leaves the shutdown out of a profile.
            std::mem::forget(host);
        } else {
            std::hint::black_box(&host);
        }
    }
    let mut resolving = std::time::Duration::ZERO;
    for _ in 0..rounds {
        let plugins = plugins.clone();
        let started = std::time::Instant::now();
        let resolution =
            patchpanel::resolve::resolve(plugins, &patchpanel::resolve::ResolveOptions::default()).expect("resolves");
        resolving += started.elapsed();
        std::hint::black_box(&resolution);
    }
    eprintln!(
        "{count} plugins: {:.2} ms per resolution",
        resolving.as_secs_f64() * 1e3 / rounds as f64
    );
    eprintln!(
        "{count} plugins: {:.2} ms per build (mean of {rounds}, drop not counted)",
        built.as_secs_f64() * 1e3 / rounds as f64
    );
}
