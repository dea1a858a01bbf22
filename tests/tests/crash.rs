//! Crash durability: a child process writes through plugin storage (`kv-store` over the
//! redb backend) and changes the registry state file (disable and enable), printing an
//! acknowledgement after each call returns `Ok`. It is killed with SIGKILL at seeded
//! random moments. After each kill the parent reopens both files and checks that every
//! acknowledged write is there, that nothing is corrupt, and that the recorded state is
//! the last acknowledged one (or the one in flight when the kill came).
//!
//! Beside the main loop, two threads of the child greet through `greeter:hello`, whose
//! count is a durable write and whose `Remember` message to kv-store is a deferred one
//! (its caller does not wait for the commit): every acknowledged count must survive,
//! with deferred writes sharing the commits.
//!
//! `PATCHPANEL_CRASH_KILLS` sets the number of kills (60 by default, as CI runs it).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use greeter::{Greeting, Hello};
use kv_store::{Get, Put};
use patchpanel::testing::fn_plugin;
use patchpanel::{Host, Manifest, PluginSpec, State, storage::RedbStorage};

const CHILD: &str = "PATCHPANEL_CRASH_CHILD";

fn host(directory: &Path) -> Host {
    let storage = RedbStorage::open(directory.join("data.redb")).unwrap();
    Host::builder()
        .plugins(vec![
            PluginSpec::registered::<kv_store::KvStore>().unwrap(),
            PluginSpec::registered::<greeter::Greeter>().unwrap(),
            fn_plugin(Manifest::builder("toggle", "1.0.0").build().unwrap(), |_| Ok(())),
        ])
        .storage(Arc::new(storage))
        .registry_file(directory.join("registry.json"))
        .build()
        .unwrap()
}

/// The child: writes until it is killed. Lines: `put <key> <value>` after a put returned,
/// `begin <state>` before a toggle and `ack <state>` after it returned, `greet <count>`
/// after a greeting returned (from two threads of their own).
fn child(directory: &Path, run: u64) -> ! {
    let host = Arc::new(host(directory));
    for _ in 0..2 {
        let host = Arc::clone(&host);
        std::thread::spawn(move || {
            loop {
                let greeting: Greeting = host.execute("greeter:hello", Hello { name: "crash".into() }).unwrap();
                let mut out = std::io::stdout().lock();
                writeln!(out, "greet {}", greeting.count).unwrap();
                out.flush().unwrap();
            }
        });
    }
    for n in 0u64.. {
        let mut out = std::io::stdout().lock();
        let key = format!("run{run}/key{n}");
        let value = format!("{run}:{n}");
        host.execute::<Put, Option<String>>(
            "kv-store:put",
            Put {
                key: key.clone(),
                value: value.clone(),
            },
        )
        .unwrap();
        writeln!(out, "put {key} {value}").unwrap();
        out.flush().unwrap();
        if n % 4 == 3 {
            let to = if host.state("toggle") == Some(State::Active) {
                "disabled"
            } else {
                "active"
            };
            writeln!(out, "begin {to}").unwrap();
            out.flush().unwrap();
            if to == "disabled" {
                host.disable("toggle").unwrap();
            } else {
                host.enable("toggle").unwrap();
            }
            writeln!(out, "ack {to}").unwrap();
            out.flush().unwrap();
        }
    }
    unreachable!()
}

/// xorshift: the kill moments are the same on every run.
fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    if let Ok(directory) = std::env::var(CHILD) {
        let run = std::env::var("PATCHPANEL_CRASH_RUN").unwrap().parse().unwrap();
        child(Path::new(&directory), run);
    }
    let kills: u64 = std::env::var("PATCHPANEL_CRASH_KILLS").map_or(60, |n| n.parse().unwrap());
    let directory: PathBuf = std::env::temp_dir().join(format!("patchpanel-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory).unwrap();

    let mut seed = 0x5eed_u64;
    let mut acknowledged: Vec<(String, String)> = Vec::new();
    let mut toggle = State::Active;
    let mut greeted = 0_u64;
    let (mut killed_mid_toggle, mut toggles) = (0, 0);
    for run in 0..kills {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "acknowledged_writes_survive_sigkill",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env(CHILD, &directory)
            .env("PATCHPANEL_CRASH_RUN", run.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Between 20 and 120 ms: after start-up, at a different point of the loop each time.
        std::thread::sleep(Duration::from_millis(20 + next(&mut seed) % 100));
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        let mut in_flight = None;
        for line in BufReader::new(child.stdout.take().unwrap()).lines() {
            let Ok(line) = line else { break };
            let parts: Vec<&str> = line.split(' ').collect();
            match parts.as_slice() {
                ["put", key, value] => acknowledged.push(((*key).to_owned(), (*value).to_owned())),
                ["greet", count] => greeted = greeted.max(count.parse().unwrap_or(0)),
                ["begin", to] => in_flight = Some(*to == "active"),
                ["ack", to] => {
                    toggle = if *to == "active" {
                        State::Active
                    } else {
                        State::Disabled
                    };
                    toggles += 1;
                    in_flight = None;
                }
                // The test harness's own lines, and a line cut short by the kill.
                _ => {}
            }
        }

        // Reopen both files as the next start-up would.
        let host = host(&directory);
        assert_eq!(
            host.registry_notices(),
            [],
            "run {run}: the registry file reads back whole"
        );
        let state = host.state("toggle").unwrap();
        match in_flight {
            Some(to_active) => {
                killed_mid_toggle += 1;
                let next = if to_active { State::Active } else { State::Disabled };
                assert!(
                    state == toggle || state == next,
                    "run {run}: {state} after a kill mid-toggle"
                );
                toggle = state;
            }
            None => assert_eq!(state, toggle, "run {run}: the last acknowledged state"),
        }
        for (key, value) in &acknowledged {
            let stored = host
                .execute::<Get, Option<String>>("kv-store:get", Get { key: key.clone() })
                .unwrap();
            assert_eq!(
                stored.as_deref(),
                Some(value.as_str()),
                "run {run}: acknowledged `{key}` lost"
            );
        }
        let count = host
            .execute::<Get, Option<String>>(
                "kv-store:get",
                Get {
                    key: "greeter/count/crash".into(),
                },
            )
            .unwrap()
            .map_or(0, |count| count.parse::<u64>().unwrap());
        assert!(
            count >= greeted,
            "run {run}: greeting {greeted} was acknowledged, {count} counted"
        );
        greeted = count;
        drop(host);
    }
    assert!(acknowledged.len() as u64 >= kills, "every child wrote something");
    assert!(greeted > 0, "the children greeted");
    eprintln!(
        "{kills} SIGKILLs: {} acknowledged writes, {greeted} greetings and {toggles} acknowledged state changes \
         checked, 0 lost; {killed_mid_toggle} kills landed inside a state change",
        acknowledged.len()
    );
    let _ = std::fs::remove_dir_all(&directory);
}
