//! Property tests of the orderings the host computes: random dependency graphs for the
//! resolver, random before/after constraint sets for hooks, and random priorities for
//! middleware. Each checks that the order respects every constraint, that a
//! contradiction is reported exactly, and that the result does not depend on the order
//! in which the plugins were given (link order).
//!
//! `PROPTEST_CASES` raises the number of cases (RELIABILITY.md reports a long run).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use patchpanel::testing::{fn_plugin, with_every_permission};
use patchpanel::{
    Host, Manifest, PluginSpec,
    hooks::{HookOrder, HookWiringError},
    host::StartError,
    resolve::{ResolveError, ResolveOptions},
};
use proptest::prelude::*;
use proptest::test_runner::Config;

fn cases() -> Config {
    Config {
        cases: std::env::var("PROPTEST_CASES").map_or(512, |n| n.parse().unwrap()),
        // A failure prints its minimal case; nothing is written next to the sources.
        failure_persistence: None,
        ..Config::default()
    }
}

fn id(n: usize) -> String {
    format!("p{n:02}")
}

/// Up to 12 plugins; each may depend on any other, cycles included (a plugin that
/// depends on itself is refused earlier, by the manifest check).
fn graphs() -> impl Strategy<Value = Vec<BTreeSet<usize>>> {
    (1usize..12)
        .prop_flat_map(|n| prop::collection::vec(prop::collection::btree_set(0..n, 0..3), n))
        .prop_map(|mut graph| {
            for (n, dependencies) in graph.iter_mut().enumerate() {
                dependencies.remove(&n);
            }
            graph
        })
}

fn specs(graph: &[BTreeSet<usize>]) -> Vec<PluginSpec> {
    graph
        .iter()
        .enumerate()
        .map(|(n, dependencies)| {
            let mut manifest = Manifest::builder(id(n), "1.0.0");
            for &d in dependencies {
                manifest = manifest.depends_on(&id(d), "^1");
            }
            fn_plugin(manifest.build().unwrap(), |_| Ok(()))
        })
        .collect()
}

/// The nodes on a cycle: those that can reach themselves.
fn on_cycles(graph: &[BTreeSet<usize>]) -> BTreeSet<usize> {
    (0..graph.len())
        .filter(|&start| {
            let mut seen = BTreeSet::new();
            let mut stack: Vec<usize> = graph[start].iter().copied().collect();
            while let Some(node) = stack.pop() {
                if node == start {
                    return true;
                }
                if seen.insert(node) {
                    stack.extend(graph[node].iter().copied());
                }
            }
            false
        })
        .collect()
}

/// `items` in an order drawn from `seed`.
fn shuffled<T>(mut items: Vec<T>, mut seed: u64) -> Vec<T> {
    for i in (1..items.len()).rev() {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        items.swap(i, (seed >> 33) as usize % (i + 1));
    }
    items
}

proptest! {
    #![proptest_config(cases())]

    /// The order puts every dependency first; a graph resolves exactly when it has no
    /// cycle; each reported cycle is a real one, and every plugin on a cycle is in one.
    #[test]
    fn the_resolver_respects_every_edge_and_reports_every_cycle(graph in graphs(), seed in any::<u64>()) {
        let cyclic = on_cycles(&graph);
        let outcome = patchpanel::resolve::resolve(specs(&graph), &ResolveOptions::default());
        let again = patchpanel::resolve::resolve(shuffled(specs(&graph), seed), &ResolveOptions::default());
        match (outcome, again) {
            (Ok(resolution), Ok(reshuffled)) => {
                prop_assert!(cyclic.is_empty());
                let order = resolution.order();
                prop_assert_eq!(&order, &reshuffled.order(), "the same order whatever the input order");
                let position: BTreeMap<&str, usize> = order.iter().enumerate().map(|(i, id)| (*id, i)).collect();
                for (n, dependencies) in graph.iter().enumerate() {
                    for &d in dependencies {
                        prop_assert!(position[id(d).as_str()] < position[id(n).as_str()], "{} before {}", id(d), id(n));
                    }
                }
            }
            (Err(errors), Err(reshuffled)) => {
                prop_assert!(!cyclic.is_empty(), "{errors}");
                prop_assert_eq!(&errors.0, &reshuffled.0, "the same errors whatever the input order");
                let mut covered = BTreeSet::new();
                for error in &errors.0 {
                    let ResolveError::Cycle { path } = error else {
                        return Err(TestCaseError::fail(format!("not a cycle: {error}")));
                    };
                    prop_assert!(path.len() >= 2 && path.first() == path.last(), "{:?}", path);
                    for pair in path.windows(2) {
                        let from: usize = pair[0][1..].parse().unwrap();
                        let to: usize = pair[1][1..].parse().unwrap();
                        prop_assert!(graph[from].contains(&to), "{} does not depend on {}", pair[0], pair[1]);
                        covered.insert(from);
                    }
                }
                // Every cyclic component is reported: each plugin on a cycle can reach a
                // reported one and be reached from it (it is in the same component).
                for &node in &cyclic {
                    let reaches = |from: usize, to: usize| {
                        let mut seen = BTreeSet::new();
                        let mut stack = vec![from];
                        while let Some(n) = stack.pop() {
                            if n == to { return true; }
                            if seen.insert(n) { stack.extend(graph[n].iter().copied()); }
                        }
                        false
                    };
                    prop_assert!(
                        covered.iter().any(|&c| reaches(node, c) && reaches(c, node)),
                        "{} is on a cycle that no error reports", id(node)
                    );
                }
            }
            (first, second) => {
                return Err(TestCaseError::fail(format!(
                    "the input order changed the outcome: {:?} / {:?}",
                    first.map(|r| r.order().len()).map_err(|e| e.to_string()),
                    second.map(|r| r.order().len()).map_err(|e| e.to_string())
                )));
            }
        }
    }
}

/// One implementation per plugin: its priority, and the plugins it runs before and after.
type Constraints = Vec<(i32, BTreeSet<usize>, BTreeSet<usize>)>;

fn constraint_sets() -> impl Strategy<Value = Constraints> {
    (1usize..8).prop_flat_map(|n| {
        prop::collection::vec(
            (
                -2i32..3,
                prop::collection::btree_set(0..n, 0..2),
                prop::collection::btree_set(0..n, 0..2),
            ),
            n,
        )
    })
}

/// A host where `decl` declares hook `decl:h` and each plugin implements it under its
/// constraints, with a middleware on `decl:run` at its priority; both append the
/// plugin's id to `log` when they run.
fn hook_host(constraints: &Constraints, seed: u64, log: &Arc<Mutex<Vec<String>>>) -> Result<Host, StartError> {
    let declarer = fn_plugin(
        with_every_permission(Manifest::builder("decl", "1.0.0"))
            .build()
            .unwrap(),
        |context| {
            context.declare_hook::<(), ()>("h")?;
            context.command("run", |_, (): ()| Ok(()))?;
            Ok(())
        },
    );
    let mut plugins = vec![declarer];
    for (n, (priority, before, after)) in constraints.iter().enumerate() {
        let mut order = HookOrder::default().priority(*priority);
        for &b in before {
            order = order.before(id(b));
        }
        for &a in after {
            order = order.after(id(a));
        }
        let (log, me, priority) = (log.clone(), id(n), *priority);
        let manifest = with_every_permission(Manifest::builder(id(n), "1.0.0"))
            .permission("commands", "intercept", patchpanel::manifest::Scope::All)
            .build()
            .unwrap();
        plugins.push(fn_plugin(manifest, move |context| {
            let (hook_log, me_hook) = (log.clone(), me.clone());
            context.implement_hook("decl:h", order.clone(), move |_, (): &()| {
                hook_log.lock().unwrap().push(me_hook.clone());
                Some(())
            })?;
            let (chain_log, me_chain) = (log.clone(), me.clone());
            context.middleware("decl:run", priority, move |invocation, next| {
                chain_log.lock().unwrap().push(me_chain.clone());
                next.run(invocation)
            })?;
            Ok(())
        }));
    }
    Host::builder().plugins(shuffled(plugins, seed)).build()
}

/// The implementations no order can place: Kahn's algorithm over the before/after edges
/// leaves exactly those on or after a cycle.
fn unorderable(constraints: &Constraints) -> BTreeSet<String> {
    let n = constraints.len();
    let mut edges: BTreeSet<(usize, usize)> = BTreeSet::new(); // (earlier, later)
    for (i, (_, before, after)) in constraints.iter().enumerate() {
        edges.extend(before.iter().map(|&b| (i, b)));
        edges.extend(after.iter().map(|&a| (a, i)));
    }
    let mut placed = BTreeSet::new();
    loop {
        let ready: Vec<usize> = (0..n)
            .filter(|i| !placed.contains(i))
            .filter(|&i| edges.iter().all(|&(from, to)| to != i || placed.contains(&from)))
            .collect();
        if ready.is_empty() {
            break;
        }
        placed.extend(ready);
    }
    (0..n).filter(|i| !placed.contains(i)).map(id).collect()
}

proptest! {
    #![proptest_config(cases())]

    /// Hook implementations run in an order that respects every before/after
    /// constraint (and priority where no constraint decides); contradictions fail
    /// start-up naming exactly the implementations that cannot be placed; the outcome
    /// does not depend on the order the plugins were given. Middleware runs by priority,
    /// highest first, in the same order whatever the input order.
    #[test]
    fn hooks_and_middleware_follow_their_constraints(constraints in constraint_sets(), seed in any::<u64>()) {
        let log = Arc::new(Mutex::new(Vec::new()));
        let stuck = unorderable(&constraints);
        let first = hook_host(&constraints, seed, &log);
        let second = hook_host(&constraints, seed.rotate_left(17), &log);
        match (first, second) {
            (Ok(host), Ok(other)) => {
                prop_assert!(stuck.is_empty(), "{:?} cannot be ordered, yet start-up passed", stuck);
                let run = |host: &Host| {
                    log.lock().unwrap().clear();
                    host.hook::<(), ()>("decl:h").unwrap().call_all(&());
                    let hooks = std::mem::take(&mut *log.lock().unwrap());
                    host.execute::<(), ()>("decl:run", ()).unwrap();
                    let chain = std::mem::take(&mut *log.lock().unwrap());
                    (hooks, chain)
                };
                let (hooks, chain) = run(&host);
                prop_assert_eq!((&hooks, &chain), (&run(&other).0, &run(&other).1));
                let at: BTreeMap<&str, usize> = hooks.iter().enumerate().map(|(i, p)| (p.as_str(), i)).collect();
                prop_assert_eq!(at.len(), constraints.len(), "every implementation runs once");
                for (i, (_, before, after)) in constraints.iter().enumerate() {
                    for &b in before.iter().filter(|&&b| b != i) {
                        prop_assert!(at[id(i).as_str()] < at[id(b).as_str()], "{} before {}: {:?}", id(i), id(b), hooks);
                    }
                    for &a in after.iter().filter(|&&a| a != i) {
                        prop_assert!(at[id(a).as_str()] < at[id(i).as_str()], "{} after {}: {:?}", id(i), id(a), hooks);
                    }
                }
                let priorities: Vec<i32> = chain.iter().map(|p| constraints[p[1..].parse::<usize>().unwrap()].0).collect();
                prop_assert!(priorities.windows(2).all(|w| w[0] >= w[1]), "middleware by priority: {:?}", chain);
                prop_assert_eq!(chain.len(), constraints.len());
            }
            (Err(StartError::Hooks(HookWiringError::Cycle { hook, plugins })), Err(other)) => {
                prop_assert_eq!(hook.as_str(), "decl:h");
                let reported: BTreeSet<String> = plugins.iter().cloned().collect();
                prop_assert_eq!(&reported, &stuck);
                prop_assert_eq!(
                    other.to_string(),
                    StartError::Hooks(HookWiringError::Cycle { hook, plugins }).to_string(),
                    "the same error whatever the input order"
                );
            }
            (first, second) => {
                return Err(TestCaseError::fail(format!(
                    "unexpected outcomes: {:?} / {:?}",
                    first.err().map(|e| e.to_string()),
                    second.err().map(|e| e.to_string())
                )));
            }
        }
    }
}
