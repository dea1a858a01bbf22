//! What a manifest may name: the id rule, the permission catalogue, the host features
//! and the host version, with one check function per field.
//!
//! The proc-macro calls these at build time and the runtime calls them for manifests
//! built in code, so both reject exactly the same input with exactly the same words.

use semver::{Version, VersionReq};

/// The version of the patchpanel host. `minHostVersion` is checked against it.
///
/// The runtime, the macros and this crate are released in lockstep, so this is also the
/// version of the `patchpanel` crate a plugin is compiled against.
pub const HOST_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The longest id accepted, in bytes.
pub const MAX_ID_LEN: usize = 64;

/// Every permission resource the host mediates, with the actions it knows for each.
///
/// There is no `network` or `filesystem` resource: plugins are trusted Rust code compiled
/// into the host, and the host cannot mediate calls it does not route.
pub const RESOURCES: &[(&str, &[&str])] = &[
    ("commands", &["execute", "intercept", "register"]),
    ("events", &["publish", "subscribe"]),
    ("hooks", &["declare", "implement"]),
    ("messaging", &["receive", "send"]),
    ("services", &["consume", "provide"]),
    ("storage", &["read", "tenants", "write"]),
];

/// Every host feature a plugin can require in `requiredFeatures`.
pub const FEATURES: &[&str] = &[
    "audit",
    "commands",
    "config",
    "events",
    "hooks",
    "messaging",
    "metrics",
    "middleware",
    "services",
    "storage",
];

/// A field value that failed its check: what is wrong and how to fix it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// What is wrong, in one sentence without a trailing period.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
}

impl Problem {
    fn new(message: impl Into<String>, help: impl Into<Option<String>>) -> Problem {
        Problem {
            message: message.into(),
            help: help.into(),
        }
    }
}

/// Checks a plugin id.
///
/// The rule: 1 to 64 bytes of lowercase ASCII letters and digits, in words joined by
/// single `-` or `.`, starting with a letter. `kv-store`, `com.example.greeter` and
/// `auth2` are ids; `KvStore`, `kv_store`, `-kv`, `kv--store`, `kv.` and `greeter:hello`
/// are not. The `:` is kept for command ids (`greeter:hello`).
pub fn check_id(id: &str) -> Result<(), Problem> {
    let help = || {
        let suggestion = suggest_id(id);
        Some(match suggestion {
            Some(s) => format!("use lowercase letters, digits, and single `-` or `.` between words, e.g. `{s}`"),
            None => "use lowercase letters, digits, and single `-` or `.` between words, starting with a letter, e.g. `kv-store` or `com.example.greeter`".to_owned(),
        })
    };
    if id.is_empty() {
        return Err(Problem::new("the plugin id is empty", help()));
    }
    if id.len() > MAX_ID_LEN {
        return Err(Problem::new(
            format!(
                "the plugin id `{id}` is {} bytes long, more than {MAX_ID_LEN}",
                id.len()
            ),
            Some("shorten the id".to_owned()),
        ));
    }
    let bytes = id.as_bytes();
    if !bytes[0].is_ascii_lowercase() {
        return Err(Problem::new(
            format!("the plugin id `{id}` must start with a lowercase letter"),
            help(),
        ));
    }
    let mut previous_was_separator = false;
    for (index, c) in id.char_indices() {
        let is_separator = c == '-' || c == '.';
        if is_separator && previous_was_separator {
            return Err(Problem::new(
                format!("the plugin id `{id}` has two separators in a row at byte {index}"),
                help(),
            ));
        }
        if !is_separator && !c.is_ascii_lowercase() && !c.is_ascii_digit() {
            return Err(Problem::new(
                format!("the plugin id `{id}` contains `{c}`, which ids do not allow"),
                help(),
            ));
        }
        previous_was_separator = is_separator;
    }
    if previous_was_separator {
        return Err(Problem::new(
            format!("the plugin id `{id}` ends with a separator"),
            help(),
        ));
    }
    Ok(())
}

/// The id a user probably meant: lowercased, with `_`, `:`, spaces and runs of
/// separators folded into one `-`. `None` when even that is no id.
fn suggest_id(id: &str) -> Option<String> {
    let mut out = String::new();
    let mut previous_lowercase = false;
    for c in id.chars() {
        // `KvStore` -> `kv-store`: a capital after a lowercase letter starts a word.
        if c.is_ascii_uppercase() && previous_lowercase {
            out.push('-');
        }
        previous_lowercase = c.is_ascii_lowercase() || c.is_ascii_digit();
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if c == '.' && !out.is_empty() && !out.ends_with(['-', '.']) {
            out.push('.');
        } else if !out.is_empty() && !out.ends_with(['-', '.']) {
            out.push('-');
        }
    }
    let out = out.trim_end_matches(['-', '.']).to_owned();
    (out != id && out.starts_with(|c: char| c.is_ascii_lowercase()) && out.len() <= MAX_ID_LEN).then_some(out)
}

/// Parses a plugin version, which must be semver (`1.2.0`, `0.3.1-beta.1`).
pub fn parse_version(field: &str, text: &str) -> Result<Version, Problem> {
    Version::parse(text).map_err(|error| {
        let help = match padded_version(text) {
            Some(padded) => format!("write a full semver version, e.g. `{padded}`"),
            None => "write a semver version: MAJOR.MINOR.PATCH, e.g. `1.0.0`".to_owned(),
        };
        Problem::new(
            format!("`{text}` is not a semver version for `{field}`: {error}"),
            Some(help),
        )
    })
}

/// `1` -> `1.0.0`, `1.2` -> `1.2.0`: the likely intent of a short version.
fn padded_version(text: &str) -> Option<String> {
    let parts: Vec<&str> = text.split('.').collect();
    if parts.len() >= 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let mut padded = parts.join(".");
    for _ in parts.len()..3 {
        padded.push_str(".0");
    }
    Some(padded)
}

/// Parses a dependency's version range, in Cargo's syntax (`^1.0`, `>=0.2, <0.4`, `*`).
pub fn parse_version_req(dependency: &str, text: &str) -> Result<VersionReq, Problem> {
    VersionReq::parse(text).map_err(|error| {
        Problem::new(
            format!("`{text}` is not a version range for dependency `{dependency}`: {error}"),
            Some("write a Cargo-style range, e.g. `^1.2`, `~0.3.1`, `>=1.0, <2.0` or `*`".to_owned()),
        )
    })
}

/// Checks `minHostVersion` against [`HOST_VERSION`].
pub fn check_min_host_version(plugin: &str, min: &Version) -> Result<(), Problem> {
    let host = Version::parse(HOST_VERSION).expect("the crate version is semver");
    if *min > host {
        return Err(Problem::new(
            format!("plugin `{plugin}` needs patchpanel {min} or newer, but this is patchpanel {host}"),
            Some(format!(
                "upgrade the `patchpanel` dependency to {min} or newer, or lower `minHostVersion` to {host} or older"
            )),
        ));
    }
    Ok(())
}

/// Looks a resource up in [`RESOURCES`], returning its canonical name and actions.
pub fn resource(name: &str) -> Result<(&'static str, &'static [&'static str]), Problem> {
    RESOURCES
        .iter()
        .find(|(resource, _)| *resource == name)
        .copied()
        .ok_or_else(|| {
            let names: Vec<&str> = RESOURCES.iter().map(|(resource, _)| *resource).collect();
            Problem::new(
                format!("unknown permission resource `{name}`"),
                Some(did_you_mean(name, &names, "resources")),
            )
        })
}

/// Looks an action up among `resource`'s actions, returning its canonical name.
pub fn action(resource: &str, actions: &'static [&'static str], name: &str) -> Result<&'static str, Problem> {
    actions.iter().find(|action| **action == name).copied().ok_or_else(|| {
        Problem::new(
            format!("unknown action `{name}` for permission resource `{resource}`"),
            Some(did_you_mean(name, actions, &format!("`{resource}` actions"))),
        )
    })
}

/// Checks a required feature against [`FEATURES`], returning its canonical name.
pub fn feature(name: &str) -> Result<&'static str, Problem> {
    FEATURES
        .iter()
        .find(|feature| **feature == name)
        .copied()
        .ok_or_else(|| {
            Problem::new(
                format!("unknown required feature `{name}`"),
                Some(did_you_mean(name, FEATURES, "features")),
            )
        })
}

/// Parses a deadline written as a number and a unit, `250ms` or `5s`: more than zero,
/// at most an hour.
pub fn parse_deadline(field: &str, text: &str) -> Result<std::time::Duration, Problem> {
    let bad = || {
        Problem::new(
            format!("`{text}` is not a deadline for `{field}`"),
            Some(
                "write a whole number of seconds or milliseconds, e.g. `\"5s\"` or `\"250ms\"`, up to an hour"
                    .to_owned(),
            ),
        )
    };
    let (number, millis) = match text.strip_suffix("ms") {
        Some(number) => (number, 1),
        None => (text.strip_suffix('s').ok_or_else(bad)?, 1000),
    };
    let value: u64 = number.parse().map_err(|_| bad())?;
    let total = value.checked_mul(millis).ok_or_else(bad)?;
    if total == 0 || total > 3_600_000 {
        return Err(bad());
    }
    Ok(std::time::Duration::from_millis(total))
}

/// Checks a command or hook name as a registration checks it: letters, digits, `-`,
/// `_`, `.` or `/`, at least one, and no `<plugin-id>:` prefix (the manifest's own id
/// is the namespace).
pub fn check_local_name(name: &str) -> Result<(), Problem> {
    if name.contains(':') {
        return Err(Problem::new(
            format!("`{name}` has a namespace; contributions are named within the plugin's own"),
            Some(format!(
                "write `{}`: the plugin id is added",
                name.rsplit(':').next().unwrap_or(name)
            )),
        ));
    }
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c)) {
        return Err(Problem::new(
            format!("`{name}` is not a valid name"),
            Some("use letters, digits, `-`, `_`, `.` or `/`, and at least one of them".to_owned()),
        ));
    }
    Ok(())
}

/// Checks a type name as `std::any::type_name` spells one: a Rust path, maybe `dyn`,
/// with generic arguments.
pub fn check_type_name(name: &str) -> Result<(), Problem> {
    let path = name.strip_prefix("dyn ").unwrap_or(name);
    let plausible = !path.is_empty()
        && path.trim() == path
        && path
            .chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || "_(&[".contains(c))
        && path
            .chars()
            .all(|c| c.is_alphanumeric() || "_:<>, &'()[];+".contains(c))
        && !path.contains(":::")
        && path.split("::").all(|segment| !segment.is_empty())
        && spaces_are_rusts(path);
    if plausible {
        Ok(())
    } else {
        Err(Problem::new(
            format!("`{name}` is not a Rust type path"),
            Some("write the type as `std::any::type_name` prints it, e.g. `my_crate::Greeted` or `dyn my_crate::KeyValue`".to_owned()),
        ))
    }
}

/// Whether every space in a type name is one `type_name` prints: after a comma or
/// before or after a `+` (`(u8, u16)`, `dyn A + Send`), or after `dyn`, `mut` or a
/// lifetime (`&'a mut T`).
fn spaces_are_rusts(path: &str) -> bool {
    path.match_indices(' ').all(|(at, _)| {
        let before = &path[..at];
        let word = before
            .rsplit(|c: char| !(c.is_alphanumeric() || c == '_' || c == '\''))
            .next()
            .unwrap_or("");
        before.ends_with([',', '+'])
            || path[at + 1..].starts_with('+')
            || matches!(word, "dyn" | "mut")
            || word.starts_with('\'')
    })
}

/// Parses a permission scope.
pub fn scope(name: &str) -> Result<crate::Scope, Problem> {
    crate::Scope::parse(name).ok_or_else(|| {
        Problem::new(
            format!("unknown permission scope `{name}`"),
            Some(did_you_mean(name, &crate::Scope::NAMES, "scopes")),
        )
    })
}

/// "did you mean `x`?" when a candidate is close, followed by the full list.
pub fn did_you_mean(name: &str, candidates: &[&str], what: &str) -> String {
    let list = candidates
        .iter()
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(", ");
    match closest(name, candidates) {
        Some(best) => format!("did you mean `{best}`? The known {what} are {list}"),
        None => format!("the known {what} are {list}"),
    }
}

/// Names longer than this get no suggestion: ids are short, and the edit distance costs
/// the product of the two lengths (a 4 MB unknown id once took 16.6 s and 611 MB).
pub const SUGGESTION_MAX_LEN: usize = 256;

/// The candidate nearest to `name` by edit distance, if it is near enough to be a typo.
/// Costs at most [`SUGGESTION_MAX_LEN`] times the candidate's length per candidate.
pub fn closest<'a>(name: &str, candidates: &[&'a str]) -> Option<&'a str> {
    if name.len() > SUGGESTION_MAX_LEN {
        return None;
    }
    let lowered = name.to_ascii_lowercase();
    let name_chars = lowered.chars().count();
    candidates
        .iter()
        .filter_map(|candidate| {
            let allowed = (candidate.len().max(name.len()) / 3).max(1);
            // The difference in length is a lower bound of the distance: skip the table.
            if candidate.chars().count().abs_diff(name_chars) > allowed {
                return None;
            }
            let distance = edit_distance(&lowered, candidate);
            (distance <= allowed).then_some((distance, *candidate))
        })
        .min()
        .map(|(_, candidate)| candidate)
}

/// Edit distance over chars, counting a swap of two neighbours as one edit
/// (optimal string alignment), since `wirte` for `write` is the commonest typo.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut table = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in table.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in table[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (table[i - 1][j] + 1)
                .min(table[i][j - 1] + 1)
                .min(table[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(table[i - 2][j - 2] + 1);
            }
            table[i][j] = best;
        }
    }
    table[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_are_seconds_or_milliseconds_up_to_an_hour() {
        use std::time::Duration;
        assert_eq!(parse_deadline("d", "5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_deadline("d", "250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_deadline("d", "3600s"), Ok(Duration::from_secs(3600)));
        for bad in [
            "",
            "5",
            "0s",
            "3601s",
            "1.5s",
            "-1s",
            "5 s",
            "soon",
            "18446744073709551615s",
        ] {
            assert!(parse_deadline("d", bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            parse_deadline("activation-deadline", "soon").unwrap_err().message,
            "`soon` is not a deadline for `activation-deadline`"
        );
    }

    #[test]
    fn type_names_are_checked_as_type_name_prints_them() {
        for good in [
            "greeter::Greeted",
            "dyn kv_store::KeyValue",
            "alloc::vec::Vec<u8>",
            "(u8, u16)",
            "dyn core::any::Any + core::marker::Send",
            "&'static str",
            "&mut u8",
        ] {
            assert_eq!(check_type_name(good), Ok(()), "{good}");
        }
        for bad in ["", "not a type", " lead", "a:::b", "::a", "a::", "3d::Thing", "a\tb"] {
            assert!(check_type_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn suggestions_are_bounded_by_the_length_of_the_name() {
        assert_eq!(closest("kv-stor", &["kv-store", "greeter"]), Some("kv-store"));
        assert_eq!(closest("grëeter", &["kv-store", "greeter"]), Some("greeter"));
        // A name far longer than every candidate never reaches the distance table, and a
        // name past the cap is not compared at all: 4 MB returns at once.
        assert_eq!(closest(&"k".repeat(4 << 20), &["kv-store"]), None);
        let long = format!("{}x", "kv-store".repeat(SUGGESTION_MAX_LEN / 8));
        assert_eq!(
            closest(&long, &[long.as_str()]),
            None,
            "past the cap, even an exact match"
        );
    }

    #[test]
    fn ids_follow_the_documented_rule() {
        for good in ["kv-store", "com.example.greeter", "auth2", "a"] {
            assert_eq!(check_id(good), Ok(()), "{good}");
        }
        let bad = |id: &str| check_id(id).unwrap_err();
        assert_eq!(
            bad("KvStore").message,
            "the plugin id `KvStore` must start with a lowercase letter"
        );
        assert_eq!(
            bad("KvStore").help.unwrap(),
            "use lowercase letters, digits, and single `-` or `.` between words, e.g. `kv-store`"
        );
        assert_eq!(
            bad("kv_store").message,
            "the plugin id `kv_store` contains `_`, which ids do not allow"
        );
        assert_eq!(
            bad("kv_store").help.unwrap(),
            "use lowercase letters, digits, and single `-` or `.` between words, e.g. `kv-store`"
        );
        assert_eq!(
            bad("kv--store").message,
            "the plugin id `kv--store` has two separators in a row at byte 3"
        );
        assert_eq!(bad("kv.").message, "the plugin id `kv.` ends with a separator");
        assert_eq!(
            bad("greeter:hello").message,
            "the plugin id `greeter:hello` contains `:`, which ids do not allow"
        );
        assert_eq!(bad("").message, "the plugin id is empty");
        assert!(bad(&"a".repeat(65)).message.ends_with("is 65 bytes long, more than 64"));
    }

    #[test]
    fn versions_suggest_the_padded_form() {
        let problem = parse_version("version", "1.2").unwrap_err();
        assert_eq!(problem.help.unwrap(), "write a full semver version, e.g. `1.2.0`");
        assert_eq!(
            parse_version("version", "1.2.3-beta.1").unwrap().to_string(),
            "1.2.3-beta.1"
        );
    }

    #[test]
    fn unknown_names_get_a_suggestion() {
        assert_eq!(closest("storag", &["storage", "events"]), Some("storage"));
        assert_eq!(closest("wirte", &["read", "write"]), Some("write"));
        assert_eq!(closest("zzzzzz", &["read", "write"]), None);
        assert_eq!(
            resource("storge").unwrap_err().help.unwrap(),
            "did you mean `storage`? The known resources are `commands`, `events`, `hooks`, `messaging`, `services`, `storage`"
        );
    }

    #[test]
    fn host_version_is_checked() {
        assert_eq!(check_min_host_version("p", &Version::new(0, 1, 0)), Ok(()));
        let problem = check_min_host_version("p", &Version::new(9, 0, 0)).unwrap_err();
        assert_eq!(
            problem.message,
            format!("plugin `p` needs patchpanel 9.0.0 or newer, but this is patchpanel {HOST_VERSION}")
        );
    }
}
