//! A plugin whose activation is a closure, for wiring tests: each test builds hosts of
//! small plugins that register exactly what the test needs.

use std::sync::Arc;

use plugboard::{Context, Manifest, Plugin, PluginError, PluginSpec};

type Activate = Arc<dyn Fn(&mut Context<'_, Wired>) -> Result<(), PluginError> + Send + Sync>;

/// A plugin that runs a test-supplied closure when it activates.
#[derive(Default)]
pub struct Wired {
    activate: Option<Activate>,
}

impl Plugin for Wired {
    fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
        match &self.activate {
            Some(activate) => activate(context),
            None => Ok(()),
        }
    }
}

/// A plugin `id` (version 1.0.0, depending on `dependencies` at `^1`) whose activation
/// runs `activate`.
pub fn wired(
    id: &str,
    dependencies: &[&str],
    activate: impl Fn(&mut Context<'_, Wired>) -> Result<(), PluginError> + Send + Sync + 'static,
) -> PluginSpec {
    let mut manifest = Manifest::builder(id, "1.0.0");
    for dependency in dependencies {
        manifest = manifest.depends_on(dependency, "^1");
    }
    let activate: Activate = Arc::new(activate);
    PluginSpec::with_factory(manifest.build().expect("valid test manifest"), move || {
        Wired {
            activate: Some(activate.clone()),
        }
    })
}
