//! Registry queries: finding running plugins by text.

use super::{Host, PluginInfo};

impl Host {
    /// The plugins whose id, name or description contains `text`, ignoring case, in
    /// activation order, whatever their state (each [`PluginInfo`] says which; filter
    /// with [`PluginInfo::state`] for the active ones only).
    ///
    /// ```
    /// # use patchpanel::{Context, Host, Manifest, Plugin, PluginError, PluginSpec};
    /// # use patchpanel::testing::fn_plugin;
    /// let plugin = |id: &str, description: &str| {
    ///     fn_plugin(Manifest::builder(id, "1.0.0").description(description).build().unwrap(), |_| Ok(()))
    /// };
    /// let host = Host::builder()
    ///     .plugins(vec![plugin("greeter", "Greets people"), plugin("kv-store", "Keeps values")])
    ///     .build()?;
    /// let found: Vec<&str> = host.search("GREET").iter().map(|plugin| plugin.id()).collect();
    /// assert_eq!(found, ["greeter"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn search(&self, text: &str) -> Vec<PluginInfo<'_>> {
        let needle = text.to_lowercase();
        self.plugins()
            .filter(|plugin| {
                let manifest = plugin.manifest();
                [
                    manifest.id.as_str(),
                    manifest.name.as_str(),
                    manifest.description.as_str(),
                ]
                .iter()
                .any(|field| field.to_lowercase().contains(&needle))
            })
            .collect()
    }
}
