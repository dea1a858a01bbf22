//! Resolution: deterministic order, every error kind with its exact message, optional
//! dependencies, the version-selection rule, and scale.

use patchpanel::resolve::{ResolveOptions, resolve};
use patchpanel::{Manifest, PluginSpec, resolve::ResolveError};
use patchpanel_tests::recorder::{Behaviour, Log, recorder, spec};
use semver::{Version, VersionReq};

fn plugin(id: &str, deps: &[&str]) -> PluginSpec {
    recorder(&Log::default(), id, deps, Behaviour::Succeed)
}

fn versioned(id: &str, version: &str, deps: &[(&str, &str)]) -> PluginSpec {
    let mut manifest = Manifest::builder(id, version);
    for (dep, range) in deps {
        manifest = manifest.depends_on(dep, *range);
    }
    spec(&Log::default(), manifest.build().unwrap(), Behaviour::Succeed)
}

fn order(specs: Vec<PluginSpec>) -> Vec<String> {
    resolve(specs, &ResolveOptions::default())
        .unwrap()
        .order()
        .into_iter()
        .map(str::to_owned)
        .collect()
}

fn errors(specs: Vec<PluginSpec>) -> Vec<ResolveError> {
    resolve(specs, &ResolveOptions::default()).unwrap_err().0
}

#[test]
fn dependencies_first_then_ties_by_id() {
    let specs = || {
        vec![
            plugin("greeter", &["kv-store"]),
            plugin("zeta", &[]),
            plugin("kv-store", &[]),
            plugin("alpha", &["zeta"]),
            plugin("audit-trail", &[]),
        ]
    };
    let expected = ["audit-trail", "kv-store", "greeter", "zeta", "alpha"];
    assert_eq!(order(specs()), expected);
    // The input order (link order) never changes the result.
    let mut reversed = specs();
    reversed.reverse();
    assert_eq!(order(reversed), expected);
    let mut rotated = specs();
    rotated.rotate_left(2);
    assert_eq!(order(rotated), expected);
}

#[test]
fn duplicate_id_and_version_is_an_error() {
    let errors = errors(vec![plugin("kv-store", &[]), plugin("kv-store", &[])]);
    let ResolveError::DuplicateId { id, version, .. } = &errors[0] else {
        panic!("{errors:?}")
    };
    assert_eq!((id.as_str(), version.to_string().as_str()), ("kv-store", "1.0.0"));
    assert!(
        errors[0].to_string().starts_with("plugin `kv-store` 1.0.0 is registered twice, by `patchpanel_tests::recorder::Recorder` and by `patchpanel_tests::recorder::Recorder`; remove one"),
        "{}",
        errors[0]
    );
}

#[test]
fn missing_dependency_names_both_plugins_and_the_fix() {
    let errors = errors(vec![plugin("greeter", &["kv-store"])]);
    assert_eq!(
        errors,
        [ResolveError::MissingDependency {
            plugin: "greeter".into(),
            dependency: "kv-store".into(),
            req: VersionReq::parse("^1").unwrap(),
        }]
    );
    assert_eq!(
        errors[0].to_string(),
        "plugin `greeter` depends on `kv-store` (^1), which is not linked; add the crate that registers \
         `kv-store` and name it in `link_plugins!`, or mark the dependency optional"
    );
}

#[test]
fn unsatisfied_range_lists_the_versions_present() {
    let errors = errors(vec![
        versioned("greeter", "1.0.0", &[("kv-store", "^2.0")]),
        versioned("kv-store", "1.4.0", &[]),
        versioned("kv-store", "1.2.0", &[]),
    ]);
    assert_eq!(
        errors,
        [ResolveError::NoMatchingVersion {
            plugin: "greeter".into(),
            dependency: "kv-store".into(),
            req: VersionReq::parse("^2.0").unwrap(),
            present: vec![Version::new(1, 2, 0), Version::new(1, 4, 0)],
        }]
    );
    assert_eq!(
        errors[0].to_string(),
        "plugin `greeter` needs `kv-store` ^2.0, but the linked versions are 1.2.0, 1.4.0; change the range \
         in `greeter`'s manifest or link a matching version of `kv-store`"
    );
}

#[test]
fn a_cycle_is_reported_with_its_whole_path() {
    let errors = errors(vec![
        plugin("a", &["b"]),
        plugin("b", &["c"]),
        plugin("c", &["a"]),
        plugin("d", &["a"]),
        plugin("e", &[]),
    ]);
    assert_eq!(
        errors,
        [ResolveError::Cycle {
            path: vec!["a".into(), "b".into(), "c".into(), "a".into()]
        }]
    );
    assert_eq!(
        errors[0].to_string(),
        "dependency cycle: a -> b -> c -> a; remove one of these dependencies"
    );
}

#[test]
fn two_separate_cycles_are_both_reported() {
    let errors = errors(vec![
        plugin("x", &["y"]),
        plugin("y", &["x"]),
        plugin("p", &["p2"]),
        plugin("p2", &["p"]),
    ]);
    assert_eq!(
        errors,
        [
            ResolveError::Cycle {
                path: vec!["p".into(), "p2".into(), "p".into()]
            },
            ResolveError::Cycle {
                path: vec!["x".into(), "y".into(), "x".into()]
            },
        ]
    );
}

#[test]
fn unmet_min_host_version() {
    let options = ResolveOptions {
        host_version: Version::new(0, 0, 5),
        ..ResolveOptions::default()
    };
    let manifest = Manifest::builder("new-plugin", "1.0.0")
        .min_host_version("0.1.0")
        .build()
        .unwrap();
    let errors = resolve(vec![spec(&Log::default(), manifest, Behaviour::Succeed)], &options)
        .unwrap_err()
        .0;
    assert_eq!(
        errors,
        [ResolveError::HostVersion {
            plugin: "new-plugin".into(),
            required: Version::new(0, 1, 0),
            host: Version::new(0, 0, 5),
        }]
    );
    assert_eq!(
        errors[0].to_string(),
        "plugin `new-plugin` needs patchpanel 0.1.0 or newer, but this host is 0.0.5; upgrade the `patchpanel` \
         dependency, or use an older release of `new-plugin`"
    );
}

#[test]
fn unavailable_required_feature() {
    let options = ResolveOptions {
        available_features: vec!["events".into()],
        ..ResolveOptions::default()
    };
    let manifest = Manifest::builder("kv-store", "1.0.0")
        .require_feature("storage")
        .build()
        .unwrap();
    let errors = resolve(vec![spec(&Log::default(), manifest, Behaviour::Succeed)], &options)
        .unwrap_err()
        .0;
    assert_eq!(
        errors[0].to_string(),
        "plugin `kv-store` requires host feature `storage`, which this host does not offer (available: events); \
         enable it on the host builder or remove `storage` from `requiredFeatures`"
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let errors = resolve(
        vec![
            plugin("greeter", &["kv-store"]),
            plugin("a", &["a2"]),
            plugin("a2", &["a"]),
        ],
        &ResolveOptions::default(),
    )
    .unwrap_err();
    assert_eq!(errors.0.len(), 2);
    assert!(
        errors
            .to_string()
            .starts_with("2 problems prevent start-up:\n  - plugin `greeter` depends on `kv-store`"),
        "{errors}"
    );
}

#[test]
fn an_absent_optional_dependency_is_not_an_error() {
    let manifest = Manifest::builder("greeter", "1.0.0")
        .optional_dependency("audit-trail", "^0.1")
        .build()
        .unwrap();
    let resolution = resolve(
        vec![spec(&Log::default(), manifest, Behaviour::Succeed)],
        &ResolveOptions::default(),
    )
    .unwrap();
    assert_eq!(resolution.plugins()[0].absent_optional, ["audit-trail"]);
    assert!(resolution.dependencies(0).is_empty());
}

#[test]
fn a_present_optional_dependency_orders_and_must_match() {
    let with = |range: &str| {
        let manifest = Manifest::builder("a-greeter", "1.0.0")
            .optional_dependency("z-audit", range)
            .build()
            .unwrap();
        vec![
            spec(&Log::default(), manifest, Behaviour::Succeed),
            plugin("z-audit", &[]),
        ]
    };
    let resolution = resolve(with("^1"), &ResolveOptions::default()).unwrap();
    assert_eq!(resolution.order(), ["z-audit", "a-greeter"]);
    assert!(resolution.plugins()[1].absent_optional.is_empty());
    assert!(matches!(
        &errors(with("^2"))[..],
        [ResolveError::NoMatchingVersion { .. }]
    ));
}

#[test]
fn the_highest_version_satisfying_every_dependent_is_selected() {
    // kv-store 1.0.0, 1.5.0 and 2.0.0 are linked; greeter needs ^1, so 1.5.0 wins.
    let resolution = resolve(
        vec![
            versioned("kv-store", "2.0.0", &[]),
            versioned("greeter", "1.0.0", &[("kv-store", "^1")]),
            versioned("kv-store", "1.0.0", &[]),
            versioned("kv-store", "1.5.0", &[]),
        ],
        &ResolveOptions::default(),
    )
    .unwrap();
    assert_eq!(resolution.order(), ["kv-store", "greeter"]);
    assert_eq!(resolution.plugins()[0].spec.manifest().version, Version::new(1, 5, 0));
    let mut superseded: Vec<String> = resolution
        .superseded()
        .iter()
        .map(|s| s.manifest().version.to_string())
        .collect();
    superseded.sort();
    assert_eq!(superseded, ["1.0.0", "2.0.0"]);
}

#[test]
fn with_no_constraints_the_highest_version_is_selected() {
    let resolution = resolve(
        vec![
            versioned("kv-store", "1.0.0", &[]),
            versioned("kv-store", "1.10.0", &[]),
        ],
        &ResolveOptions::default(),
    )
    .unwrap();
    assert_eq!(resolution.plugins()[0].spec.manifest().version, Version::new(1, 10, 0));
}

#[test]
fn conflicting_ranges_report_the_dependent_left_out() {
    let errors = errors(vec![
        versioned("kv-store", "1.0.0", &[]),
        versioned("kv-store", "2.0.0", &[]),
        versioned("new-user", "1.0.0", &[("kv-store", "^2")]),
        versioned("old-user", "1.0.0", &[("kv-store", "^1")]),
    ]);
    assert_eq!(
        errors,
        [ResolveError::NoMatchingVersion {
            plugin: "old-user".into(),
            dependency: "kv-store".into(),
            req: VersionReq::parse("^1").unwrap(),
            present: vec![Version::new(1, 0, 0), Version::new(2, 0, 0)],
        }]
    );
}

#[test]
fn ten_thousand_plugins_resolve() {
    // A layered graph: plugin i depends on i/2 and i/3 (when different), so edges are
    // about 2V and the order is long and deep.
    let count = 10_000;
    let id = |i: usize| format!("p{i:05}");
    let specs: Vec<PluginSpec> = (0..count)
        .rev()
        .map(|i| {
            let mut manifest = Manifest::builder(id(i), "1.0.0");
            for dep in [i / 2, i / 3] {
                if dep != i && !(dep == i / 3 && i / 3 == i / 2) {
                    manifest = manifest.depends_on(&id(dep), "^1");
                }
            }
            spec(&Log::default(), manifest.build().unwrap(), Behaviour::Succeed)
        })
        .collect();
    let resolution = resolve(specs, &ResolveOptions::default()).unwrap();
    let order = resolution.order();
    assert_eq!(order.len(), count);
    let mut position = vec![0; count];
    for (rank, id) in order.iter().enumerate() {
        position[id[1..].parse::<usize>().unwrap()] = rank;
    }
    for i in 1..count {
        assert!(position[i / 2] < position[i], "p{} must come before p{i}", i / 2);
        assert!(
            position[i / 3] < position[i] || i / 3 == i,
            "p{} must come before p{i}",
            i / 3
        );
    }
    // Ties by id: p00000 first, then its dependents in id order as they become ready.
    assert_eq!(&order[..4], ["p00000", "p00001", "p00002", "p00003"]);
}

/// Found by the property test: `b` depends on the cycle `a <-> c` and is itself on the
/// cycle `b <-> d`. Both cycles are reported.
#[test]
fn a_cycle_behind_another_cycle_is_reported_too() {
    let errors = errors(vec![
        plugin("a", &["c"]),
        plugin("b", &["a", "d"]),
        plugin("c", &["a"]),
        plugin("d", &["b"]),
    ]);
    assert_eq!(
        errors,
        [
            ResolveError::Cycle {
                path: vec!["a".into(), "c".into(), "a".into()]
            },
            ResolveError::Cycle {
                path: vec!["b".into(), "d".into(), "b".into()]
            },
        ]
    );
}

/// Ids that share their first eight bytes (`storage-` and on), one of exactly eight
/// bytes beside longer ones that begin with it, and short ids: each dependency is
/// found as the id it names, whatever its neighbours in the prefix order, and an id
/// that only shares a prefix with a linked one is missing.
#[test]
fn dependencies_are_found_among_ids_that_share_their_first_eight_bytes() {
    let spec = |id: &str, dependencies: &[&str]| {
        let mut manifest = Manifest::builder(id, "1.0.0");
        for dependency in dependencies {
            manifest = manifest.depends_on(dependency, "^1");
        }
        patchpanel::testing::fn_plugin(manifest.build().unwrap(), |_| Ok(()))
    };
    let targets = [
        "storage-b",
        "storage-ab",
        "storage-a",
        "abcdefgh",
        "abcdefghi",
        "kv",
        "kv-store",
    ];
    let mut specs: Vec<PluginSpec> = targets.iter().map(|id| spec(id, &[])).collect();
    for target in targets {
        specs.push(spec(&format!("zz-uses-{target}"), &[target]));
    }
    let resolution = resolve(specs, &ResolveOptions::default()).unwrap();
    let order = resolution.order();
    for (position, id) in order.iter().enumerate() {
        let dependencies: Vec<&str> = resolution
            .dependencies(position)
            .iter()
            .map(|&dependency| order[dependency])
            .collect();
        match id.strip_prefix("zz-uses-") {
            Some(target) => assert_eq!(dependencies, [target], "{id}"),
            None => assert!(dependencies.is_empty(), "{id}"),
        }
    }
    // (linked, asked for): the same first eight bytes, not the same id.
    for (linked, wanted) in [("abcdefghi", "abcdefgh"), ("storage-a", "storage-b")] {
        let errors = resolve(
            vec![spec(linked, &[]), spec("user", &[wanted])],
            &ResolveOptions::default(),
        )
        .unwrap_err();
        assert!(
            matches!(errors.errors(), [ResolveError::MissingDependency { dependency, .. }] if dependency == wanted),
            "{errors}"
        );
    }
}
