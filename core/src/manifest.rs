//! The manifest: a plugin's id, version, dependencies and permissions.
//!
//! Written in `[package.metadata.plugin]`, inline in `#[register_plugin(...)]`, or in a
//! `plugin.json`; all three are validated at build time by the same code, which lives
//! in the `patchpanel-manifest` crate and is re-exported here.
//!
//! Guide chapter: [the manifest](crate::guide::manifest).

pub use patchpanel_manifest::catalogue::{FEATURES, HOST_VERSION, RESOURCES, check_id};
pub use patchpanel_manifest::{
    Activation, Contributions, Dependency, Deprecation, Manifest, ManifestBuilder, ManifestError, Permission, Scope,
};
