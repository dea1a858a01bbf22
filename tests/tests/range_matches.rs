//! The `const fn` semver matcher that `link_plugins!` resolves with at compile time
//! (`patchpanel::resolve::range_matches`) agrees with the `semver` crate (Cargo's rules) over
//! generated versions and ranges: every operator, partial versions, wildcards,
//! comma-joined comparators, pre-releases and build metadata.

use patchpanel::resolve::range_matches;
use proptest::prelude::*;
use proptest::test_runner::Config;

fn cases() -> Config {
    Config {
        cases: std::env::var("PROPTEST_CASES").map_or(2048, |n| n.parse().unwrap()),
        failure_persistence: None,
        ..Config::default()
    }
}

/// Pre-release identifiers that exercise numeric, alphanumeric and multi-part order.
const PRE: &[&str] = &[
    "alpha",
    "alpha.1",
    "alpha.beta",
    "beta",
    "beta.2",
    "beta.11",
    "rc.1",
    "1",
    "2",
    "10",
    "0.x",
];

fn pre() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => Just(String::new()),
        2 => proptest::sample::select(PRE).prop_map(|pre| format!("-{pre}")),
    ]
}

fn version() -> impl Strategy<Value = String> {
    (0u64..3, 0u64..3, 0u64..3, pre(), proptest::bool::weighted(0.1)).prop_map(|(major, minor, patch, pre, build)| {
        format!("{major}.{minor}.{patch}{pre}{}", if build { "+build.5" } else { "" })
    })
}

fn comparator() -> impl Strategy<Value = String> {
    let op = proptest::sample::select(&["", "^", "~", "=", ">", ">=", "<", "<=", "= ", ">= "][..]);
    let partial = prop_oneof![
        (0u64..3).prop_map(|major| major.to_string()),
        (0u64..3, 0u64..3).prop_map(|(major, minor)| format!("{major}.{minor}")),
        (0u64..3, 0u64..3, 0u64..3, pre())
            .prop_map(|(major, minor, patch, pre)| format!("{major}.{minor}.{patch}{pre}")),
        (0u64..3, proptest::sample::select(&["*", "x", "X"][..])).prop_map(|(major, w)| format!("{major}.{w}")),
        (0u64..3, 0u64..3, proptest::sample::select(&["*", "x"][..]))
            .prop_map(|(major, minor, w)| format!("{major}.{minor}.{w}")),
    ];
    (op, partial).prop_map(|(op, partial)| format!("{op}{partial}"))
}

fn range() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => Just("*".to_owned()),
        8 => proptest::collection::vec(comparator(), 1..=3).prop_map(|parts| parts.join(", ")),
        1 => proptest::collection::vec(comparator(), 2..=2).prop_map(|parts| parts.join(",")),
    ]
}

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn the_const_matcher_agrees_with_the_semver_crate(range in range(), version in version()) {
        // Only ranges a manifest accepts (the macro validates them with `semver`).
        let Ok(req) = semver::VersionReq::parse(&range) else { return Ok(()) };
        let expected = req.matches(&semver::Version::parse(&version).unwrap());
        prop_assert_eq!(range_matches(&range, &version), expected, "{} against {}", range, version);
    }
}

/// Cases worth pinning by hand: caret on 0.x, tilde, pre-release precedence.
#[test]
fn known_answers() {
    for (range, version, expected) in [
        ("^0.2.3", "0.2.9", true),
        ("^0.2.3", "0.3.0", false),
        ("^0.0.3", "0.0.4", false),
        ("~1.2", "1.2.9", true),
        ("~1.2", "1.3.0", false),
        ("~1", "1.9.0", true),
        (">=1.0.0-alpha.2", "1.0.0-alpha.10", true),
        (">=1.0.0-alpha", "1.0.0-alpha.beta", true),
        (">1.0.0-beta.11", "1.0.0-rc.1", true),
        ("<1.0.0-1", "1.0.0-alpha", false),
        ("^1.0.0-beta", "1.0.0", true),
        ("^1", "2.0.0-alpha", false),
        ("1.*", "1.5.0", true),
        ("1.2.x", "1.3.0", false),
        ("*", "0.0.1-pre", false),
        (">=1.2, <1.5", "1.4.9", true),
        ("=1.2.3+build", "1.2.3", true),
    ] {
        let semver = semver::VersionReq::parse(range)
            .unwrap()
            .matches(&semver::Version::parse(version).unwrap());
        assert_eq!(semver, expected, "the table is wrong: {range} against {version}");
        assert_eq!(range_matches(range, version), expected, "{range} against {version}");
    }
}
