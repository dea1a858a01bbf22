//! Fixtures shared by the benches: synthetic plugin sets of any size.

use patchpanel::{Context, Manifest, Plugin, PluginError, PluginSpec};

/// A plugin that does nothing, so a bench measures the host alone.
#[derive(Debug, Default)]
pub struct Noop;

impl Plugin for Noop {
    fn activate(&mut self, _context: &mut Context<'_, Self>) -> Result<(), PluginError> {
        Ok(())
    }
}

/// A manifest for bench plugin `id`, version 1.0.0, no dependencies.
pub fn manifest(id: &str) -> Manifest {
    patchpanel::testing::with_every_permission(Manifest::builder(id, "1.0.0"))
        .build()
        .expect("bench ids are valid")
}

/// `count` no-op plugins in a layered graph: plugin `i` depends on `i / 2` and `i / 3`
/// (when those differ from `i`), about two edges per plugin. Returned in reverse id
/// order so the resolver cannot profit from sorted input.
pub fn synthetic_plugins(count: usize) -> Vec<PluginSpec> {
    synthetic(count, false)
}

/// [`synthetic_plugins`], each lazy (it declares one command, `run`, and activates on
/// first use), for the start-up of a host that activates nothing.
pub fn synthetic_lazy_plugins(count: usize) -> Vec<PluginSpec> {
    synthetic(count, true)
}

fn synthetic(count: usize, lazy: bool) -> Vec<PluginSpec> {
    let id = |i: usize| format!("p{i:05}");
    (0..count)
        .rev()
        .map(|i| {
            let mut manifest = Manifest::builder(id(i), "1.0.0");
            let mut dependencies = vec![i / 2, i / 3];
            dependencies.retain(|&d| d != i);
            dependencies.dedup();
            for dependency in dependencies {
                manifest = manifest.depends_on(&id(dependency), "^1");
            }
            if lazy {
                manifest = manifest
                    .permission("commands", "register", patchpanel::Scope::PluginOnly)
                    .contributes("commands", "run")
                    .lazy();
            }
            PluginSpec::new::<Noop>(manifest.build().expect("synthetic manifests are valid"))
        })
        .collect()
}
