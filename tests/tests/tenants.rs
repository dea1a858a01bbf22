//! Tenants: one registry and one resolution, one host per tenant. A plugin in one tenant
//! never sees another's data (storage, including scope-`all` reads), events, in-memory
//! state or services.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use greeter::{Greeting, Hello};
use kv_store::{Get, KeyValue, Put};
use patchpanel::testing::{fn_plugin, with_every_permission};
use patchpanel::{Host, Manifest, PluginSpec, host::Tenants, manifest::Scope, storage::MemoryStorage};

#[derive(Clone, Debug)]
struct Ping;

/// kv-store, greeter, a plugin that reads kv-store's namespace with scope `all`, and a
/// subscriber counting `Ping`s into `pings` (shared by every tenant's instance).
fn tenants(pings: &Arc<AtomicU64>) -> Tenants {
    let reader = fn_plugin(
        with_every_permission(Manifest::builder("reader", "1.0.0").depends_on("kv-store", "^1"))
            .permission("storage", "read", Scope::All)
            .build()
            .unwrap(),
        |context| {
            let storage = context.storage();
            context.command("peek", move |_, key: String| {
                Ok(storage
                    .read_from("kv-store", &key)?
                    .map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
            })?;
            Ok(())
        },
    );
    let counted = pings.clone();
    let listener = fn_plugin(
        with_every_permission(Manifest::builder("listener", "1.0.0"))
            .build()
            .unwrap(),
        move |context| {
            let counted = counted.clone();
            context.subscribe(move |_, _: &Ping| {
                counted.fetch_add(1, Ordering::SeqCst);
                Ok(())
            });
            Ok(())
        },
    );
    Host::builder()
        .plugins(vec![
            PluginSpec::registered::<kv_store::KvStore>().unwrap(),
            PluginSpec::registered::<greeter::Greeter>().unwrap(),
            reader,
            listener,
        ])
        .storage(Arc::new(MemoryStorage::default()))
        .build_tenants(["acme", "globex"])
        .unwrap()
}

fn put(host: &Host, key: &str, value: &str) {
    host.execute::<Put, Option<String>>(
        "kv-store:put",
        Put {
            key: key.into(),
            value: value.into(),
        },
    )
    .unwrap();
}

fn get(host: &Host, key: &str) -> Option<String> {
    host.execute::<Get, Option<String>>("kv-store:get", Get { key: key.into() })
        .unwrap()
}

#[test]
fn tenants_share_nothing_but_the_code() {
    let pings = Arc::new(AtomicU64::new(0));
    let tenants = tenants(&pings);
    let (acme, globex) = (tenants.host("acme").unwrap(), tenants.host("globex").unwrap());
    assert_eq!((acme.tenant(), globex.tenant()), ("acme", "globex"));

    // Storage, through the plugin's own commands and a scope-`all` read.
    put(acme, "secret", "acme's");
    assert_eq!(get(acme, "secret").as_deref(), Some("acme's"));
    assert_eq!(get(globex, "secret"), None);
    assert_eq!(
        acme.execute::<String, Option<String>>("reader:peek", "secret".into())
            .unwrap()
            .as_deref(),
        Some("acme's")
    );
    assert_eq!(
        globex
            .execute::<String, Option<String>>("reader:peek", "secret".into())
            .unwrap(),
        None
    );

    // Services: each tenant's handle reaches its own provider and its own data.
    let store = globex.service::<dyn KeyValue>().unwrap();
    assert_eq!(store.with(|kv| kv.get("secret")).unwrap().unwrap(), None);

    // In-memory state and stored counts: greeter's count per tenant.
    let hello = |host: &Host| {
        host.execute::<Hello, Greeting>("greeter:hello", Hello { name: "ada".into() })
            .unwrap()
            .count
    };
    assert_eq!((hello(acme), hello(acme), hello(globex)), (1, 2, 1));

    // Events: a publish reaches the publishing tenant's subscribers only.
    assert_eq!(acme.publish(&Ping).reached, 1);
    assert_eq!(pings.load(Ordering::SeqCst), 1);
    assert_eq!(globex.publish(&Ping).reached, 1);
    assert_eq!(pings.load(Ordering::SeqCst), 2);

    // One tenant's operator actions leave the other alone.
    acme.disable("greeter").unwrap();
    assert_eq!(hello(globex), 2);
    let reports = tenants.shutdown();
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[0].0, "acme");
}
