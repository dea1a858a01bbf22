//! Times resolution and start-up over N synthetic plugins, three times each; run under
//! `valgrind --tool=callgrind` to count instructions.
fn main() {
    let count: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let plugins = patchpanel_benches::synthetic_plugins(count);
    for _ in 0..3 {
        let input = plugins.clone();
        let started = std::time::Instant::now();
        let resolution = patchpanel::resolve(input, &Default::default()).unwrap();
        let resolved = started.elapsed();
        drop(resolution);
        let input = plugins.clone();
        let started = std::time::Instant::now();
        let host = patchpanel::Host::builder().plugins(input).build().unwrap();
        let built = started.elapsed();
        eprintln!("{count}: resolve {resolved:?}, build {built:?}");
        std::mem::forget(host);
    }
}
