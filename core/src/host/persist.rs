//! The registry file: per plugin, the version, the operator's status and optionally
//! the saved state, kept across restarts (the guide's file registry).
//!
//! It is small JSON, written atomically on every operator change: a temporary file in
//! the same directory, `fsync`, `rename` over the old one, `fsync` of the directory. A
//! file that does not parse, that is of a format this build does not read (a newer
//! build's, say), or that is larger than [`MAX_BYTES`] is set aside under a new name,
//! its bytes unchanged, and the host starts with defaults. Records of plugins the host
//! does not run are kept for when they come back, up to [`MAX_NOT_RUNNING`].

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The format this build reads and writes.
pub(crate) const FORMAT: u32 = 1;

/// The largest registry file read: a host's records take a few hundred bytes a plugin,
/// so 16 MiB is tens of thousands of plugins; a larger file is set aside unread.
pub(crate) const MAX_BYTES: u64 = 16 << 20;

/// How many records of plugins this host does not run are kept in the file (in id
/// order); the rest are dropped when the file is next written, and the notice says so.
pub(crate) const MAX_NOT_RUNNING: usize = 1_000;

/// What the file holds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct RegistryState {
    /// The file format; [`FORMAT`].
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
    /// The file is of a format this build does not read (written by a newer build,
    /// say); it was moved aside unchanged and the host started with defaults.
    OtherFormat {
        /// The registry file.
        path: PathBuf,
        /// Where the file now is, its bytes unchanged.
        moved_to: PathBuf,
        /// The format the file says it is.
        format: u64,
        /// The format this build reads.
        supported: u32,
    },
    /// The file is larger than this build reads (16 MiB); it was moved aside unread and
    /// the host started with defaults.
    TooLarge {
        /// The registry file.
        path: PathBuf,
        /// Where the file now is.
        moved_to: PathBuf,
        /// Its size.
        bytes: u64,
    },
    /// The file has records of plugins this host does not run. Up to 1,000 of them (in
    /// id order) are kept for when the plugins come back; the others are dropped when
    /// the file is next written.
    NotRunning {
        /// How many such records the file has.
        count: usize,
        /// The first few of their plugin ids, in id order.
        examples: Vec<String>,
        /// How many of them are dropped (beyond the 1,000 kept).
        dropped: usize,
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
            RegistryNotice::OtherFormat {
                path,
                moved_to,
                format,
                supported,
            } => write!(
                f,
                "the registry file `{}` is format {format}, which this build does not read (it reads format {supported}); it was moved, unchanged, to `{}` and the plugins start with their defaults",
                path.display(),
                moved_to.display()
            ),
            RegistryNotice::TooLarge { path, moved_to, bytes } => write!(
                f,
                "the registry file `{}` is {bytes} bytes, over the {MAX_BYTES} this build reads; it was moved, unread, to `{}` and the plugins start with their defaults",
                path.display(),
                moved_to.display()
            ),
            RegistryNotice::NotRunning {
                count,
                examples,
                dropped,
            } => {
                let more = if *count > examples.len() { ", …" } else { "" };
                write!(
                    f,
                    "the registry file has records of {count} plugin(s) this host does not run (`{}`{more}); they are kept for when the plugins come back",
                    examples.join("`, `")
                )?;
                if *dropped > 0 {
                    write!(
                        f,
                        ", up to {MAX_NOT_RUNNING}: {dropped} beyond that are dropped when the file is next written"
                    )?;
                }
                Ok(())
            }
            RegistryNotice::Io { path, error } => write!(
                f,
                "the registry file `{}` could not be used: {error}; the change took effect in memory only",
                path.display()
            ),
        }
    }
}

/// Reads the file. A missing file is an empty registry; a corrupt one, one of another
/// format and one over [`MAX_BYTES`] are set aside.
pub(crate) fn load(path: &Path) -> (RegistryState, Vec<RegistryNotice>) {
    let io = |error: std::io::Error| {
        let notice = RegistryNotice::Io {
            path: path.to_owned(),
            error: error.to_string(),
        };
        (RegistryState::default(), vec![notice])
    };
    let mut text = Vec::new();
    match File::open(path).and_then(|file| file.take(MAX_BYTES + 1).read_to_end(&mut text)) {
        Ok(_) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return (RegistryState::default(), Vec::new()),
        Err(error) => return io(error),
    }
    if text.len() as u64 > MAX_BYTES {
        let bytes = fs::metadata(path).map_or(text.len() as u64, |metadata| metadata.len());
        return set_aside(path, "too-large", |moved_to| RegistryNotice::TooLarge {
            path: path.to_owned(),
            moved_to,
            bytes,
        });
    }
    /// The part of any format that says which it is.
    #[derive(Deserialize)]
    struct Header {
        format: u64,
    }
    let parsed = serde_json::from_slice::<RegistryState>(&text);
    let format = match &parsed {
        Ok(state) => Some(u64::from(state.format)),
        Err(_) => serde_json::from_slice::<Header>(&text).ok().map(|header| header.format),
    };
    if let Some(format) = format.filter(|&format| format != u64::from(FORMAT)) {
        return set_aside(path, &format!("format-{format}"), |moved_to| {
            RegistryNotice::OtherFormat {
                path: path.to_owned(),
                moved_to,
                format,
                supported: FORMAT,
            }
        });
    }
    match parsed {
        Ok(state) => (state, Vec::new()),
        Err(error) => set_aside(path, "corrupt", |moved_to| RegistryNotice::SetAside {
            path: path.to_owned(),
            moved_to,
            reason: error.to_string(),
        }),
    }
}

/// Moves the file aside as `<name>.<why>-<unix seconds>[-n]`, never over another file,
/// and starts from defaults with `notice`; a file that cannot be moved is reported.
fn set_aside(
    path: &Path,
    why: &str,
    notice: impl FnOnce(PathBuf) -> RegistryNotice,
) -> (RegistryState, Vec<RegistryNotice>) {
    let moved_to = aside_name(path, why);
    let notice = match fs::rename(path, &moved_to) {
        Ok(()) => notice(moved_to),
        Err(rename) => RegistryNotice::Io {
            path: path.to_owned(),
            error: format!("it is unusable ({why}) and could not be moved aside: {rename}"),
        },
    };
    (RegistryState::default(), vec![notice])
}

/// `<name>.<why>-<unix seconds>[-n]`, next to the file, not yet taken.
fn aside_name(path: &Path, why: &str) -> PathBuf {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    let name = path
        .file_name()
        .map_or_else(|| "registry".into(), |n| n.to_string_lossy().into_owned());
    (0..)
        .map(|n| {
            let suffix = if n == 0 { String::new() } else { format!("-{n}") };
            path.with_file_name(format!("{name}.{why}-{seconds}{suffix}"))
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
    fn a_file_of_another_format_is_set_aside_unchanged_and_named() {
        let path = scratch("newer");
        let newer = b"{\"format\": 999, \"plugins\": {\"greeter\": {\"version\": \"0.3.0\", \"status\": \"enabled\", \"shape\": [1]}}}";
        fs::write(&path, newer).unwrap();
        let (state, notices) = load(&path);
        assert_eq!(state, RegistryState::default());
        let [
            notice @ RegistryNotice::OtherFormat {
                moved_to,
                format: 999,
                supported: 1,
                ..
            },
        ] = notices.as_slice()
        else {
            panic!("{notices:?}")
        };
        assert_eq!(fs::read(moved_to).unwrap(), newer);
        assert!(!path.exists());
        assert_eq!(
            notice.to_string(),
            format!(
                "the registry file `{}` is format 999, which this build does not read (it reads format 1); it was moved, unchanged, to `{}` and the plugins start with their defaults",
                path.display(),
                moved_to.display()
            )
        );
        // A format that does not even parse as this one's records is named all the same.
        fs::write(&path, b"{\"format\": 2, \"plugins\": [\"a list now\"]}").unwrap();
        let (_, notices) = load(&path);
        assert!(
            matches!(notices.as_slice(), [RegistryNotice::OtherFormat { format: 2, .. }]),
            "{notices:?}"
        );
    }

    #[test]
    fn a_file_over_the_limit_is_set_aside_unread() {
        let path = scratch("large");
        let file = File::create(&path).unwrap();
        file.set_len(MAX_BYTES + 1).unwrap();
        let (state, notices) = load(&path);
        assert_eq!(state, RegistryState::default());
        let [RegistryNotice::TooLarge { moved_to, bytes, .. }] = notices.as_slice() else {
            panic!("{notices:?}")
        };
        assert_eq!(*bytes, MAX_BYTES + 1);
        assert_eq!(fs::metadata(moved_to).unwrap().len(), MAX_BYTES + 1);
        fs::remove_file(moved_to).unwrap();
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
