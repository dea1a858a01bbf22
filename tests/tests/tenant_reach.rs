//! Which tenant a plugin's storage belongs to is the host's decision: reaching another
//! tenant needs `storage.tenants`, declared and granted, and is audited with both
//! tenants. Before 2026-12-06 any plugin could call `storage.tenant("acme")` from
//! globex's host, read acme's data and overwrite it, and the audit named no tenant.

use std::sync::{Arc, Mutex};

use patchpanel::testing::{FnPlugin, fn_plugin};
use patchpanel::{
    Host, Manifest,
    audit::Decision,
    manifest::Scope,
    storage::{MemoryStorage, RedbStorage, Storage, StorageBackend, StorageError},
};
use proptest::prelude::*;
use proptest::test_runner::Config;

type Handles = Arc<Mutex<Vec<Storage<FnPlugin>>>>;

/// Plugin `id` with storage read and write, and `storage.tenants` when `tenants`; each
/// tenant's instance leaves its storage handle in `handles`.
fn plugin(id: &str, tenants: bool, handles: &Handles) -> patchpanel::PluginSpec {
    let mut manifest = Manifest::builder(id, "1.0.0")
        .permission("storage", "read", Scope::PluginOnly)
        .permission("storage", "write", Scope::PluginOnly);
    if tenants {
        manifest = manifest.permission("storage", "tenants", Scope::PluginOnly);
    }
    let handles = handles.clone();
    fn_plugin(manifest.build().unwrap(), move |context| {
        handles.lock().unwrap().push(context.storage());
        Ok(())
    })
}

/// The handle of the instance running in `tenant`.
fn in_tenant(handles: &Handles, tenant: &str) -> Storage<FnPlugin> {
    let handles = handles.lock().unwrap();
    handles.iter().find(|h| h.tenant_name() == tenant).unwrap().clone()
}

#[test]
fn a_plugin_without_storage_tenants_stays_in_its_hosts_tenant() {
    let handles: Handles = Arc::default();
    let tenants = Host::builder()
        .plugins(vec![plugin("spy", false, &handles)])
        .build_tenants(["acme", "globex"])
        .unwrap();
    in_tenant(&handles, "acme").put("secret", b"acme's").unwrap();
    let globex = in_tenant(&handles, "globex");
    let error = globex.tenant("acme").unwrap_err();
    let StorageError::Denied(denied) = &error else {
        panic!("{error:?}")
    };
    assert_eq!((denied.plugin.as_str(), denied.action.as_str()), ("spy", "tenants"));
    assert_eq!(
        error.to_string(),
        "permission denied: plugin `spy` may not storage.tenants on `spy`: its manifest does not declare \
         `storage.tenants`; add `storage = [\"tenants\"]` to its permissions (from tenant `globex` into tenant `acme`)"
    );
    // Its own tenant needs nothing more.
    assert_eq!(globex.tenant("globex").unwrap().get("secret").unwrap(), None);
    let records = tenants.host("globex").unwrap().audit().records_for("spy");
    let record = records.iter().find(|r| r.action == "storage.tenants").unwrap();
    assert_eq!(record.decision, Decision::Denied);
    assert!(
        record
            .details
            .starts_with("target `spy` from tenant `globex` into tenant `acme`: "),
        "{}",
        record.details
    );
    assert_eq!(
        in_tenant(&handles, "acme").get("secret").unwrap().as_deref(),
        Some(&b"acme's"[..])
    );
}

#[test]
fn storage_tenants_reaches_the_plugins_own_namespace_in_another_tenant_audited_with_both() {
    let handles: Handles = Arc::default();
    let others: Handles = Arc::default();
    let tenants = Host::builder()
        .plugins(vec![plugin("billing", true, &handles), plugin("other", false, &others)])
        .build_tenants(["acme", "globex"])
        .unwrap();
    in_tenant(&handles, "acme").put("invoice", b"acme's").unwrap();
    in_tenant(&others, "acme").put("invoice", b"other's").unwrap();
    let reached = in_tenant(&handles, "globex").tenant("acme").unwrap();
    assert_eq!(reached.tenant_name(), "acme");
    assert_eq!(reached.get("invoice").unwrap().as_deref(), Some(&b"acme's"[..]));
    // Still its own namespace: another plugin's data in that tenant needs scope `all`.
    assert!(matches!(
        reached.read_from("other", "invoice"),
        Err(StorageError::Denied(_))
    ));
    let records = tenants.host("globex").unwrap().audit().records_for("billing");
    let details: Vec<(&str, Decision, &str)> = records
        .iter()
        .filter(|r| r.action.starts_with("storage."))
        .map(|r| (&*r.action, r.decision, &*r.details))
        .collect();
    assert_eq!(
        details[..2],
        [
            (
                "storage.tenants",
                Decision::Allowed,
                "target `billing` from tenant `globex` into tenant `acme`"
            ),
            (
                "storage.read",
                Decision::Allowed,
                "target `billing` in tenant `acme` (host tenant `globex`)"
            ),
        ]
    );
}

fn cases() -> Config {
    Config {
        cases: std::env::var("PROPTEST_CASES").map_or(128, |n| n.parse().unwrap()),
        failure_persistence: None,
        ..Config::default()
    }
}

/// Tenant names of any characters, including the ones a key encoding could confuse.
fn tenant_name() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[a-c:\\x00 0-9]{0,6}").unwrap()
}

/// Two tenants and two plugins (`a`, `b`), each with or without `storage.tenants`, on
/// `backend`: each instance writes its own value; then every instance tries every
/// other tenant. Exactly the instances holding `storage.tenants` reach their own
/// namespace there, see their own value and nothing of the other plugin's, and the
/// others are refused; the other tenant's values are unchanged either way.
fn tenants_hold(
    backend: Arc<dyn StorageBackend>,
    t1: &str,
    t2: &str,
    a_reaches: bool,
    b_reaches: bool,
) -> Result<(), TestCaseError> {
    let (a, b): (Handles, Handles) = (Arc::default(), Arc::default());
    let _tenants = Host::builder()
        .plugins(vec![plugin("a", a_reaches, &a), plugin("b", b_reaches, &b)])
        .storage(backend)
        .build_tenants([t1.to_owned(), t2.to_owned()])
        .unwrap();
    for (handles, id) in [(&a, "a"), (&b, "b")] {
        for tenant in [t1, t2] {
            in_tenant(handles, tenant)
                .put("k", format!("{id}@{tenant}").as_bytes())
                .unwrap();
        }
    }
    for (handles, id, reaches) in [(&a, "a", a_reaches), (&b, "b", b_reaches)] {
        for (from, to) in [(t1, t2), (t2, t1)] {
            match in_tenant(handles, from).tenant(to) {
                Ok(reached) => {
                    prop_assert!(reaches, "{id} reached {to:?} from {from:?} without storage.tenants");
                    prop_assert_eq!(reached.get("k").unwrap(), Some(format!("{id}@{to}").into_bytes()));
                    let other = if id == "a" { "b" } else { "a" };
                    prop_assert!(matches!(reached.read_from(other, "k"), Err(StorageError::Denied(_))));
                }
                Err(StorageError::Denied(denied)) => {
                    prop_assert!(!reaches, "{id} was refused {to:?}: {denied}");
                }
                Err(other) => return Err(TestCaseError::fail(format!("{other}"))),
            }
        }
    }
    for (handles, id) in [(&a, "a"), (&b, "b")] {
        for tenant in [t1, t2] {
            prop_assert_eq!(
                in_tenant(handles, tenant).get("k").unwrap(),
                Some(format!("{id}@{tenant}").into_bytes())
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn only_storage_tenants_reaches_another_tenant_in_memory(
        t1 in tenant_name(), t2 in tenant_name(), a_reaches in any::<bool>(), b_reaches in any::<bool>(),
    ) {
        prop_assume!(t1 != t2);
        tenants_hold(Arc::new(MemoryStorage::default()), &t1, &t2, a_reaches, b_reaches)?;
    }

    #[test]
    fn only_storage_tenants_reaches_another_tenant_in_redb(
        t1 in tenant_name(), t2 in tenant_name(), a_reaches in any::<bool>(), b_reaches in any::<bool>(),
    ) {
        prop_assume!(t1 != t2);
        let directory = tempdir();
        let backend = RedbStorage::open(directory.join("data.redb")).unwrap();
        tenants_hold(Arc::new(backend), &t1, &t2, a_reaches, b_reaches)?;
        let _ = std::fs::remove_dir_all(&directory);
    }
}

/// A fresh directory for one redb case.
fn tempdir() -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let directory = std::env::temp_dir().join(format!(
        "patchpanel-tenant-reach-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory).unwrap();
    directory
}
