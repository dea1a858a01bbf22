//! The patchpanel manifest, parsed and validated in one place.
//!
//! A plugin's manifest can be written in three places: `[package.metadata.plugin]` in its
//! `Cargo.toml` (kebab-case keys), inline in `#[register_plugin(...)]` (snake_case keys),
//! or in a `plugin.json` file in the shape of the plugin-system guide (camelCase keys).
//! Each source is first turned into the same located [`Node`] tree, and then one
//! validator, [`validate`], checks it and produces a [`Manifest`]. The proc-macro runs it
//! at build time, where the location is a source span; the runtime reuses the single
//! field checks in [`catalogue`] for manifests built in code.
//!
//! ```
//! use patchpanel_manifest::{parse_json, validate, Defaults, KeyStyle};
//!
//! let text = r#"{ "id": "greeter", "version": "1.2.0",
//!                 "dependencies": { "kv-store": "^1.0" },
//!                 "permissions": { "storage": { "read": true } } }"#;
//! let tree = parse_json(text).unwrap();
//! let manifest = validate(&tree, KeyStyle::Camel, &Defaults::default()).unwrap();
//! assert_eq!(manifest.id, "greeter");
//! assert_eq!(manifest.dependencies[0].id, "kv-store");
//! assert_eq!(manifest.permissions[0].to_string(), "storage.read");
//! ```
#![warn(missing_docs)]

mod builder;
pub mod catalogue;
mod json;
mod manifest;
mod toml_source;
mod tree;
mod validate;

pub use builder::{ManifestBuilder, ManifestError};
pub use json::parse_json;
pub use manifest::{Activation, Contributions, Dependency, Deprecation, Manifest, Permission, Scope};
pub use toml_source::parse_cargo_toml;
pub use tree::{FileLocation, Key, Node, Value};
pub use validate::{Defaults, Diagnostic, KeyStyle, validate};
