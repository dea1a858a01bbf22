//! A plugin's id as the host hands it out in reports: shared with the host's own
//! tables, so a report of 10,000 plugins copies no text.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// A plugin's id, shared with the host that reported it (an `Arc<str>` underneath: a
/// clone is a reference count, not a copy). It reads as a `&str` (`Deref`, `Borrow`)
/// and compares with the text it holds, so reports compare against literals:
///
/// ```
/// use patchpanel::host::PluginId;
///
/// let id = PluginId::from("greeter");
/// assert_eq!(id, "greeter");
/// assert_eq!(vec![id.clone()], ["greeter"]);
/// assert_eq!([id.clone(), PluginId::from("kv")].join(", "), "greeter, kv");
/// assert_eq!(id.len(), 7);
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PluginId(Arc<str>);

impl PluginId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<Arc<str>> for PluginId {
    fn from(id: Arc<str>) -> PluginId {
        PluginId(id)
    }
}

impl From<&str> for PluginId {
    fn from(id: &str) -> PluginId {
        PluginId(Arc::from(id))
    }
}

impl From<PluginId> for String {
    fn from(id: PluginId) -> String {
        id.as_str().to_owned()
    }
}

impl Deref for PluginId {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for PluginId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for PluginId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PluginId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for PluginId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for PluginId {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for PluginId {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl PartialEq<String> for PluginId {
    fn eq(&self, other: &String) -> bool {
        *self.0 == **other
    }
}

impl serde::Serialize for PluginId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::PluginId;

    #[test]
    fn compares_and_reads_as_its_text() {
        let id = PluginId::from("greeter");
        assert_eq!(id, "greeter");
        assert_eq!(id, String::from("greeter"));
        assert_ne!(id, "greeter2");
        assert_eq!(format!("{id} {id:?}"), "greeter \"greeter\"");
        assert_eq!(String::from(id.clone()), "greeter");
        assert!(id.starts_with("greet"));
        let shared: std::sync::Arc<str> = std::sync::Arc::from("kv");
        let from_arc = PluginId::from(std::sync::Arc::clone(&shared));
        assert_eq!(std::sync::Arc::strong_count(&shared), 2, "a clone shares the text");
        assert_eq!(from_arc.as_str(), "kv");
    }
}
