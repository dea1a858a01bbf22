//! The durable backend under load: the old key format migrated, and group commit
//! (concurrent and deferred writes share commits, none is lost or left behind).

use super::StorageBackend;
use super::durable::RedbStorage;

/// A file written before keys were length-prefixed is migrated when opened.
#[test]
fn a_file_with_the_old_key_format_is_migrated() {
    let path = fresh_file("migrate");
    {
        let database = redb::Database::create(&path).unwrap();
        let transaction = database.begin_write().unwrap();
        {
            let old: redb::TableDefinition<'_, &str, &[u8]> = redb::TableDefinition::new("patchpanel");
            let mut table = transaction.open_table(old).unwrap();
            table.insert("default\0kv-store\0motd", &b"hello"[..]).unwrap();
            table.insert("acme\0greeter\0count/ada", &b"2"[..]).unwrap();
        }
        transaction.commit().unwrap();
    }
    let storage = RedbStorage::open(&path).unwrap();
    assert_eq!(
        storage.get("default", "kv-store", "motd").unwrap().as_deref(),
        Some(&b"hello"[..])
    );
    assert_eq!(storage.keys("acme", "greeter").unwrap(), ["count/ada"]);
    drop(storage);
    // Opening again finds nothing left to migrate and loses nothing.
    let storage = RedbStorage::open(&path).unwrap();
    assert_eq!(
        storage.get("default", "kv-store", "motd").unwrap().as_deref(),
        Some(&b"hello"[..])
    );
    drop(storage);
    let _ = std::fs::remove_file(&path);
}

/// A path in the temporary directory for this test process, with no file there.
fn fresh_file(name: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("patchpanel-{name}-{}.redb", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

/// Adds one to a little-endian `u64` count (a missing one counts as 0).
fn bump(current: Option<&[u8]>) -> Option<Vec<u8>> {
    let n = current.map_or(0, |bytes| u64::from_le_bytes(bytes.try_into().unwrap()));
    Some((n + 1).to_le_bytes().to_vec())
}

/// Runs `round(thread, n)` for n = 0, 1, ... on `threads` threads until `millis`
/// have passed; returns how many rounds each thread finished.
fn hammer(threads: usize, millis: u64, round: impl Fn(usize, u64) + Send + Sync + 'static) -> Vec<u64> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let (stop, round) = (Arc::new(AtomicBool::new(false)), Arc::new(round));
    let running: Vec<_> = (0..threads)
        .map(|thread| {
            let (stop, round) = (Arc::clone(&stop), Arc::clone(&round));
            std::thread::spawn(move || {
                let mut rounds = 0_u64;
                while !stop.load(Ordering::Relaxed) {
                    round(thread, rounds);
                    rounds += 1;
                }
                rounds
            })
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(millis));
    stop.store(true, Ordering::Relaxed);
    running.into_iter().map(|thread| thread.join().unwrap()).collect()
}

/// Writes from many threads share transactions, and none is lost: 8 threads each
/// increment one shared counter and write keys of their own for a bounded time;
/// every increment is counted once, every key is there, and fewer transactions than
/// writes were committed. An updater that panics fails only its own write: the
/// panic reaches its caller, and the writes grouped with it commit.
#[test]
fn concurrent_writes_share_commits_and_none_is_lost() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    let path = fresh_file("group");
    let storage = Arc::new(RedbStorage::open(&path).unwrap());
    let (increments, panics) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let rounds = {
        let (storage, increments, panics) = (Arc::clone(&storage), Arc::clone(&increments), Arc::clone(&panics));
        hammer(8, 1500, move |thread, round| {
            storage.update("default", "counter", "n", &mut bump).unwrap();
            increments.fetch_add(1, Ordering::Relaxed);
            storage
                .put("default", "own", &format!("{thread}/{round}"), &round.to_le_bytes())
                .unwrap();
            if round % 50 == 7 {
                let boom = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    storage.update("default", "counter", "n", &mut |_| panic!("updater {thread} exploded"))
                }));
                let message = *boom.unwrap_err().downcast::<String>().unwrap();
                assert_eq!(message, format!("updater {thread} exploded"));
                panics.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let stored = storage.get("default", "counter", "n").unwrap().unwrap();
    assert_eq!(
        u64::from_le_bytes(stored.as_slice().try_into().unwrap()),
        increments.load(Ordering::Relaxed),
        "every increment counted once; the {} panicking updates changed nothing",
        panics.load(Ordering::Relaxed)
    );
    for (thread, rounds) in rounds.iter().enumerate() {
        let keys = storage.keys("default", "own").unwrap();
        let own = keys.iter().filter(|key| key.starts_with(&format!("{thread}/"))).count() as u64;
        assert_eq!(own, *rounds, "thread {thread} lost writes");
    }
    let stats = storage.commit_stats();
    let writes = 2 * increments.load(Ordering::Relaxed) + panics.load(Ordering::Relaxed);
    assert_eq!(stats.writes, writes);
    assert!(stats.transactions < stats.writes && stats.largest > 1, "{stats:?}");
    drop(storage);
    let _ = std::fs::remove_file(&path);
}

/// Deferred writes from many threads are neither lost nor reordered: 6 threads each
/// queue a deferred write of their own and then make a durable write (an increment
/// of a shared counter), for a bounded time. Once the durable write returns, the
/// deferred write queued before it must be readable (it was in the same group or an
/// earlier one); after the threads stop, every deferred write is in the file (no
/// leader puts the lead down with one queued; the last rounds' deferred writes are
/// queued while other threads' commits run), and a reopened file still holds them.
#[test]
fn deferred_writes_are_committed_in_order_and_none_is_left_behind() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    let path = fresh_file("deferred");
    let storage = Arc::new(RedbStorage::open(&path).unwrap());
    let unseen = Arc::new(AtomicU64::new(0));
    let rounds = {
        let (storage, unseen) = (Arc::clone(&storage), Arc::clone(&unseen));
        hammer(6, 1000, move |thread, round| {
            let key = format!("{thread}/{round}");
            storage
                .put_deferred("default", "side", &key, round.to_le_bytes().to_vec())
                .unwrap();
            storage.update("default", "counter", "n", &mut bump).unwrap();
            if storage.get("default", "side", &key).unwrap().is_none() {
                unseen.fetch_add(1, Ordering::Relaxed);
            }
            // Nothing of this thread follows it in its last round.
            storage
                .put_deferred("default", "tail", &thread.to_string(), round.to_le_bytes().to_vec())
                .unwrap();
        })
    };
    assert_eq!(
        unseen.load(Ordering::Relaxed),
        0,
        "a deferred write was not visible after a later durable one"
    );
    let total: u64 = rounds.iter().sum();
    assert_eq!(storage.keys("default", "side").unwrap().len() as u64, total);
    for (thread, rounds) in rounds.iter().enumerate() {
        let tail = storage.get("default", "tail", &thread.to_string()).unwrap().unwrap();
        assert_eq!(
            tail,
            (rounds - 1).to_le_bytes(),
            "thread {thread}'s last deferred write"
        );
    }
    let stats = storage.commit_stats();
    // A deferred write that arrived while its leader committed an extra group of
    // deferred writes waited, and counts as a write that waited.
    assert!(stats.deferred > 0 && stats.deferred <= 2 * total, "{stats:?}");
    assert_eq!(stats.deferred_lost, 0);
    assert_eq!(stats.writes, 3 * total);
    drop(storage);
    let storage = RedbStorage::open(&path).unwrap();
    assert_eq!(storage.keys("default", "side").unwrap().len() as u64, total);
    assert_eq!(storage.keys("default", "tail").unwrap().len(), rounds.len());
    drop(storage);
    let _ = std::fs::remove_file(&path);
}

/// A leader is not kept committing other callers' deferred writes for as long as
/// they come, and callers that never wait cannot queue without bound. 4 threads
/// queue deferred writes, first at a trickle (a pause of 200 µs after each: the
/// queue never fills, so only the one-extra-group rule hands the lead on), then
/// without pause; meanwhile each of 50 durable writes from another thread must
/// return, and no group may hold more than the queue's limit plus the writers.
#[test]
fn deferred_writes_neither_keep_a_leader_committing_nor_queue_without_bound() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    for pause in [Some(std::time::Duration::from_micros(200)), None] {
        let path = fresh_file("deferred-flood");
        let storage = Arc::new(RedbStorage::open(&path).unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let flood: Vec<_> = (0..4)
            .map(|thread| {
                let (storage, stop) = (Arc::clone(&storage), Arc::clone(&stop));
                std::thread::spawn(move || {
                    let mut n = 0_u64;
                    while !stop.load(Ordering::Relaxed) {
                        let key = format!("{thread}/{}", n % 64);
                        storage
                            .put_deferred("default", "flood", &key, n.to_le_bytes().to_vec())
                            .unwrap();
                        n += 1;
                        if let Some(pause) = pause {
                            std::thread::sleep(pause);
                        }
                    }
                })
            })
            .collect();
        let (done, finished) = std::sync::mpsc::channel();
        let writer = {
            let storage = Arc::clone(&storage);
            std::thread::spawn(move || {
                for n in 0..50_u64 {
                    storage.put("default", "own", "n", &n.to_le_bytes()).unwrap();
                }
                done.send(()).unwrap();
            })
        };
        let returned = finished.recv_timeout(std::time::Duration::from_secs(20));
        stop.store(true, Ordering::Relaxed);
        for thread in flood {
            thread.join().unwrap();
        }
        assert!(
            returned.is_ok(),
            "pause {pause:?}: the durable writes did not all return within 20 s"
        );
        writer.join().unwrap();
        assert_eq!(
            storage.get("default", "own", "n").unwrap(),
            Some(49_u64.to_le_bytes().to_vec())
        );
        let stats = storage.commit_stats();
        assert!(
            stats.largest <= (super::group::QUEUE_LIMIT + 5) as u64,
            "pause {pause:?}: {stats:?}"
        );
        drop(storage);
        let _ = std::fs::remove_file(&path);
    }
}

/// A deferred write that finds no commit under way commits itself: it is durable
/// when the call returns, as a put is.
#[test]
fn a_deferred_write_alone_is_committed_before_it_returns() {
    let path = fresh_file("deferred-alone");
    let storage = RedbStorage::open(&path).unwrap();
    storage.put_deferred("default", "side", "k", b"v".to_vec()).unwrap();
    assert_eq!(storage.get("default", "side", "k").unwrap().as_deref(), Some(&b"v"[..]));
    let stats = storage.commit_stats();
    assert_eq!((stats.transactions, stats.writes, stats.deferred), (1, 1, 1));
    drop(storage);
    let storage = RedbStorage::open(&path).unwrap();
    assert_eq!(storage.get("default", "side", "k").unwrap().as_deref(), Some(&b"v"[..]));
    drop(storage);
    let _ = std::fs::remove_file(&path);
}
