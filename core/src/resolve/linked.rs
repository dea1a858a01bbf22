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

use super::graph::Rows;
pub use super::range::range_matches;
use super::range::{parse_version, version_order};
use super::{Graph, Resolution, ResolveOptions, ResolvedPlugin};
use crate::registered::StaticManifest;
use crate::registry::PluginSpec;
use crate::support::FxHashMap;

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

/// The resolution of `specs` in the order `link_plugins!` checked while the application
/// compiled, when they are exactly the plugins it named (each id the type named, every
/// one of them, nothing else) and no pin asks for a choice among versions: then the
/// checks that order passed need not run again (versions in range, no cycle, one type an
/// id), and the order need not be computed. What the application may set at run time is
/// still checked (the host version, the host's features), and so is, cheaply, that each
/// dependency comes first. Anything else gives the specs back for [`resolve`](super::resolve)'s full
/// path, which reports what is wrong; the result is the same either way, since the
/// compile-time order breaks ties as [`resolve`](super::resolve) does (the smallest id first).
pub(crate) fn in_linked_order(specs: Vec<PluginSpec>, options: &ResolveOptions) -> Result<Resolution, Vec<PluginSpec>> {
    let count = specs.len();
    if options.expected.len() != count || count == 0 || !options.pins.is_empty() {
        return Err(specs);
    }
    // Each expected plugin's place, by id.
    let mut named: FxHashMap<&str, (usize, std::any::TypeId)> = FxHashMap::default();
    named.reserve(count);
    for expected in &options.expected {
        match expected.linked_rank() {
            Some(rank) if rank < count && named.insert(expected.id, (rank, expected.type_id)).is_none() => {}
            _ => return Err(specs),
        }
    }
    // Which spec goes at each place: exactly the named types, once each.
    let mut at_rank = vec![usize::MAX; count];
    for (index, spec) in specs.iter().enumerate() {
        match named.get(spec.manifest().id.as_str()) {
            Some(&(rank, type_id)) if type_id == spec.type_id() && at_rank[rank] == usize::MAX => {
                at_rank[rank] = index;
            }
            _ => return Err(specs),
        }
    }
    // The graph, in that order; every dependency must come first.
    let mut dependencies = Rows::with_capacity(count, count * 2);
    let mut absent_optional = super::AbsentOptional::default();
    for (rank, &index) in at_rank.iter().enumerate() {
        dependencies.start_row();
        let manifest = specs[index].manifest();
        let too_new = manifest
            .min_host_version
            .as_ref()
            .is_some_and(|required| *required > options.host_version);
        let missing_feature = manifest
            .required_features
            .iter()
            .any(|feature| !options.offers(feature));
        if too_new || missing_feature {
            return Err(specs);
        }
        for dependency in &manifest.dependencies {
            match named.get(dependency.id.as_str()) {
                Some(&(before, _)) if before < rank => dependencies.push(before),
                None if dependency.optional => absent_optional.push(count, rank, &dependency.id),
                _ => return Err(specs),
            }
        }
    }
    drop(named);
    let mut slots: Vec<Option<PluginSpec>> = specs.into_iter().map(Some).collect();
    let plugins = at_rank
        .iter()
        .enumerate()
        .map(|(rank, &index)| ResolvedPlugin {
            spec: slots[index].take().expect("each spec has one place"),
            absent_optional: absent_optional.take(rank),
        })
        .collect();
    Ok(Resolution {
        plugins,
        graph: Graph::new(dependencies),
        superseded: Vec::new(),
    })
}

#[cfg(test)]
mod linked_order_tests {
    use super::*;
    use crate::registry::ExpectedPlugin;
    use crate::resolve::resolve;
    use crate::testing::fn_plugin;
    use crate::{Manifest, PluginSpec};
    use semver::{Version, VersionReq};

    fn plugin(id: &str, deps: &[(&str, bool)]) -> PluginSpec {
        let mut manifest = Manifest::builder(id, "1.0.0");
        for &(dep, optional) in deps {
            manifest = if optional {
                manifest.optional_dependency(dep, "^1")
            } else {
                manifest.depends_on(dep, "^1")
            };
        }
        fn_plugin(manifest.build().unwrap(), |_| Ok(()))
    }

    fn specs() -> Vec<PluginSpec> {
        vec![
            plugin("web", &[("store", false), ("auth", false), ("cache", true)]),
            plugin("store", &[]),
            plugin("auth", &[("store", false)]),
        ]
    }

    /// Expectations of `specs` at the given places (`None`: made at run time).
    fn expected(specs: &[PluginSpec], ranks: &[Option<usize>]) -> Vec<ExpectedPlugin> {
        specs
            .iter()
            .zip(ranks)
            .map(|(spec, rank)| {
                let id: &'static str = Box::leak(spec.manifest().id.clone().into_boxed_str());
                let named = ExpectedPlugin::new(id, "fn-plugin", spec.type_id());
                match rank {
                    Some(rank) => named.in_linked_order(*rank),
                    None => named,
                }
            })
            .collect()
    }

    fn options(expected: Vec<ExpectedPlugin>) -> ResolveOptions {
        ResolveOptions {
            expected,
            ..ResolveOptions::default()
        }
    }

    #[test]
    fn the_checked_order_is_taken_as_it_is() {
        let specs = specs();
        let linked = options(expected(&specs, &[Some(2), Some(0), Some(1)]));
        let resolution = in_linked_order(specs, &linked).expect("the fast path applies");
        assert_eq!(resolution.order(), ["store", "auth", "web"]);
        // `web`'s dependencies as its manifest lists them (by id): `auth` at 1, `store` at 0.
        assert_eq!(resolution.dependencies(2), [1, 0]);
        assert_eq!(resolution.plugins()[2].absent_optional, ["cache"]);
        // The full path gives the same.
        let full = resolve(self::specs(), &options(expected(&self::specs(), &[None, None, None]))).unwrap();
        assert_eq!(full.order(), resolution.order());
        assert_eq!(full.dependencies(2), resolution.dependencies(2));
    }

    #[test]
    fn anything_else_goes_the_full_way() {
        // A dependency placed after its dependent.
        let specs = specs();
        let bad_order = options(expected(&specs, &[Some(2), Some(1), Some(0)]));
        assert!(in_linked_order(specs, &bad_order).is_err());
        assert_eq!(
            resolve(self::specs(), &bad_order).unwrap().order(),
            ["store", "auth", "web"]
        );
        // A plugin the application did not name.
        let mut more = self::specs();
        more.push(plugin("extra", &[]));
        assert!(in_linked_order(more, &options(expected(&self::specs(), &[Some(2), Some(0), Some(1)]))).is_err());
        // An expectation made at run time, a repeated place, a pin.
        for ranks in [[None, Some(0), Some(1)], [Some(1), Some(0), Some(1)]] {
            assert!(in_linked_order(self::specs(), &options(expected(&self::specs(), &ranks))).is_err());
        }
        let mut pinned = options(expected(&self::specs(), &[Some(2), Some(0), Some(1)]));
        pinned.pins.insert("store".to_owned(), VersionReq::parse("^1").unwrap());
        assert!(in_linked_order(self::specs(), &pinned).is_err());
        // A host too old for a plugin: the full path reports it.
        let mut old_host = options(expected(&self::specs(), &[Some(2), Some(0), Some(1)]));
        old_host.host_version = Version::new(0, 0, 1);
        let mut manifest = Manifest::builder("store", "1.0.0");
        manifest = manifest.min_host_version("0.1.0");
        let needs_newer = vec![
            plugin("web", &[("store", false), ("auth", false)]),
            fn_plugin(manifest.build().unwrap(), |_| Ok(())),
            plugin("auth", &[("store", false)]),
        ];
        assert!(in_linked_order(needs_newer, &old_host).is_err());
    }
}
