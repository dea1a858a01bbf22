//! Fixtures shared by the benches: synthetic plugin sets of any size.

use patchpanel::{Context, Manifest, Plugin, PluginError, PluginSpec};

/// A plugin that does nothing, so a bench measures the host alone.
#[derive(Debug, Default)]
pub struct Noop;

impl Plugin for Noop {
    fn activate(&mut self, _context: &mut Context<'_, Self>) -> Result<(), PluginError> {
        Ok(())
    }
}

/// A manifest for bench plugin `id`, version 1.0.0, no dependencies.
pub fn manifest(id: &str) -> Manifest {
    patchpanel::testing::with_every_permission(Manifest::builder(id, "1.0.0"))
        .build()
        .expect("bench ids are valid")
}

/// `count` no-op plugins in a layered graph: plugin `i` depends on `i / 2` and `i / 3`
/// (when those differ from `i`), about two edges per plugin. Returned in reverse id
/// order so the resolver cannot profit from sorted input.
pub fn synthetic_plugins(count: usize) -> Vec<PluginSpec> {
    synthetic(count, false)
}

/// What an application that names `specs` in `link_plugins!` hands `HostBuilder::expect`:
/// each plugin's id and type, and, when `ranked`, its place in the activation order that
/// `link_plugins!` checks at compile time (computed here by resolving once). Unranked,
/// start-up resolves the named plugins itself.
pub fn expectations(specs: &[PluginSpec], ranked: bool) -> Vec<patchpanel::registry::ExpectedPlugin> {
    let order = patchpanel::resolve::resolve(specs.to_vec(), &Default::default())
        .expect("the plugins resolve")
        .order()
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<String>>();
    let type_of: std::collections::HashMap<&str, (std::any::TypeId, &'static str)> = specs
        .iter()
        .map(|spec| {
            let type_name: &'static str = Box::leak(spec.type_name().to_owned().into_boxed_str());
            (spec.manifest().id.as_str(), (spec.type_id(), type_name))
        })
        .collect();
    order
        .into_iter()
        .enumerate()
        .map(|(rank, id)| {
            let (type_id, type_name) = type_of[id.as_str()];
            let named = patchpanel::registry::ExpectedPlugin::new(Box::leak(id.into_boxed_str()), type_name, type_id);
            if ranked { named.in_linked_order(rank) } else { named }
        })
        .collect()
}

/// [`synthetic_plugins`], each lazy (it declares one command, `run`, and activates on
/// first use), for the start-up of a host that activates nothing.
pub fn synthetic_lazy_plugins(count: usize) -> Vec<PluginSpec> {
    synthetic(count, true)
}

fn synthetic(count: usize, lazy: bool) -> Vec<PluginSpec> {
    let id = |i: usize| format!("p{i:05}");
    (0..count)
        .rev()
        .map(|i| {
            let mut manifest = Manifest::builder(id(i), "1.0.0");
            let mut dependencies = vec![i / 2, i / 3];
            dependencies.retain(|&d| d != i);
            dependencies.dedup();
            for dependency in dependencies {
                manifest = manifest.depends_on(&id(dependency), "^1");
            }
            if lazy {
                manifest = manifest
                    .permission("commands", "register", patchpanel::manifest::Scope::PluginOnly)
                    .contributes("commands", "run")
                    .lazy();
            }
            PluginSpec::new::<Noop>(manifest.build().expect("synthetic manifests are valid"))
        })
        .collect()
}

/// Plugin `id` registering `commands` commands, `<id>:cmd0` onwards, each adding one:
/// the string-id benches' host, and the registration benches' one plugin.
pub fn commands_plugin(id: &str, commands: usize) -> PluginSpec {
    patchpanel::testing::fn_plugin(manifest(id), move |context| {
        for index in 0..commands {
            context.command(&format!("cmd{index}"), |_, n: u64| Ok(add_one(n)))?;
        }
        Ok(())
    })
}

/// A host of plugin `bench` with `commands` commands ([`commands_plugin`]).
pub fn command_host(commands: usize) -> patchpanel::Host {
    patchpanel::Host::builder()
        .plugins(vec![commands_plugin("bench", commands)])
        .build()
        .expect("bench host starts")
}

/// The work of every dispatch bench: add one. Never inlined, so that every way of
/// calling it pays for a real call.
#[inline(never)]
pub fn add_one(n: u64) -> u64 {
    n.wrapping_add(1)
}

/// The event the publish benches send.
#[derive(Debug)]
pub struct Tick(pub u64);

/// The JSON boundary's request: a struct with a string, as commands take.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct Greet {
    /// Moved into the response.
    pub name: String,
    /// Added to.
    pub times: u32,
}

/// The JSON boundary's response.
#[derive(Debug, serde::Serialize)]
pub struct Greeting {
    /// The request's name.
    pub message: String,
    /// The request's times, plus one.
    pub count: u64,
}

/// The JSON boundary's handler.
#[inline(never)]
pub fn greet(request: Greet) -> Greeting {
    Greeting {
        message: request.name,
        count: u64::from(request.times) + 1,
    }
}

/// Polls `future` to completion with a no-op waker; every future in the benches is
/// ready at once, so no executor is measured.
#[inline(always)]
pub fn complete<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
}

/// A host with command `bench:cmd` (add one) behind `depth` pass-through middleware,
/// each of its own plugin.
pub fn middleware_host(depth: usize) -> patchpanel::Host {
    layered_host(depth, false)
}

/// [`middleware_host`] with typed middleware
/// ([`Context::typed_middleware`](patchpanel::Context::typed_middleware)): each layer
/// takes the `u64` and passes it on.
pub fn typed_middleware_host(depth: usize) -> patchpanel::Host {
    layered_host(depth, true)
}

/// A layer declared as a type ([`Layer`](patchpanel::commands::Layer)) that passes the
/// `u64` on, through `black_box` as each of [`nested_closures`]' layers does; `N` makes
/// four distinct types to name.
pub struct Pass<const N: usize>;

impl<const N: usize> patchpanel::commands::Layer<u64, u64> for Pass<N> {
    #[inline]
    fn call(
        &self,
        n: u64,
        next: impl patchpanel::commands::Downstream<u64, u64>,
    ) -> Result<u64, patchpanel::commands::DispatchError> {
        next.run(std::hint::black_box(n))
    }
}

/// The four layers of [`static_layers_host`], in the order they run.
pub type FourLayers = (Pass<0>, Pass<1>, Pass<2>, Pass<3>);

/// [`middleware_host`] at depth 4 with layers declared as types
/// ([`Context::layer`](patchpanel::Context::layer)): [`Pass`]`<0>` to `<3>`, each of its
/// own plugin, which a handle names as [`FourLayers`].
pub fn static_layers_host() -> patchpanel::Host {
    fn register(
        context: &mut patchpanel::Context<'_, patchpanel::testing::FnPlugin>,
        layer: usize,
    ) -> Result<(), patchpanel::PluginError> {
        match layer {
            0 => context.layer("bench:cmd", 0, Pass::<0>)?,
            1 => context.layer("bench:cmd", 0, Pass::<1>)?,
            2 => context.layer("bench:cmd", 0, Pass::<2>)?,
            _ => context.layer("bench:cmd", 0, Pass::<3>)?,
        }
        Ok(())
    }
    chained_host(4, register)
}

fn layered_host(depth: usize, typed: bool) -> patchpanel::Host {
    chained_host(depth, move |context, _| {
        if typed {
            context.typed_middleware(
                "bench:cmd",
                0,
                |n: u64, next: patchpanel::commands::TypedNext<'_, u64, u64>| next.run(n),
            )?;
        } else {
            context.middleware("bench:cmd", 0, |invocation, next| next.run(invocation))?;
        }
        Ok(())
    })
}

/// A host with command `bench:cmd` (add one) and `depth` plugins `layer00`, `layer01`, ..
/// that `register` a layer around it each (given its number), in that order.
fn chained_host(
    depth: usize,
    register: impl Fn(
        &mut patchpanel::Context<'_, patchpanel::testing::FnPlugin>,
        usize,
    ) -> Result<(), patchpanel::PluginError>
    + Copy
    + Send
    + Sync
    + 'static,
) -> patchpanel::Host {
    let mut plugins = vec![patchpanel::testing::fn_plugin(manifest("bench"), |context| {
        context.command("cmd", |_, n: u64| Ok(add_one(n)))?;
        Ok(())
    })];
    for layer in 0..depth {
        // Each layer wraps another plugin's command: `commands.intercept` at scope `all`.
        let layer_manifest =
            patchpanel::testing::with_every_permission(Manifest::builder(format!("layer{layer:02}"), "1.0.0"))
                .permission("commands", "intercept", patchpanel::manifest::Scope::All)
                .build()
                .expect("bench ids are valid");
        plugins.push(patchpanel::testing::fn_plugin(layer_manifest, move |context| {
            register(context, layer)
        }));
    }
    let host = patchpanel::Host::builder()
        .plugins(plugins)
        .build()
        .expect("bench host starts");
    // A layer that failed to start would leave a shorter chain to measure.
    for layer in 0..depth {
        let id = format!("layer{layer:02}");
        assert_eq!(host.failure(&id), None, "middleware layer `{id}` failed");
    }
    host
}

/// `depth` nested `Box<dyn Fn>` closures around [`add_one`]: the middleware baseline.
pub fn nested_closures(depth: usize) -> Box<dyn Fn(u64) -> u64> {
    let mut nested: Box<dyn Fn(u64) -> u64> = Box::new(add_one);
    for _ in 0..depth {
        let inner = nested;
        nested = Box::new(move |n| inner(std::hint::black_box(n)));
    }
    nested
}
