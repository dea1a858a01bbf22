//! Runs each dispatch path a million times, for `valgrind --tool=callgrind`:
//! `profile_dispatch handle|str|publish|middleware`.
use std::hint::black_box;

use patchpanel::Host;
use patchpanel::testing::fn_plugin;
use patchpanel_benches::manifest;

struct Tick(u64);

fn main() {
    let path = std::env::args().nth(1).unwrap_or_else(|| "handle".to_owned());
    let mut plugins = vec![fn_plugin(manifest("bench"), |context| {
        for index in 0..1000 {
            context.command(&format!("cmd{index}"), |_, n: u64| Ok(n.wrapping_add(1)))?;
        }
        context.command("layered", |_, n: u64| Ok(n.wrapping_add(1)))?;
        Ok(())
    })];
    for index in 0..10 {
        plugins.push(fn_plugin(manifest(&format!("listener{index}")), move |context| {
            context.subscribe(|_, tick: &Tick| {
                black_box(tick.0);
                Ok(())
            });
            if index < 4 {
                context.middleware("bench:layered", 0, |invocation, next| next.run(invocation))?;
            }
            Ok(())
        }));
    }
    let host = Host::builder().plugins(plugins).build().unwrap();
    let handle = host.command::<u64, u64>("bench:cmd500").unwrap();
    let layered = host.command::<u64, u64>("bench:layered").unwrap();
    for n in 0..1_000_000_u64 {
        match path.as_str() {
            "handle" => drop(black_box(black_box(&handle).call(black_box(n)))),
            "str" => drop(black_box(
                host.execute::<u64, u64>(black_box("bench:cmd500"), black_box(n)),
            )),
            "publish" => drop(black_box(host.publish(black_box(&Tick(n))))),
            _ => drop(black_box(black_box(&layered).call(black_box(n)))),
        }
    }
}
