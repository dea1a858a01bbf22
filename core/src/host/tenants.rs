//! Tenants: one host per tenant, from one registry and one resolution.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use super::{Host, HostBuilder, ShutdownReport, StartError};
use crate::storage::MemoryStorage;

/// One host per tenant, from [`HostBuilder::build_tenants`].
#[derive(Debug)]
pub struct Tenants {
    hosts: std::collections::BTreeMap<String, Host>,
}

impl Tenants {
    /// The host of `tenant`.
    pub fn host(&self, tenant: &str) -> Option<&Host> {
        self.hosts.get(tenant)
    }

    /// Every tenant and its host, by tenant name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Host)> {
        self.hosts.iter().map(|(tenant, host)| (tenant.as_str(), host))
    }

    /// Shuts every tenant's host down, and reports what each did.
    pub fn shutdown(self) -> Vec<(String, ShutdownReport)> {
        self.hosts
            .into_iter()
            .map(|(tenant, host)| (tenant, host.shutdown()))
            .collect()
    }
}

impl HostBuilder {
    /// The host serves `tenant`: its plugins' storage handles start in that tenant's
    /// namespace (`Storage::tenant` still reaches another one explicitly). See
    /// [`HostBuilder::build_tenants`] for one host per tenant.
    pub fn tenant(mut self, tenant: impl Into<String>) -> HostBuilder {
        self.tenant = Some(tenant.into());
        self
    }

    /// One host per tenant, from one registry and one resolution: each tenant gets its
    /// own plugin instances (and so its own in-memory state), its own storage
    /// namespace in the shared backend, and its own tables (event delivery, services,
    /// hooks, messages). Nothing one tenant's plugins do reaches another's. A registry
    /// file or an audit file given to the builder gets the tenant's name appended
    /// (`registry.json.acme`), so tenants never share one.
    ///
    /// ```
    /// # use patchpanel::{Host, Manifest, manifest::Scope};
    /// # use patchpanel::testing::fn_plugin;
    /// # let counter = fn_plugin(Manifest::builder("counter", "1.0.0")
    /// #     .permission("commands", "register", Scope::PluginOnly)
    /// #     .permission("storage", "read", Scope::PluginOnly)
    /// #     .permission("storage", "write", Scope::PluginOnly).build()?, |context| {
    /// #     let storage = context.storage();
    /// #     context.command("bump", move |_, (): ()| {
    /// #         let stored = storage.update("n", |n| Some(vec![n.map_or(0, |n| n[0]) + 1]))?;
    /// #         Ok(stored.map_or(0, |n| n[0]))
    /// #     })?;
    /// #     Ok(())
    /// # });
    /// let tenants = Host::builder().plugins(vec![counter]).build_tenants(["acme", "globex"])?;
    /// let (acme, globex) = (tenants.host("acme").unwrap(), tenants.host("globex").unwrap());
    /// assert_eq!(acme.execute::<(), u8>("counter:bump", ())?, 1);
    /// assert_eq!(acme.execute::<(), u8>("counter:bump", ())?, 2);
    /// assert_eq!(globex.execute::<(), u8>("counter:bump", ())?, 1, "its own namespace");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build_tenants<S: Into<String>>(
        mut self,
        tenants: impl IntoIterator<Item = S>,
    ) -> Result<Tenants, StartError> {
        let resolution = self.resolve()?;
        // One backend for all, unless the application gave one: tenants are namespaces.
        let storage = self
            .storage
            .take()
            .unwrap_or_else(|| Arc::new(MemoryStorage::default()));
        let mut hosts = std::collections::BTreeMap::new();
        for tenant in tenants {
            let tenant: String = tenant.into();
            let suffixed = |path: &Option<PathBuf>| {
                path.as_ref().map(|path| {
                    let mut name = path.clone().into_os_string();
                    name.push(format!(".{tenant}"));
                    PathBuf::from(name)
                })
            };
            // Every option as given, but this tenant's name, files and the shared backend
            // (`resolve` above took the plugin list and the bad pins).
            let builder = HostBuilder {
                storage: Some(Arc::clone(&storage)),
                audit_file: suffixed(&self.audit_file),
                registry_file: suffixed(&self.registry_file),
                tenant: Some(tenant.clone()),
                ..self.clone()
            };
            let host = builder.build_resolved(resolution.clone(), Instant::now())?;
            hosts.insert(tenant, host);
        }
        Ok(Tenants { hosts })
    }
}
