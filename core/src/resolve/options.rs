//! What resolution checks besides the plugins themselves: the host's features and
//! version, the plugins the application expects, and its pins.

use std::borrow::Cow;
use std::collections::BTreeMap;

use semver::{Version, VersionReq};

use crate::manifest::{FEATURES, HOST_VERSION};
use crate::registry::ExpectedPlugin;

/// What resolution checks besides the plugins themselves.
#[derive(Clone, Debug)]
pub struct ResolveOptions {
    /// The host features plugins may require: by default the catalogue's, borrowed
    /// (a host built per test, or per request, allocates none of them).
    pub available_features: Vec<Cow<'static, str>>,
    /// Plugins the application expects to find (from `link_plugins!`).
    pub expected: Vec<ExpectedPlugin>,
    /// The host version `minHostVersion` is checked against.
    pub host_version: Version,
    /// The application's choice among linked versions of one id: the highest version
    /// the range accepts runs, and dependents must accept it (`HostBuilder::pin`).
    pub pins: BTreeMap<String, VersionReq>,
}

impl Default for ResolveOptions {
    fn default() -> ResolveOptions {
        ResolveOptions {
            available_features: FEATURES.iter().map(|feature| Cow::Borrowed(*feature)).collect(),
            expected: Vec::new(),
            host_version: host_version().clone(),
            pins: BTreeMap::new(),
        }
    }
}

impl ResolveOptions {
    /// Whether the host offers feature `feature`.
    pub(crate) fn offers(&self, feature: &str) -> bool {
        self.available_features.iter().any(|available| available == feature)
    }
}

/// This crate's version, parsed once a process.
fn host_version() -> &'static Version {
    static PARSED: std::sync::OnceLock<Version> = std::sync::OnceLock::new();
    PARSED.get_or_init(|| Version::parse(HOST_VERSION).expect("the crate version is semver"))
}
