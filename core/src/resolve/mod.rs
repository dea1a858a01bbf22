//! Resolution: from an unordered set of plugins to a checked activation order.
//!
//! [`resolve`] turns a list of [`PluginSpec`]s (unordered, possibly with problems) into a
//! [`Resolution`] (ordered, every dependency satisfied). The two are different types, so
//! a host can only ever be started from a set that passed every check.
//!
//! # The order
//!
//! Dependencies come before their dependents. Among plugins whose dependencies are all
//! placed, the smallest id goes first. The order therefore depends only on the ids,
//! versions and dependencies, never on link order. Cost: O(V log V + E) for V plugins
//! and E dependency edges (the log is the sort by id; the ready queue is a bitmap).
//!
//! # Several versions of one id
//!
//! Two or more versions of one plugin id may be linked at once (for example while
//! dependents migrate). The rule: **the host selects the highest linked version that
//! satisfies every range that the other linked plugins declare on that id.** When no
//! version satisfies them all, the highest is selected and each dependent whose range it
//! misses is reported with [`ResolveError::NoMatchingVersion`], which lists the versions
//! present. Versions not selected are not instantiated; they are listed in
//! [`Resolution::superseded`]. Two entries with the same id *and* version are an error.
//!
//! Guide chapter: [resolution and lifecycle](crate::guide::lifecycle).

use std::fmt;
use std::ops::Range;

use semver::{Version, VersionReq};

use crate::manifest::ManifestError;
use crate::registry::PluginSpec;
use crate::support::FxHashMap;

mod graph;
pub(crate) mod linked;
mod options;
mod range;
pub use linked::range_matches;
pub use options::ResolveOptions;

pub(crate) use graph::Graph;
use graph::{ReadySet, Rows, find_cycles};
use range::req_matches;

/// A checked plugin set in activation order.
#[derive(Clone, Debug)]
pub struct Resolution {
    plugins: Vec<ResolvedPlugin>,
    graph: Graph,
    superseded: Vec<PluginSpec>,
}

/// One plugin in a [`Resolution`].
#[derive(Clone, Debug)]
pub struct ResolvedPlugin {
    /// The plugin as it was registered: its manifest and how to create it.
    pub spec: PluginSpec,
    /// Optional dependencies that are not linked.
    pub absent_optional: Vec<String>,
}

impl Resolution {
    /// The plugins, in activation order.
    pub fn plugins(&self) -> &[ResolvedPlugin] {
        &self.plugins
    }

    /// The ids in activation order.
    pub fn order(&self) -> Vec<&str> {
        self.plugins
            .iter()
            .map(|plugin| plugin.spec.manifest().id.as_str())
            .collect()
    }

    /// Positions in the activation order of the dependencies of the plugin at
    /// `position` that are present.
    ///
    /// # Panics
    ///
    /// If `position` is not below `plugins().len()`.
    pub fn dependencies(&self, position: usize) -> &[usize] {
        self.graph.dependencies(position)
    }

    /// Linked versions that lost to a higher version of the same id.
    pub fn superseded(&self) -> &[PluginSpec] {
        &self.superseded
    }

    pub(crate) fn into_parts(self) -> (Vec<ResolvedPlugin>, Graph, Vec<PluginSpec>) {
        (self.plugins, self.graph, self.superseded)
    }
}

/// One reason a plugin set cannot start.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ResolveError {
    /// Two linked plugins have the same id and the same version.
    #[error(
        "plugin `{id}` {version} is registered twice, by `{first}` and by `{second}`; \
         remove one of the two crates from the build, or give one a new id or version"
    )]
    DuplicateId {
        /// The plugin id that was given twice or is malformed.
        id: String,
        /// The version both declare.
        version: Version,
        /// The first type (by name).
        first: String,
        /// The second type.
        second: String,
    },
    /// A required dependency is not linked.
    #[error(
        "plugin `{plugin}` depends on `{dependency}` ({req}), which is not linked; add the crate \
         that registers `{dependency}` and name it in `link_plugins!`, or mark the dependency optional"
    )]
    MissingDependency {
        /// The dependent plugin.
        plugin: String,
        /// The missing id.
        dependency: String,
        /// The range it asked for.
        req: VersionReq,
    },
    /// The dependency is linked, but at no version the range accepts.
    #[error(
        "plugin `{plugin}` needs `{dependency}` {req}, but the linked versions are {}; \
         change the range in `{plugin}`'s manifest or link a matching version of `{dependency}`",
        list_versions(present)
    )]
    NoMatchingVersion {
        /// The dependent plugin.
        plugin: String,
        /// The dependency id.
        dependency: String,
        /// The semver range the dependency asks for.
        req: VersionReq,
        /// Every linked version of the dependency.
        present: Vec<Version>,
    },
    /// The application pins an id that no linked plugin has.
    #[error(
        "the application pins `{id}`, but no linked plugin has that id{}; correct the id, or remove the pin",
        suggestion.as_ref().map(|id| format!(" (did you mean `{id}`?)")).unwrap_or_default()
    )]
    PinUnknown {
        /// The pinned id.
        id: String,
        /// The closest linked id, when one is close.
        suggestion: Option<String>,
    },
    /// The application pins an id to a range no linked version satisfies.
    #[error(
        "the application pins `{id}` to {pin}, but the linked versions are {}; change the pin, or link a version it accepts",
        list_versions(present)
    )]
    PinUnsatisfied {
        /// The pinned id.
        id: String,
        /// The pin.
        pin: VersionReq,
        /// Every linked version of it.
        present: Vec<Version>,
    },
    /// A dependent's range does not accept the version the application pinned.
    #[error(
        "plugin `{plugin}` needs `{dependency}` {req}, but the application pins `{dependency}` to {pin}, which runs {pinned}; \
         change the pin or `{plugin}`'s range so that both accept one version"
    )]
    PinConflict {
        /// The dependent plugin.
        plugin: String,
        /// The pinned dependency.
        dependency: String,
        /// The dependent's range.
        req: VersionReq,
        /// The application's pin.
        pin: VersionReq,
        /// The version the pin selected.
        pinned: Version,
    },
    /// Plugins depend on each other in a circle.
    #[error(
        "dependency cycle: {}; remove one of these dependencies",
        path.join(" -> ")
    )]
    Cycle {
        /// The cycle, starting and ending with the same id; each depends on the next.
        path: Vec<String>,
    },
    /// The plugin needs a newer host.
    #[error(
        "plugin `{plugin}` needs patchpanel {required} or newer, but this host is {host}; \
         upgrade the `patchpanel` dependency, or use an older release of `{plugin}`"
    )]
    HostVersion {
        /// The plugin as it was registered: its manifest and how to create it.
        plugin: String,
        /// Its `minHostVersion`.
        required: Version,
        /// This host's version.
        host: Version,
    },
    /// The plugin requires a feature this host does not offer.
    #[error(
        "plugin `{plugin}` requires host feature `{feature}`, which this host does not offer \
         (available: {}); enable it on the host builder or remove `{feature}` from `requiredFeatures`",
        available.join(", ")
    )]
    MissingFeature {
        /// The plugin as it was registered: its manifest and how to create it.
        plugin: String,
        /// The host feature that is required and that this host does not provide.
        feature: String,
        /// The features the host offers.
        available: Vec<String>,
    },
    /// `link_plugins!` names a plugin that is not in the registry.
    #[error(
        "plugin `{id}` ({type_name}) is expected by `link_plugins!` but is not in the registry; \
         check that its crate is enabled and that `#[register_plugin]` is on `{type_name}`"
    )]
    NotRegistered {
        /// The expected id.
        id: String,
        /// The type named in `link_plugins!`.
        type_name: String,
    },
    /// A registry entry's manifest failed the runtime validator.
    #[error("{0}")]
    InvalidManifest(ManifestError),
}

fn list_versions(versions: &[Version]) -> String {
    versions.iter().map(Version::to_string).collect::<Vec<_>>().join(", ")
}

/// Every reason a plugin set cannot start, in a stable order.
#[derive(Clone, Debug, PartialEq)]
pub struct ResolveErrors(pub Vec<ResolveError>);

impl ResolveErrors {
    /// Every resolution error, in the order they were found; never empty.
    pub fn errors(&self) -> &[ResolveError] {
        &self.0
    }
}

impl fmt::Display for ResolveErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [only] => write!(f, "{only}"),
            many => {
                write!(f, "{} problems prevent start-up:", many.len())?;
                for error in many {
                    write!(f, "\n  - {error}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ResolveErrors {}

/// Each plugin's optional dependencies that are not linked, by position: the lists are
/// made when the first such dependency is found (most sets have none), for both ways
/// of resolving.
#[derive(Default)]
struct AbsentOptional(Vec<Vec<String>>);

impl AbsentOptional {
    /// Notes `dependency` of the plugin at `position`, among `count` plugins.
    #[cold]
    fn push(&mut self, count: usize, position: usize, dependency: &str) {
        if self.0.is_empty() {
            self.0.resize_with(count, Vec::new);
        }
        self.0[position].push(dependency.to_owned());
    }

    /// The plugin's list, taken out.
    #[inline]
    fn take(&mut self, position: usize) -> Vec<String> {
        self.0.get_mut(position).map(std::mem::take).unwrap_or_default()
    }
}

/// The first eight bytes of `id`, big-endian and zero-padded: ids order as these do, up
/// to there, and an id of at most eight bytes is its prefix and its length.
#[inline]
fn prefix_of(id: &str) -> u64 {
    let id = id.as_bytes();
    if let Some(head) = id.first_chunk::<8>() {
        return u64::from_be_bytes(*head);
    }
    if let (Some(first), Some(last)) = (id.first_chunk::<4>(), id.last_chunk::<4>()) {
        // Four to seven bytes: the first four and the last four (overlapping where they
        // meet, with the same bytes), each at its place from the top; no copy call.
        let tail = u64::from(u32::from_be_bytes(*last)) << (8 * (8 - id.len()));
        return (u64::from(u32::from_be_bytes(*first)) << 32) | tail;
    }
    id.iter()
        .enumerate()
        .fold(0, |prefix, (place, &byte)| prefix | u64::from(byte) << (56 - 8 * place))
}

/// Orders `specs` for activation, or reports every problem found.
///
/// ```
/// use patchpanel::resolve::{resolve, ResolveOptions};
/// use patchpanel::{Context, Manifest, Plugin, PluginError, PluginSpec};
///
/// #[derive(Default)]
/// struct Noop;
/// impl Plugin for Noop {
///     fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> { Ok(()) }
/// }
/// let spec = |id: &str, deps: &[&str]| {
///     let mut manifest = Manifest::builder(id, "1.0.0");
///     for dep in deps {
///         manifest = manifest.depends_on(dep, "^1");
///     }
///     PluginSpec::new::<Noop>(manifest.build().unwrap())
/// };
/// let resolution = resolve(
///     vec![spec("greeter", &["kv-store"]), spec("kv-store", &[]), spec("audit-trail", &[])],
///     &ResolveOptions::default(),
/// )
/// .unwrap();
/// assert_eq!(resolution.order(), ["audit-trail", "kv-store", "greeter"]);
/// ```
pub fn resolve(specs: Vec<PluginSpec>, options: &ResolveOptions) -> Result<Resolution, ResolveErrors> {
    match linked::in_linked_order(specs, options) {
        Ok(resolution) => Ok(resolution),
        Err(specs) => resolve_in_full(specs, options),
    }
}

/// [`resolve`] without first trying the order `link_plugins!` checked: for a caller that
/// tried it already (the host builder, before it sets impostors aside).
pub(crate) fn resolve_in_full(specs: Vec<PluginSpec>, options: &ResolveOptions) -> Result<Resolution, ResolveErrors> {
    let mut errors = Vec::new();

    // Sort by id, then highest version first, then type name so duplicates are reported
    // the same way in every build.
    // The first eight bytes of each id, big-endian, order ids as the strings do up to
    // there, so most comparisons are one integer compare instead of two pointer chases
    // and a `memcmp` (a third of resolving 10,000 plugins went to this sort).
    let prefix = |spec: &PluginSpec| prefix_of(&spec.manifest().id);
    // Sorting small (key, index) pairs and then moving each spec once is cheaper than
    // swapping the specs themselves.
    let mut keyed: Vec<(u64, usize)> = specs
        .iter()
        .enumerate()
        .map(|(index, spec)| (prefix(spec), index))
        .collect();
    keyed.sort_unstable_by(|&(pa, a), &(pb, b)| {
        pa.cmp(&pb).then_with(|| {
            let (a, b) = (&specs[a], &specs[b]);
            let (ma, mb) = (a.manifest(), b.manifest());
            ma.id
                .cmp(&mb.id)
                .then_with(|| mb.version.cmp(&ma.version))
                .then_with(|| a.type_name().cmp(b.type_name()))
        })
    });
    // Drop exact duplicates, and note each id's run of versions in the sorted list.
    // Neighbours with different prefixes have different ids: only equal prefixes need
    // the strings compared. The specs stay where they are until the end, which moves
    // each one once: `linked` refers to them in sorted order, and `origin` says where.
    let mut linked: Vec<&PluginSpec> = Vec::with_capacity(keyed.len());
    let mut origin: Vec<usize> = Vec::with_capacity(keyed.len());
    let mut runs: Vec<Range<usize>> = Vec::with_capacity(keyed.len());
    // Each run's id prefix and id length: with the runs' order, what finds a dependency.
    let mut run_keys: Vec<(u64, usize)> = Vec::with_capacity(keyed.len());
    let mut last_prefix = None;
    for (prefix, index) in keyed {
        let spec = &specs[index];
        let same_id = last_prefix == Some(prefix)
            && linked
                .last()
                .is_some_and(|last: &&PluginSpec| last.manifest().id == spec.manifest().id);
        last_prefix = Some(prefix);
        if same_id {
            let last = linked.last().expect("an id seen before");
            if last.manifest().version == spec.manifest().version {
                errors.push(ResolveError::DuplicateId {
                    id: spec.manifest().id.clone(),
                    version: spec.manifest().version.clone(),
                    first: last.type_name().to_owned(),
                    second: spec.type_name().to_owned(),
                });
                continue;
            }
            runs.last_mut().expect("an id seen before has a run").end += 1;
        } else {
            runs.push(linked.len()..linked.len() + 1);
            run_keys.push((prefix, spec.manifest().id.len()));
        }
        linked.push(spec);
        origin.push(index);
    }

    for expected in &options.expected {
        let found = runs.binary_search_by(|run| linked[run.start].manifest().id.as_str().cmp(expected.id));
        if found.is_err() {
            errors.push(ResolveError::NotRegistered {
                id: expected.id.to_owned(),
                type_name: expected.type_name.to_owned(),
            });
        }
    }

    // Select one version per id: the first (highest) of its run that satisfies every
    // range declared on it. Ranges are only gathered when some id has several versions.
    let mut chosen: Vec<usize> = runs.iter().map(|run| run.start).collect();
    // A pinned id runs the highest linked version its pin accepts, whatever the others
    // ask; their ranges are checked against it below.
    // Made only when the application pins something (`is_pinned` reads it).
    let mut pinned: Vec<Option<&VersionReq>> = Vec::new();
    if !options.pins.is_empty() {
        pinned.resize(runs.len(), None);
    }
    let is_pinned = |pinned: &[Option<&VersionReq>], run: usize| pinned.get(run).is_some_and(Option::is_some);
    for (id, pin) in &options.pins {
        let Ok(found) = runs.binary_search_by(|run| linked[run.start].manifest().id.as_str().cmp(id)) else {
            let ids: Vec<&str> = runs
                .iter()
                .map(|run| linked[run.start].manifest().id.as_str())
                .collect();
            errors.push(ResolveError::PinUnknown {
                id: id.to_string(),
                suggestion: patchpanel_manifest::catalogue::closest(id, &ids).map(str::to_owned),
            });
            continue;
        };
        let run = runs[found].clone();
        match run
            .clone()
            .find(|&index| pin.matches(&linked[index].manifest().version))
        {
            Some(index) => {
                chosen[found] = index;
                pinned[found] = Some(pin);
            }
            None => errors.push(ResolveError::PinUnsatisfied {
                id: id.to_string(),
                pin: pin.clone(),
                present: {
                    let mut present: Vec<Version> =
                        linked[run].iter().map(|spec| spec.manifest().version.clone()).collect();
                    present.sort();
                    present
                },
            }),
        }
    }
    if runs
        .iter()
        .enumerate()
        .any(|(run_index, run)| run.len() > 1 && !is_pinned(&pinned, run_index))
    {
        let mut constraints: FxHashMap<&str, Vec<&VersionReq>> = FxHashMap::default();
        for (_, run) in runs
            .iter()
            .enumerate()
            .filter(|(run_index, run)| run.len() > 1 && !is_pinned(&pinned, *run_index))
        {
            constraints.insert(&linked[run.start].manifest().id, Vec::new());
        }
        for spec in &linked {
            for dependency in &spec.manifest().dependencies {
                if let Some(reqs) = constraints.get_mut(dependency.id.as_str()) {
                    reqs.push(&dependency.req);
                }
            }
        }
        for (run, chosen) in runs.iter().zip(&mut chosen) {
            if let Some(reqs) = constraints.get(linked[run.start].manifest().id.as_str()) {
                *chosen = run
                    .clone()
                    .find(|&index| reqs.iter().all(|req| req.matches(&linked[index].manifest().version)))
                    .unwrap_or(run.start);
            }
        }
    }
    // A plugin's position is its run's (ids in order). A dependency is found by its id's
    // prefix, an integer key (the first run with that prefix; runs that share one are
    // neighbours), then among those runs by the id's length when it is at most eight
    // bytes (prefix and length are then the whole id), or by the whole id: hashing and
    // comparing integers, not strings, and reading no other manifest for a short id.
    let mut first_run: FxHashMap<u64, usize> = FxHashMap::default();
    first_run.reserve(run_keys.len());
    for (run, &(prefix, _)) in run_keys.iter().enumerate().rev() {
        first_run.insert(prefix, run);
    }
    let position = |id: &str| -> Option<usize> {
        let key = prefix_of(id);
        let first = *first_run.get(&key)?;
        let mut sharing = (first..run_keys.len()).take_while(|&run| run_keys[run].0 == key);
        if id.len() <= 8 {
            sharing.find(|&run| run_keys[run].1 == id.len())
        } else {
            sharing.find(|&run| linked[runs[run].start].manifest().id == id)
        }
    };
    let count = chosen.len();

    // Per-plugin checks and the dependency graph. Positions follow id order, which is
    // the tie-break order.
    // The graph as two flat tables (one allocation each, not one per plugin): a third
    // of start-up time went to allocating and freeing per-plugin vectors.
    let mut dependencies = Rows::with_capacity(count, count * 2);
    let mut absent_optional = AbsentOptional::default();
    for (index, &linked_index) in chosen.iter().enumerate() {
        dependencies.start_row();
        let manifest = linked[linked_index].manifest();
        if let Some(required) = &manifest.min_host_version
            && *required > options.host_version
        {
            errors.push(ResolveError::HostVersion {
                plugin: manifest.id.clone(),
                required: required.clone(),
                host: options.host_version.clone(),
            });
        }
        for feature in &manifest.required_features {
            if !options.offers(feature) {
                errors.push(ResolveError::MissingFeature {
                    plugin: manifest.id.clone(),
                    feature: feature.clone(),
                    available: options.available_features.iter().map(|f| f.to_string()).collect(),
                });
            }
        }
        for dependency in &manifest.dependencies {
            match position(&dependency.id) {
                None if dependency.optional => absent_optional.push(count, index, &dependency.id),
                None => errors.push(ResolveError::MissingDependency {
                    plugin: manifest.id.clone(),
                    dependency: dependency.id.clone(),
                    req: dependency.req.clone(),
                }),
                Some(target)
                    if is_pinned(&pinned, target)
                        && !req_matches(&dependency.req, &linked[chosen[target]].manifest().version) =>
                {
                    errors.push(ResolveError::PinConflict {
                        plugin: manifest.id.clone(),
                        dependency: dependency.id.clone(),
                        req: dependency.req.clone(),
                        pin: pinned[target].cloned().expect("checked above"),
                        pinned: linked[chosen[target]].manifest().version.clone(),
                    });
                }
                Some(target) if !req_matches(&dependency.req, &linked[chosen[target]].manifest().version) => {
                    let mut present: Vec<Version> = linked[runs[target].clone()]
                        .iter()
                        .map(|spec| spec.manifest().version.clone())
                        .collect();
                    present.sort();
                    errors.push(ResolveError::NoMatchingVersion {
                        plugin: manifest.id.clone(),
                        dependency: dependency.id.clone(),
                        req: dependency.req.clone(),
                        present,
                    });
                }
                Some(target) => dependencies.push(target),
            }
        }
    }
    let dependents = dependencies.transpose();

    // Kahn's algorithm with an id-ordered ready queue.
    let mut waiting: Vec<usize> = (0..count).map(|index| dependencies[index].len()).collect();
    let mut ready = ReadySet::new(count);
    for index in (0..count).filter(|&index| waiting[index] == 0) {
        ready.insert(index);
    }
    let mut order = Vec::with_capacity(count);
    while let Some(index) = ready.pop_smallest() {
        order.push(index);
        for &dependent in &dependents[index] {
            waiting[dependent] -= 1;
            if waiting[dependent] == 0 {
                ready.insert(dependent);
            }
        }
    }
    if order.len() < count {
        for path in find_cycles(&dependencies, &waiting) {
            errors.push(ResolveError::Cycle {
                path: path
                    .into_iter()
                    .map(|i| linked[chosen[i]].manifest().id.clone())
                    .collect(),
            });
        }
    }

    if !errors.is_empty() {
        return Err(ResolveErrors(errors));
    }

    let mut order_of = vec![0; count];
    for (rank, &index) in order.iter().enumerate() {
        order_of[index] = rank;
    }
    // Where each chosen plugin's spec is, and the other linked versions', in sorted order.
    let mut chosen_linked = vec![false; linked.len()];
    for &index in &chosen {
        chosen_linked[index] = true;
    }
    let superseded_at: Vec<usize> = (0..linked.len())
        .filter(|&index| !chosen_linked[index])
        .map(|index| origin[index])
        .collect();
    let chosen_at: Vec<usize> = chosen.iter().map(|&index| origin[index]).collect();
    drop(linked);
    let mut specs: Vec<Option<PluginSpec>> = specs.into_iter().map(Some).collect();
    let mut take = |at: usize| specs[at].take().expect("each spec is placed once");
    let superseded = superseded_at.into_iter().map(&mut take).collect();
    let mut in_order = Rows::with_capacity(count, dependencies.edge_count());
    let plugins = order
        .iter()
        .map(|&index| {
            in_order.start_row();
            for &dependency in &dependencies[index] {
                in_order.push(order_of[dependency]);
            }
            ResolvedPlugin {
                spec: take(chosen_at[index]),
                absent_optional: absent_optional.take(index),
            }
        })
        .collect();
    Ok(Resolution {
        plugins,
        graph: Graph::new(in_order),
        superseded,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An id's prefix is its first eight bytes, zero-padded, for every length.
    #[test]
    fn an_id_prefix_is_its_first_eight_bytes_zero_padded() {
        for id in [
            "",
            "a",
            "kv",
            "abc",
            "abcd",
            "abcde",
            "abcdef",
            "abcdefg",
            "abcdefgh",
            "abcdefghijk",
        ] {
            let mut bytes = [0u8; 8];
            let head = id.len().min(8);
            bytes[..head].copy_from_slice(&id.as_bytes()[..head]);
            assert_eq!(prefix_of(id), u64::from_be_bytes(bytes), "{id:?}");
        }
    }
}
