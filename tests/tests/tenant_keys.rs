//! Tenant and namespace keys cannot collide, on any backend, for any strings: a
//! property test over arbitrary tenant, namespace and key strings (NUL bytes, colons,
//! digits and the empty string included), on MemoryStorage and RedbStorage.

use std::collections::BTreeMap;

use patchpanel::storage::{MemoryStorage, RedbStorage, StorageBackend};
use proptest::prelude::*;

/// A few (tenant, namespace, key) triples, drawn from a small alphabet that makes
/// near-collisions likely: `\0`, `:`, digits, and letters.
fn triples() -> impl Strategy<Value = Vec<(String, String, String)>> {
    let part = "[a\\x00:0-9]{0,4}";
    prop::collection::vec((part, part, part), 1..8)
}

/// Writes a distinct value under each triple, then checks that each reads back its own
/// value and that listing a (tenant, namespace) pair gives exactly its own keys.
fn never_collide(backend: &dyn StorageBackend, triples: &[(String, String, String)]) -> Result<(), TestCaseError> {
    let mut expected: BTreeMap<(String, String, String), Vec<u8>> = BTreeMap::new();
    for (index, (tenant, namespace, key)) in triples.iter().enumerate() {
        let value = index.to_le_bytes().to_vec();
        backend.put(tenant, namespace, key, &value).unwrap();
        expected.insert((tenant.clone(), namespace.clone(), key.clone()), value);
    }
    for ((tenant, namespace, key), value) in &expected {
        let stored = backend.get(tenant, namespace, key).unwrap();
        prop_assert_eq!(stored.as_ref(), Some(value));
        let mut listed = backend.keys(tenant, namespace).unwrap();
        listed.sort();
        let own: Vec<String> = expected
            .keys()
            .filter(|(t, n, _)| t == tenant && n == namespace)
            .map(|(_, _, k)| k.clone())
            .collect();
        prop_assert_eq!(listed, own);
    }
    Ok(())
}

proptest! {
    #[test]
    fn memory_storage_keys_never_collide(triples in triples()) {
        never_collide(&MemoryStorage::default(), &triples)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn redb_storage_keys_never_collide(triples in triples()) {
        let directory = std::env::temp_dir().join(format!("patchpanel-tenant-keys-{}", std::process::id()));
        std::fs::create_dir_all(&directory).unwrap();
        let path = directory.join(format!("{}.redb", std::thread::current().name().unwrap_or("t").replace("::", "-")));
        let _ = std::fs::remove_file(&path);
        let backend = RedbStorage::open(&path).unwrap();
        never_collide(&backend, &triples)?;
        drop(backend);
        let _ = std::fs::remove_file(&path);
    }
}

/// With keys composed as `tenant \0 namespace \0 key`, a plugin using the tenant name
/// `default\0kv-store` read kv-store's key `evil\0x` as its own key `x`.
#[test]
fn a_tenant_name_with_a_nul_reaches_nobody_else() {
    let path = std::env::temp_dir().join(format!("patchpanel-nul-tenant-{}.redb", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let backend = RedbStorage::open(&path).unwrap();
    backend.put("default", "kv-store", "evil\0x", b"42").unwrap();
    assert_eq!(backend.get("default\0kv-store", "evil", "x").unwrap(), None);
    assert_eq!(backend.keys("default\0kv-store", "evil").unwrap(), Vec::<String>::new());
    backend.put("default\0kv-store", "evil", "x", b"forged").unwrap();
    assert_eq!(
        backend.get("default", "kv-store", "evil\0x").unwrap().as_deref(),
        Some(&b"42"[..])
    );
    drop(backend);
    let _ = std::fs::remove_file(&path);
}
