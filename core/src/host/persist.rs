//! The registry file: per plugin, the version, the operator's status and optionally
//! the saved state, kept across restarts (the guide's file registry).
//!
//! It is small JSON, written atomically on every operator change: a temporary file in
//! the same directory, `fsync`, `rename` over the old one, `fsync` of the directory. A
//! file that does not parse is set aside under a new name, never overwritten, and the
//! host starts with defaults.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// What the file holds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct RegistryState {
    /// The file format; 1.
    pub(crate) format: u32,
    pub(crate) plugins: BTreeMap<String, PluginRecord>,
}

/// One plugin's record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct PluginRecord {
    pub(crate) version: String,
    pub(crate) status: OperatorStatus,
    /// The plugin whose cascading disable took this one down; enabling that plugin
    /// brings this one back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) disabled_with: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) state: Option<serde_json::Value>,
}

/// Whether the operator wants the plugin running.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum OperatorStatus {
    Enabled,
    Disabled,
}

/// Something about the registry file the operator should know; see
/// [`Host::registry_notices`](crate::Host::registry_notices).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegistryNotice {
    /// The file did not parse; it was moved aside and the host started with defaults.
    SetAside {
        /// The registry file.
        path: PathBuf,
        /// Where the unreadable file now is.
        moved_to: PathBuf,
        /// What the parser said.
        reason: String,
    },
    /// A plugin's version differs from the one recorded; its status still applies, and
    /// its recorded state is not restored.
    VersionChanged {
        /// The plugin's id.
        plugin: String,
        /// The version in the file.
        recorded: String,
        /// The version running now.
        running: String,
    },
    /// The file names a plugin this host does not run; its record is kept.
    NotRunning {
        /// The plugin's id.
        plugin: String,
    },
    /// The file could not be read or written; the change took effect in memory only.
    Io {
        /// The registry file.
        path: PathBuf,
        /// What failed.
        error: String,
    },
}

impl fmt::Display for RegistryNotice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegistryNotice::SetAside { path, moved_to, reason } => write!(
                f,
                "the registry file `{}` is corrupt ({reason}); it was moved to `{}` and the plugins start with their defaults",
                path.display(),
                moved_to.display()
            ),
            RegistryNotice::VersionChanged {
                plugin,
                recorded,
                running,
            } => write!(
                f,
                "plugin `{plugin}` is version {running}, but the registry file recorded {recorded}; its status applies, its saved state is not restored"
            ),
            RegistryNotice::NotRunning { plugin } => {
                write!(
                    f,
                    "the registry file has a record for `{plugin}`, which this host does not run"
                )
            }
            RegistryNotice::Io { path, error } => write!(
                f,
                "the registry file `{}` could not be used: {error}; the change took effect in memory only",
                path.display()
            ),
        }
    }
}

/// Reads the file. A missing file is an empty registry; a corrupt one is set aside.
pub(crate) fn load(path: &Path) -> (RegistryState, Vec<RegistryNotice>) {
    let text = match fs::read(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return (RegistryState::default(), Vec::new()),
        Err(error) => {
            let notice = RegistryNotice::Io {
                path: path.to_owned(),
                error: error.to_string(),
            };
            return (RegistryState::default(), vec![notice]);
        }
    };
    match serde_json::from_slice::<RegistryState>(&text) {
        Ok(state) => (state, Vec::new()),
        Err(error) => {
            let moved_to = aside_name(path);
            let notice = match fs::rename(path, &moved_to) {
                Ok(()) => RegistryNotice::SetAside {
                    path: path.to_owned(),
                    moved_to,
                    reason: error.to_string(),
                },
                Err(rename) => RegistryNotice::Io {
                    path: path.to_owned(),
                    error: format!("it is corrupt ({error}) and could not be moved aside: {rename}"),
                },
            };
            (RegistryState::default(), vec![notice])
        }
    }
}

/// `<name>.corrupt-<unix seconds>[-n]`, next to the file, not yet taken.
fn aside_name(path: &Path) -> PathBuf {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    let name = path
        .file_name()
        .map_or_else(|| "registry".into(), |n| n.to_string_lossy().into_owned());
    (0..)
        .map(|n| {
            let suffix = if n == 0 { String::new() } else { format!("-{n}") };
            path.with_file_name(format!("{name}.corrupt-{seconds}{suffix}"))
        })
        .find(|candidate| !candidate.exists())
        .expect("some name is free")
}

/// Writes the file atomically: temp file, fsync, rename, fsync of the directory.
pub(crate) fn save(path: &Path, state: &RegistryState) -> std::io::Result<()> {
    let directory = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(directory)?;
    let name = path
        .file_name()
        .map_or_else(|| "registry".into(), |n| n.to_string_lossy().into_owned());
    let temporary = directory.join(format!(".{name}.tmp-{}", std::process::id()));
    let text = serde_json::to_vec_pretty(state).map_err(std::io::Error::other)?;
    let written = (|| {
        let mut file = File::create(&temporary)?;
        file.write_all(&text)?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        fs::rename(&temporary, path)?;
        // The rename is durable only once the directory entry is.
        File::open(directory)?.sync_all()
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("patchpanel-persist-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir.join("registry.json")
    }

    #[test]
    fn a_saved_registry_loads_back() {
        let path = scratch("roundtrip");
        let mut state = RegistryState {
            format: 1,
            ..RegistryState::default()
        };
        state.plugins.insert(
            "greeter".into(),
            PluginRecord {
                version: "0.3.0".into(),
                status: OperatorStatus::Disabled,
                disabled_with: Some("kv-store".into()),
                state: Some(serde_json::json!({ "greetings": 2 })),
            },
        );
        save(&path, &state).unwrap();
        assert_eq!(load(&path), (state, Vec::new()));
        assert_eq!(
            load(&path.with_file_name("absent.json")),
            (RegistryState::default(), Vec::new())
        );
    }

    #[test]
    fn a_corrupt_registry_is_set_aside_not_overwritten() {
        let path = scratch("corrupt");
        fs::write(&path, b"{\"truncated\": [").unwrap();
        let (state, notices) = load(&path);
        assert_eq!(state, RegistryState::default());
        let [RegistryNotice::SetAside { moved_to, reason, .. }] = notices.as_slice() else {
            panic!("{notices:?}")
        };
        assert_eq!(reason, "EOF while parsing a list at line 1 column 15");
        assert!(!path.exists());
        assert_eq!(fs::read(moved_to).unwrap(), b"{\"truncated\": [");
    }
}
