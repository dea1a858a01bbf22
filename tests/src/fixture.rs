//! Wiring fixtures: small plugins built from closures.

use plugboard::testing::{FnPlugin, fn_plugin};
use plugboard::{Context, Manifest, PluginError, PluginSpec};

/// A plugin `id` (version 1.0.0, depending on `dependencies` at `^1`) whose activation
/// runs `activate`.
pub fn wired(
    id: &str,
    dependencies: &[&str],
    activate: impl Fn(&mut Context<'_, FnPlugin>) -> Result<(), PluginError> + Send + Sync + 'static,
) -> PluginSpec {
    let mut manifest = Manifest::builder(id, "1.0.0");
    for dependency in dependencies {
        manifest = manifest.depends_on(dependency, "^1");
    }
    fn_plugin(manifest.build().expect("valid test manifest"), activate)
}
