//! Resolution at compile time: the set of plugins an application names in
//! [`link_plugins!`](crate::link_plugins), checked by the compiler.
//!
//! Every plugin type's manifest is `const` data ([`Registered::MANIFEST`]), so when the
//! application names its plugins, everything resolution needs is known while the
//! application compiles. `link_plugins!` builds a [`LinkedSet`] in a `const` item and
//! calls [`LinkedSet::check`]: a required dependency that is not named, a version that
//! does not meet a range, a dependency cycle, two named types with one id, or a
//! `min-host-version` above this build fail `cargo build` with a message that names the
//! plugins and the fix. An optional dependency that is not named is fine.
//!
//! The ranges are matched by a `const fn` semver matcher ([`range_matches`]) that follows the
//! `semver` crate's rules (Cargo's): `^`, `~`, `=`, `>`, `>=`, `<`, `<=`, bare versions
//! (caret), wildcards (`*`, `1.*`, `1.2.x`), comma-joined comparators, and pre-release
//! versions, which match only a comparator with the same `major.minor.patch` and a
//! pre-release of its own. A property test holds it to the `semver` crate over
//! generated versions and ranges.
//!
//! ```compile_fail
//! mod plugins {
//!     use patchpanel::{register_plugin, Context, Plugin, PluginError};
//!
//!     #[register_plugin(id = "greeter", version = "0.3.0", dependencies = { "kv-store" = "^1.0" })]
//!     #[derive(Default)]
//!     pub struct Greeter;
//!
//!     impl Plugin for Greeter {
//!         fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
//!             Ok(())
//!         }
//!     }
//! }
//!
//! // `greeter` depends on `kv-store`, which is not named: `cargo build` fails with
//! // "plugin `greeter` (plugins::Greeter) depends on `kv-store` ^1.0, which
//! // `link_plugins!` does not name; add the plugin crate that registers `kv-store` to
//! // `link_plugins!` (and to Cargo.toml), or make the dependency optional".
//! patchpanel::link_plugins! { plugins::Greeter }
//! # fn main() {}
//! ```
//!
//! [`Registered::MANIFEST`]: crate::registry::Registered::MANIFEST

use crate::registered::StaticManifest;

/// How long a compile-time resolution message may be; longer ones are cut.
const MESSAGE_CAPACITY: usize = 1024;

/// A message built in a `const fn`, for a `const` panic.
struct Message {
    bytes: [u8; MESSAGE_CAPACITY],
    len: usize,
}

impl Message {
    const fn new() -> Message {
        Message {
            bytes: [0; MESSAGE_CAPACITY],
            len: 0,
        }
    }

    const fn push(mut self, text: &str) -> Message {
        let text = text.as_bytes();
        let mut index = 0;
        while index < text.len() && self.len < MESSAGE_CAPACITY {
            self.bytes[self.len] = text[index];
            self.len += 1;
            index += 1;
        }
        self
    }

    /// Fails the `const` evaluation (the build) with the message.
    const fn fail(&self) -> ! {
        let (mut head, _) = self.bytes.split_at(self.len);
        // A message cut inside a character: drop the partial character.
        loop {
            match core::str::from_utf8(head) {
                Ok(text) => panic!("{}", text),
                Err(_) => head = head.split_at(head.len() - 1).0,
            }
        }
    }
}

// ---------------------------------------------------------------- versions

/// A pre-release, as a range of the text it was parsed from (empty: none).
#[derive(Clone, Copy)]
struct Pre<'a> {
    text: &'a [u8],
    start: usize,
    end: usize,
}

impl Pre<'_> {
    const fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

/// A version: `major.minor.patch[-pre][+build]`; the build is ignored, as semver does.
#[derive(Clone, Copy)]
struct Version<'a> {
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

const fn parse_version(text: &str) -> Version<'_> {
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
/// otherwise in ASCII order; more identifiers win a tie.
const fn pre_order(a: &Pre<'_>, b: &Pre<'_>) -> i8 {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return 0,
        (true, false) => return 1,
        (false, true) => return -1,
        (false, false) => {}
    }
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

const fn version_order(a: &Version<'_>, b: &Version<'_>) -> i8 {
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

// ---------------------------------------------------------------- the linked set

/// Whether id `a` sorts before id `b`, byte by byte (as `str`'s `Ord` does).
const fn id_before(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut index = 0;
    while index < a.len() && index < b.len() {
        if a[index] != b[index] {
            return a[index] < b[index];
        }
        index += 1;
    }
    a.len() < b.len()
}

/// The plugins an application names in `link_plugins!`, as `const` data: what the
/// macro checks while the application compiles. Not for direct use.
#[doc(hidden)]
pub struct LinkedSet<const N: usize> {
    manifests: [Option<&'static StaticManifest>; N],
    types: [&'static str; N],
    len: usize,
}

impl<const N: usize> Default for LinkedSet<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> LinkedSet<N> {
    /// An empty set with room for `N` plugins.
    pub const fn new() -> Self {
        LinkedSet {
            manifests: [None; N],
            types: [""; N],
            len: 0,
        }
    }

    /// The set with one more plugin: its registered manifest and its type's path.
    pub const fn with(mut self, manifest: &'static StaticManifest, type_name: &'static str) -> Self {
        self.manifests[self.len] = Some(manifest);
        self.types[self.len] = type_name;
        self.len += 1;
        self
    }

    const fn manifest(&self, index: usize) -> &'static StaticManifest {
        match self.manifests[index] {
            Some(manifest) => manifest,
            None => panic!("a linked set's entries are filled in order"),
        }
    }

    /// `plugin `<id>` (<type>)`, for messages.
    const fn name(&self, message: Message, index: usize) -> Message {
        message
            .push("plugin `")
            .push(self.manifest(index).id)
            .push("` (")
            .push(self.types[index])
            .push(")")
    }

    /// The named plugin with id `id`, if one is named.
    const fn find(&self, id: &str) -> Option<usize> {
        let mut index = 0;
        while index < self.len {
            if crate::support::same_str(self.manifest(index).id, id) {
                return Some(index);
            }
            index += 1;
        }
        None
    }

    /// Each named plugin's place in the activation order (indexes as named; entries
    /// past the set's length unused). Fails the build if the set cannot be resolved.
    pub const fn ranks(&self) -> [usize; N] {
        let order = self.check();
        let mut ranks = [0; N];
        let mut rank = 0;
        while rank < self.len {
            ranks[order[rank]] = rank;
            rank += 1;
        }
        ranks
    }

    /// Fails the build if the set cannot be resolved; returns the activation order
    /// (dependencies first; among the plugins ready, the smallest id first, as start-up
    /// orders them).
    pub const fn check(&self) -> [usize; N] {
        self.check_ids();
        self.check_host_version();
        self.check_dependencies();
        self.order()
    }

    const fn check_ids(&self) {
        let mut i = 0;
        while i < self.len {
            let mut j = i + 1;
            while j < self.len {
                if crate::support::same_str(self.manifest(i).id, self.manifest(j).id) {
                    let message = Message::new()
                        .push("`link_plugins!` names two plugin types with the id `")
                        .push(self.manifest(i).id)
                        .push("`: ")
                        .push(self.types[i])
                        .push(" (")
                        .push(self.manifest(i).version)
                        .push(") and ")
                        .push(self.types[j])
                        .push(" (")
                        .push(self.manifest(j).version)
                        .push("); one id runs one type: name one of them");
                    message.fail();
                }
                j += 1;
            }
            i += 1;
        }
    }

    const fn check_host_version(&self) {
        let host = parse_version(crate::manifest::HOST_VERSION);
        let mut i = 0;
        while i < self.len {
            if let Some(min) = self.manifest(i).min_host_version
                && version_order(&parse_version(min), &host) > 0
            {
                let message = self
                    .name(Message::new(), i)
                    .push(" needs patchpanel ")
                    .push(min)
                    .push(" or newer, but this is patchpanel ")
                    .push(crate::manifest::HOST_VERSION)
                    .push(
                        "; upgrade the `patchpanel` dependency, or name a release of the plugin that supports this one",
                    );
                message.fail();
            }
            i += 1;
        }
    }

    const fn check_dependencies(&self) {
        let mut i = 0;
        while i < self.len {
            let dependencies = self.manifest(i).dependencies;
            let mut d = 0;
            while d < dependencies.len() {
                let dependency = &dependencies[d];
                match self.find(dependency.id) {
                    None if dependency.optional => {}
                    None => {
                        let message = self
                            .name(Message::new(), i)
                            .push(" depends on `")
                            .push(dependency.id)
                            .push("` ")
                            .push(dependency.req)
                            .push(", which `link_plugins!` does not name; add the plugin crate that registers `")
                            .push(dependency.id)
                            .push("` to `link_plugins!` (and to Cargo.toml), or make the dependency optional");
                        message.fail();
                    }
                    Some(j) => {
                        if !range_matches(dependency.req, self.manifest(j).version) {
                            let message = self
                                .name(Message::new(), i)
                                .push(" needs `")
                                .push(dependency.id)
                                .push("` ")
                                .push(dependency.req)
                                .push(", but the `")
                                .push(dependency.id)
                                .push("` that `link_plugins!` names (")
                                .push(self.types[j])
                                .push(") is ")
                                .push(self.manifest(j).version)
                                .push("; name a release of `")
                                .push(dependency.id)
                                .push("` that meets ")
                                .push(dependency.req)
                                .push(", or change the range");
                            message.fail();
                        }
                    }
                }
                d += 1;
            }
            i += 1;
        }
    }

    /// Kahn's algorithm over the named plugins; a cycle fails the build, naming it.
    /// The tie-break is start-up's (the smallest id among the plugins ready), so that
    /// start-up can take this order as it is.
    const fn order(&self) -> [usize; N] {
        let mut order = [0; N];
        let mut placed = [false; N];
        let mut count = 0;
        while count < self.len {
            // The plugin with the smallest id whose named dependencies are placed.
            let mut next: Option<usize> = None;
            let mut i = 0;
            while i < self.len {
                if !placed[i] && self.unplaced_dependency(i, &placed).is_none() {
                    next = match next {
                        Some(best) if !id_before(self.manifest(i).id, self.manifest(best).id) => Some(best),
                        _ => Some(i),
                    };
                }
                i += 1;
            }
            match next {
                Some(i) => {
                    placed[i] = true;
                    order[count] = i;
                    count += 1;
                }
                None => self.fail_cycle(&placed),
            }
        }
        order
    }

    /// The first named dependency of `i` not placed yet, if any.
    const fn unplaced_dependency(&self, i: usize, placed: &[bool; N]) -> Option<usize> {
        let dependencies = self.manifest(i).dependencies;
        let mut d = 0;
        while d < dependencies.len() {
            if let Some(j) = self.find(dependencies[d].id)
                && !placed[j]
            {
                return Some(j);
            }
            d += 1;
        }
        None
    }

    /// [`LinkedSet::unplaced_dependency`] of a plugin left over by the ordering, which
    /// has one (else it would have been placed).
    const fn waits_on(&self, i: usize, placed: &[bool; N]) -> usize {
        match self.unplaced_dependency(i, placed) {
            Some(j) => j,
            None => panic!("a plugin left unplaced waits on another unplaced one"),
        }
    }

    /// Every unplaced plugin waits on another unplaced one, so following those edges
    /// from any of them enters a cycle within `len` steps; then the cycle is walked.
    const fn fail_cycle(&self, placed: &[bool; N]) -> ! {
        let mut start = 0;
        while placed[start] {
            start += 1;
        }
        let mut steps = 0;
        while steps < self.len {
            start = self.waits_on(start, placed);
            steps += 1;
        }
        let mut message = Message::new()
            .push("a dependency cycle among the plugins `link_plugins!` names: ")
            .push(self.manifest(start).id);
        let mut at = self.waits_on(start, placed);
        loop {
            message = message.push(" -> ").push(self.manifest(at).id);
            if at == start {
                break;
            }
            at = self.waits_on(at, placed);
        }
        message = message.push(
            " (each depends on the next); break the cycle by making one of these dependencies optional or removing it",
        );
        message.fail()
    }
}
