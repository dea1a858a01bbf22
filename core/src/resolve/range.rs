//! Semver ranges matched in `const` evaluation, for [`link_plugins!`](crate::link_plugins)'s
//! check of the application's plugins while it compiles; and at start-up, the caret
//! range nearly every manifest declares, matched inline ([`req_matches`]).
//!
//! [`range_matches`] follows the `semver` crate's rules (Cargo's): `^`, `~`, `=`, `>`,
//! `>=`, `<`, `<=`, bare versions (caret), wildcards (`*`, `1.*`, `1.2.x`), comma-joined
//! comparators, and pre-release versions, which match only a comparator with the same
//! `major.minor.patch` and a pre-release of its own. A property test holds it to the
//! `semver` crate over generated versions and ranges.

// ---------------------------------------------------------------- versions

/// A pre-release, as a range of the text it was parsed from (empty: none).
#[derive(Clone, Copy)]
struct Pre<'a> {
    text: &'a [u8],
    start: usize,
    end: usize,
}

impl Pre<'_> {
    /// No pre-release.
    const NONE: Pre<'static> = Pre {
        text: &[],
        start: 0,
        end: 0,
    };

    const fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

/// A version: `major.minor.patch[-pre][+build]`; the build is ignored, as semver does.
#[derive(Clone, Copy)]
pub(super) struct Version<'a> {
    major: u64,
    minor: u64,
    patch: u64,
    pre: Pre<'a>,
}

/// The number at `index`, and the index after it.
const fn number(text: &[u8], mut index: usize) -> (u64, usize) {
    let mut value: u64 = 0;
    while index < text.len() && text[index].is_ascii_digit() {
        value = value.saturating_mul(10).saturating_add((text[index] - b'0') as u64);
        index += 1;
    }
    (value, index)
}

/// The end of a pre-release or build starting at `index`: the next `+`, `,`, space or
/// the end of the text.
const fn identifiers_end(text: &[u8], mut index: usize, stop_at_plus: bool) -> usize {
    while index < text.len() {
        let byte = text[index];
        if byte == b',' || byte == b' ' || (stop_at_plus && byte == b'+') {
            break;
        }
        index += 1;
    }
    index
}

pub(super) const fn parse_version(text: &str) -> Version<'_> {
    let text = text.as_bytes();
    let (major, index) = number(text, skip_spaces(text, 0));
    let (minor, index) = number(text, index + 1);
    let (patch, index) = number(text, index + 1);
    let pre = if index < text.len() && text[index] == b'-' {
        Pre {
            text,
            start: index + 1,
            end: identifiers_end(text, index + 1, true),
        }
    } else {
        Pre {
            text,
            start: index,
            end: index,
        }
    };
    Version {
        major,
        minor,
        patch,
        pre,
    }
}

const fn skip_spaces(text: &[u8], mut index: usize) -> usize {
    while index < text.len() && text[index] == b' ' {
        index += 1;
    }
    index
}

/// `-1`, `0` or `1` as `a` orders before, with or after `b`.
const fn order(a: u64, b: u64) -> i8 {
    if a < b {
        -1
    } else if a > b {
        1
    } else {
        0
    }
}

/// The pre-release identifier `[start, end)` of `pre` starting at `start`: its end.
const fn identifier_end(pre: &Pre<'_>, mut index: usize) -> usize {
    while index < pre.end && pre.text[index] != b'.' {
        index += 1;
    }
    index
}

const fn all_digits(text: &[u8], start: usize, end: usize) -> bool {
    let mut index = start;
    while index < end {
        if !text[index].is_ascii_digit() {
            return false;
        }
        index += 1;
    }
    true
}

/// Bytewise order of `a[a0..a1]` and `b[b0..b1]`.
const fn bytes_order(a: &[u8], a0: usize, a1: usize, b: &[u8], b0: usize, b1: usize) -> i8 {
    let (mut i, mut j) = (a0, b0);
    while i < a1 && j < b1 {
        if a[i] != b[j] {
            return if a[i] < b[j] { -1 } else { 1 };
        }
        i += 1;
        j += 1;
    }
    order((a1 - a0) as u64, (b1 - b0) as u64)
}

/// Pre-release precedence, as semver orders it: no pre-release is greater than any;
/// identifiers compare numerically when both are digits, numeric before alphanumeric,
/// otherwise in ASCII order; more identifiers win a tie. The test for a missing
/// pre-release is inlined (nearly every version has none); the identifiers' walk is not.
#[inline]
const fn pre_order(a: &Pre<'_>, b: &Pre<'_>) -> i8 {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => 0,
        (true, false) => 1,
        (false, true) => -1,
        (false, false) => identifiers_order(a, b),
    }
}

/// [`pre_order`] of two pre-releases that both have identifiers.
#[inline(never)]
const fn identifiers_order(a: &Pre<'_>, b: &Pre<'_>) -> i8 {
    let (mut i, mut j) = (a.start, b.start);
    loop {
        if i >= a.end {
            return if j >= b.end { 0 } else { -1 };
        }
        if j >= b.end {
            return 1;
        }
        let (i_end, j_end) = (identifier_end(a, i), identifier_end(b, j));
        let ordering = match (all_digits(a.text, i, i_end), all_digits(b.text, j, j_end)) {
            (true, true) => match order((i_end - i) as u64, (j_end - j) as u64) {
                0 => bytes_order(a.text, i, i_end, b.text, j, j_end),
                other => other,
            },
            (true, false) => -1,
            (false, true) => 1,
            (false, false) => bytes_order(a.text, i, i_end, b.text, j, j_end),
        };
        if ordering != 0 {
            return ordering;
        }
        i = i_end + 1;
        j = j_end + 1;
    }
}

pub(super) const fn version_order(a: &Version<'_>, b: &Version<'_>) -> i8 {
    match order(a.major, b.major) {
        0 => {}
        other => return other,
    }
    match order(a.minor, b.minor) {
        0 => {}
        other => return other,
    }
    match order(a.patch, b.patch) {
        0 => pre_order(&a.pre, &b.pre),
        other => other,
    }
}

// ---------------------------------------------------------------- ranges

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Exact,
    Greater,
    GreaterEq,
    Less,
    LessEq,
    Tilde,
    Caret,
    Wildcard,
}

#[derive(Clone, Copy)]
struct Comparator<'a> {
    op: Op,
    major: u64,
    minor: Option<u64>,
    patch: Option<u64>,
    pre: Pre<'a>,
}

const fn is_wildcard(byte: u8) -> bool {
    byte == b'*' || byte == b'x' || byte == b'X'
}

/// The comparator at `index` (spaces allowed around it) and the index after it.
const fn parse_comparator(text: &[u8], index: usize) -> (Comparator<'_>, usize) {
    let mut index = skip_spaces(text, index);
    let mut op = Op::Caret;
    let mut default_op = true;
    if index < text.len() {
        let (found, width) = match text[index] {
            b'=' => (Op::Exact, 1),
            b'>' if index + 1 < text.len() && text[index + 1] == b'=' => (Op::GreaterEq, 2),
            b'>' => (Op::Greater, 1),
            b'<' if index + 1 < text.len() && text[index + 1] == b'=' => (Op::LessEq, 2),
            b'<' => (Op::Less, 1),
            b'~' => (Op::Tilde, 1),
            b'^' => (Op::Caret, 1),
            _ => (Op::Caret, 0),
        };
        if width > 0 {
            op = found;
            default_op = false;
            index = skip_spaces(text, index + width);
        }
    }
    let (major, mut index) = number(text, index);
    let mut minor = None;
    let mut patch = None;
    let mut wildcard = false;
    if index < text.len() && text[index] == b'.' {
        if index + 1 < text.len() && is_wildcard(text[index + 1]) {
            wildcard = true;
            index += 2;
        } else {
            let (value, next) = number(text, index + 1);
            minor = Some(value);
            index = next;
        }
        if index < text.len() && text[index] == b'.' {
            if index + 1 < text.len() && is_wildcard(text[index + 1]) {
                wildcard = true;
                index += 2;
            } else {
                let (value, next) = number(text, index + 1);
                patch = Some(value);
                index = next;
            }
        }
    }
    if wildcard && default_op {
        op = Op::Wildcard;
    }
    let mut pre = Pre {
        text,
        start: index,
        end: index,
    };
    if patch.is_some() && index < text.len() && text[index] == b'-' {
        let end = identifiers_end(text, index + 1, true);
        pre = Pre {
            text,
            start: index + 1,
            end,
        };
        index = end;
    }
    if patch.is_some() && index < text.len() && text[index] == b'+' {
        index = identifiers_end(text, index + 1, false);
    }
    (
        Comparator {
            op,
            major,
            minor,
            patch,
            pre,
        },
        skip_spaces(text, index),
    )
}

const fn matches_exact(cmp: &Comparator<'_>, ver: &Version<'_>) -> bool {
    if ver.major != cmp.major {
        return false;
    }
    if let Some(minor) = cmp.minor
        && ver.minor != minor
    {
        return false;
    }
    if let Some(patch) = cmp.patch
        && ver.patch != patch
    {
        return false;
    }
    pre_order(&ver.pre, &cmp.pre) == 0
}

/// `ver` is above the comparator (`direction` 1) or below it (`-1`).
const fn matches_beyond(cmp: &Comparator<'_>, ver: &Version<'_>, direction: i8) -> bool {
    if ver.major != cmp.major {
        return order(ver.major, cmp.major) == direction;
    }
    let Some(minor) = cmp.minor else {
        return false;
    };
    if ver.minor != minor {
        return order(ver.minor, minor) == direction;
    }
    let Some(patch) = cmp.patch else {
        return false;
    };
    if ver.patch != patch {
        return order(ver.patch, patch) == direction;
    }
    pre_order(&ver.pre, &cmp.pre) == direction
}

const fn matches_tilde(cmp: &Comparator<'_>, ver: &Version<'_>) -> bool {
    if ver.major != cmp.major {
        return false;
    }
    if let Some(minor) = cmp.minor
        && ver.minor != minor
    {
        return false;
    }
    if let Some(patch) = cmp.patch
        && ver.patch != patch
    {
        return ver.patch > patch;
    }
    pre_order(&ver.pre, &cmp.pre) >= 0
}

#[inline]
const fn matches_caret(cmp: &Comparator<'_>, ver: &Version<'_>) -> bool {
    if ver.major != cmp.major {
        return false;
    }
    let Some(minor) = cmp.minor else {
        return true;
    };
    let Some(patch) = cmp.patch else {
        return if cmp.major > 0 {
            ver.minor >= minor
        } else {
            ver.minor == minor
        };
    };
    if cmp.major > 0 {
        if ver.minor != minor {
            return ver.minor > minor;
        } else if ver.patch != patch {
            return ver.patch > patch;
        }
    } else if minor > 0 {
        if ver.minor != minor {
            return false;
        } else if ver.patch != patch {
            return ver.patch > patch;
        }
    } else if ver.minor != minor || ver.patch != patch {
        return false;
    }
    pre_order(&ver.pre, &cmp.pre) >= 0
}

const fn matches_comparator(cmp: &Comparator<'_>, ver: &Version<'_>) -> bool {
    match cmp.op {
        Op::Exact | Op::Wildcard => matches_exact(cmp, ver),
        Op::Greater => matches_beyond(cmp, ver, 1),
        Op::GreaterEq => matches_exact(cmp, ver) || matches_beyond(cmp, ver, 1),
        Op::Less => matches_beyond(cmp, ver, -1),
        Op::LessEq => matches_exact(cmp, ver) || matches_beyond(cmp, ver, -1),
        Op::Tilde => matches_tilde(cmp, ver),
        Op::Caret => matches_caret(cmp, ver),
    }
}

/// A pre-release version may satisfy a range only through a comparator of the same
/// `major.minor.patch` that has a pre-release itself.
const fn pre_is_compatible(cmp: &Comparator<'_>, ver: &Version<'_>) -> bool {
    cmp.major == ver.major
        && matches!(cmp.minor, Some(minor) if minor == ver.minor)
        && matches!(cmp.patch, Some(patch) if patch == ver.patch)
        && !cmp.pre.is_empty()
}

/// Whether `version` meets `range`, by the `semver` crate's rules (Cargo's), in a
/// `const fn`. Both must be valid (manifests are validated when they compile);
/// invalid text gives an unspecified answer, never a panic.
///
/// ```
/// use patchpanel::resolve::range_matches;
/// const OK: bool = range_matches("^1.2", "1.4.0");
/// assert!(OK);
/// assert!(!range_matches("^1.2, <1.4", "1.4.0"));
/// assert!(!range_matches("^1", "1.1.0-beta.1"));
/// assert!(range_matches(">=1.1.0-beta.1", "1.1.0-beta.2"));
/// ```
pub const fn range_matches(range: &str, version: &str) -> bool {
    let ver = parse_version(version);
    let text = range.as_bytes();
    let start = skip_spaces(text, 0);
    if start < text.len() && is_wildcard(text[start]) && skip_spaces(text, start + 1) == text.len() {
        // `*`: every version without a pre-release.
        return ver.pre.is_empty();
    }
    let mut index = start;
    let mut pre_compatible = false;
    loop {
        let (cmp, next) = parse_comparator(text, index);
        if !matches_comparator(&cmp, &ver) {
            return false;
        }
        if pre_is_compatible(&cmp, &ver) {
            pre_compatible = true;
        }
        if next >= text.len() || text[next] != b',' {
            break;
        }
        index = next + 1;
    }
    ver.pre.is_empty() || pre_compatible
}

// ---------------------------------------------------------------- at run time

/// `req.matches(version)`, with the range nearly every manifest declares (one caret
/// comparator, `^1` or `^1.2`, and no pre-release on either side) decided here, inline,
/// by the const matcher's [`matches_caret`] (the `semver` crate's rule for it, a few
/// integer compares, which its general path reaches through two calls and a pre-release
/// check: about 50 instructions a dependency at start-up). Anything else goes to
/// `semver`. A unit test holds the two to the same answer over every caret range and
/// version with parts of 0 to 2.
#[inline]
pub(super) fn req_matches(req: &semver::VersionReq, version: &semver::Version) -> bool {
    if let [comparator] = req.comparators.as_slice()
        && comparator.op == semver::Op::Caret
        && comparator.pre.is_empty()
        && version.pre.is_empty()
    {
        let caret = Comparator {
            op: Op::Caret,
            major: comparator.major,
            minor: comparator.minor,
            patch: comparator.patch,
            pre: Pre::NONE,
        };
        let version = Version {
            major: version.major,
            minor: version.minor,
            patch: version.patch,
            pre: Pre::NONE,
        };
        return matches_caret(&caret, &version);
    }
    req.matches(version)
}

#[cfg(test)]
mod tests {
    use super::*;
    use semver::{Version, VersionReq};

    /// [`req_matches`] answers as `semver` does for every caret range (`^M`, `^M.m`,
    /// `^M.m.p`) and every version with parts of 0 to 2, which covers each of its branches
    /// (major 0 or not, minor 0 or not, each part below, equal to and above), and for
    /// ranges and versions it hands to `semver` (a pre-release, two comparators, a tilde).
    #[test]
    fn the_caret_fast_path_agrees_with_semver() {
        let parts = 0..3u64;
        let mut ranges = Vec::new();
        for major in parts.clone() {
            ranges.push(format!("^{major}"));
            for minor in parts.clone() {
                ranges.push(format!("^{major}.{minor}"));
                for patch in parts.clone() {
                    ranges.push(format!("^{major}.{minor}.{patch}"));
                }
            }
        }
        ranges.extend(["^1.0.0-alpha", ">=1, <2", "~1.1", "=1.1.1", "*"].map(str::to_owned));
        let mut versions = Vec::new();
        for major in parts.clone() {
            for minor in parts.clone() {
                for patch in parts.clone() {
                    versions.push(Version::new(major, minor, patch));
                }
            }
        }
        versions.push(Version::parse("1.0.0-alpha").unwrap());
        versions.push(Version::parse("1.1.1-beta.2").unwrap());
        let mut compared = 0;
        for range in &ranges {
            let req = VersionReq::parse(range).unwrap();
            for version in &versions {
                assert_eq!(
                    req_matches(&req, version),
                    req.matches(version),
                    "{range} against {version}"
                );
                compared += 1;
            }
        }
        assert_eq!(compared, ranges.len() * versions.len());
    }
}
