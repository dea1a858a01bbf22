//! Dispatch throughput on one thread and on every core at once, through the same typed
//! handle and string id. With no global lock the aggregate throughput grows with the
//! cores; a plain call shows how far this machine's cores scale at all, and a
//! `RwLock<HashMap>` registry is measured beside it for contrast.
//!
//! `cargo run --release -p patchpanel-benches --example scaling`

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::RwLock;
use std::time::Instant;

use patchpanel::Host;
use patchpanel::testing::fn_plugin;
use patchpanel_benches::manifest;

const CALLS: u64 = 20_000_000;

/// Calls per second with `threads` threads each making `CALLS` calls of `work`.
fn throughput(threads: usize, work: &(dyn Fn(u64) -> u64 + Sync)) -> f64 {
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let mut sum = 0_u64;
                for n in 0..CALLS {
                    sum = sum.wrapping_add(work(black_box(n)));
                }
                black_box(sum)
            });
        }
    });
    (threads as u64 * CALLS) as f64 / started.elapsed().as_secs_f64()
}

#[allow(clippy::print_stdout)]
fn main() {
    let plugin = fn_plugin(manifest("bench"), |context| {
        context.command("inc", |_, n: u64| Ok(n.wrapping_add(1)))?;
        Ok(())
    });
    let host = Host::builder()
        .plugins(vec![plugin])
        .build()
        .expect("bench host starts");
    let handle = host.command::<u64, u64>("bench:inc").expect("command exists");
    let mut map: HashMap<String, Box<dyn Fn(u64) -> u64 + Send + Sync>> = HashMap::new();
    map.insert("bench:inc".to_owned(), Box::new(|n: u64| n.wrapping_add(1)));
    let locked = RwLock::new(map);

    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let paths: [(&str, &(dyn Fn(u64) -> u64 + Sync)); 4] = [
        ("direct_call (ceiling)", &|n| black_box(n).wrapping_add(1)),
        ("patchpanel_handle", &|n| handle.call(n).expect("dispatch")),
        ("patchpanel_str", &|n| {
            host.execute::<u64, u64>(black_box("bench:inc"), n).expect("dispatch")
        }),
        ("rwlock_hashmap_dyn", &|n| {
            locked.read().expect("no writer")["bench:inc"](n)
        }),
    ];
    println!(
        "{:<22} {:>14} {:>14} {:>8}",
        "path",
        "1 thread /s",
        format!("{cores} threads /s"),
        "scaling"
    );
    for (name, work) in paths {
        let one = throughput(1, work);
        let all = throughput(cores, work);
        println!("{name:<22} {one:>14.3e} {all:>14.3e} {:>7.2}x", all / one);
    }
}
