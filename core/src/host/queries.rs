//! Registry queries: finding running plugins by text, by version and by capability.

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

    /// The plugin `id` if the version that runs satisfies `version_req` (`"^1.2"`), in
    /// whatever state; `None` when no plugin has the id, the version does not match, or
    /// the range does not parse.
    ///
    /// ```
    /// # use patchpanel::{Host, Manifest};
    /// # use patchpanel::testing::fn_plugin;
    /// let host = Host::builder()
    ///     .plugins(vec![fn_plugin(Manifest::builder("clock", "2.1.0").build().unwrap(), |_| Ok(()))])
    ///     .build()?;
    /// assert!(host.plugin_matching("clock", "^2").is_some());
    /// assert!(host.plugin_matching("clock", "^1").is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn plugin_matching(&self, id: &str, version_req: &str) -> Option<PluginInfo<'_>> {
        let req = semver::VersionReq::parse(version_req).ok()?;
        self.plugin(id)
            .ok()
            .filter(|plugin| req.matches(&plugin.manifest().version))
    }

    /// The plugins that offer capability `name` (a command id, an event or service type
    /// name, a hook id...: see [`PluginInfo::capabilities`]), in activation order. A
    /// disabled plugin keeps its capabilities and is included, as is a lazy plugin not
    /// used yet (by its manifest); a failed one has none. Filter with
    /// [`PluginInfo::state`] to keep the serving ones only.
    pub fn plugins_with_capability(&self, name: &str) -> Vec<PluginInfo<'_>> {
        self.plugins()
            .filter(|plugin| plugin.capabilities().iter().any(|capability| capability.name == name))
            .collect()
    }
}
