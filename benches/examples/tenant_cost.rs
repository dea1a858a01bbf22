//! What a tenant costs: start-up time and memory per tenant for a host of 100 no-op
//! plugins, from one resolution (`HostBuilder::build_tenants`).
//! `cargo run --release -p patchpanel-benches --example tenant_cost`.

use std::time::Instant;

use patchpanel::Host;
use patchpanel_benches::synthetic_plugins;

/// Resident memory in bytes, from /proc (Linux).
fn resident() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|statm| statm.split_whitespace().nth(1)?.parse::<usize>().ok())
        .map_or(0, |pages| pages * 4096)
}

#[allow(clippy::print_stdout)]
fn main() {
    let plugins = synthetic_plugins(100);
    let names: Vec<String> = (0..200).map(|n| format!("tenant-{n}")).collect();
    // Warm up the allocator and the code.
    drop(
        Host::builder()
            .plugins(plugins.clone())
            .build_tenants(&names[..10])
            .unwrap(),
    );
    let before = resident();
    let started = Instant::now();
    let tenants = Host::builder().plugins(plugins.clone()).build_tenants(&names).unwrap();
    let elapsed = started.elapsed();
    let after = resident();
    let count = tenants.iter().count();
    println!(
        "{count} tenants x 100 plugins: {:.1} us and {:.1} KiB per tenant ({:.1} ms, {:.1} MiB in all)",
        elapsed.as_secs_f64() * 1e6 / count as f64,
        (after.saturating_sub(before)) as f64 / 1024.0 / count as f64,
        elapsed.as_secs_f64() * 1e3,
        (after.saturating_sub(before)) as f64 / 1024.0 / 1024.0
    );
    let started = Instant::now();
    let single = Host::builder().plugins(plugins).build().unwrap();
    println!(
        "one host of 100 plugins, resolution included: {:.1} us",
        started.elapsed().as_secs_f64() * 1e6
    );
    drop(single);
    drop(tenants);
}
