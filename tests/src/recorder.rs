//! A test plugin whose every lifecycle call is recorded, in order, in a shared log.

use std::sync::{Arc, Mutex};

use patchpanel::{Context, Manifest, Plugin, PluginError, PluginSpec, SavedState, config::PluginConfig};

/// The shared call log: entries like `greeter.activate`.
#[derive(Clone, Debug, Default)]
pub struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    /// Appends an entry.
    pub fn push(&self, entry: String) {
        self.0.lock().expect("log lock").push(entry);
    }

    /// Every entry so far.
    pub fn entries(&self) -> Vec<String> {
        self.0.lock().expect("log lock").clone()
    }

    /// Removes and returns every entry so far.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().expect("log lock"))
    }
}

/// What a recorder does when activated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Behaviour {
    /// Activates.
    #[default]
    Succeed,
    /// Returns an error from `activate`.
    Fail,
    /// Panics in `activate`.
    Panic,
}

/// A plugin that records its lifecycle calls.
#[derive(Debug, Default)]
pub struct Recorder {
    id: String,
    log: Log,
    behaviour: Behaviour,
    generation: u32,
    counter: u32,
}

impl Recorder {
    /// Increments the counter that survives reloads through `get_state`.
    pub fn bump(&mut self) -> u32 {
        self.counter += 1;
        self.counter
    }

    /// Which instance this is: 1 for the first, 2 after one reload...
    pub fn generation(&self) -> u32 {
        self.generation
    }
}

impl Plugin for Recorder {
    fn configure(&mut self, config: &PluginConfig) -> Result<(), PluginError> {
        self.log.push(format!("{}.configure({})", self.id, config.is_given()));
        Ok(())
    }

    fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
        self.log.push(format!("{}.activate", context.plugin_id()));
        match self.behaviour {
            Behaviour::Succeed => Ok(()),
            Behaviour::Fail => Err(PluginError::new(format!("{} refuses to start", self.id))),
            Behaviour::Panic => panic!("{} panicked on purpose", self.id),
        }
    }

    fn deactivate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
        self.log.push(format!("{}.deactivate", context.plugin_id()));
        Ok(())
    }

    fn get_state(&mut self) -> Result<Option<SavedState>, PluginError> {
        self.log.push(format!("{}.get_state", self.id));
        SavedState::new(&self.counter).map(Some)
    }

    fn restore_state(&mut self, state: SavedState) -> Result<(), PluginError> {
        self.log.push(format!("{}.restore_state", self.id));
        self.counter = state.get::<u32>()?;
        Ok(())
    }
}

/// A recorder spec for `id` at version 1.0.0 with `dependencies` (each `^1`).
pub fn recorder(log: &Log, id: &str, dependencies: &[&str], behaviour: Behaviour) -> PluginSpec {
    let mut manifest = Manifest::builder(id, "1.0.0");
    for dependency in dependencies {
        manifest = manifest.depends_on(dependency, "^1");
    }
    spec(log, manifest.build().expect("valid test manifest"), behaviour)
}

/// A recorder spec with the given manifest.
pub fn spec(log: &Log, manifest: Manifest, behaviour: Behaviour) -> PluginSpec {
    let log = log.clone();
    let id = manifest.id.clone();
    let generation = Arc::new(Mutex::new(0));
    PluginSpec::with_factory(manifest, move || {
        let mut generation = generation.lock().expect("generation lock");
        *generation += 1;
        log.push(format!("{id}.new"));
        Recorder {
            id: id.clone(),
            log: log.clone(),
            behaviour,
            generation: *generation,
            counter: 0,
        }
    })
}
