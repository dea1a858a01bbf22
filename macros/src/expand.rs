//! Writing the registration: the `Registered` impl and the registry entry.

use patchpanel_manifest::{Manifest, Scope};
use proc_macro2::TokenStream;
use quote::quote;
use syn::Item;

use crate::ast::PluginType;
use crate::attr::Args;
use crate::valid;

/// The name of the runtime's hidden module, versioned by the release line (major.minor
/// for 0.x) so that a macro and a runtime from different releases fail to compile with
/// an error that names the version, not with a confusing type mismatch.
pub(crate) const PRIVATE_MODULE: &str = "__private_v0_1";

/// `<crate>::__private_v0_1`: the absolute path generated code names the runtime by.
pub(crate) fn private_path(krate: Option<&syn::Path>) -> TokenStream {
    private_path_at(krate, proc_macro2::Span::call_site())
}

/// [`private_path`] with its tokens at `span`, for code whose errors should point
/// there (a permission check points at the plugin type the user named).
pub(crate) fn private_path_at(krate: Option<&syn::Path>, span: proc_macro2::Span) -> TokenStream {
    let module = syn::Ident::new(PRIVATE_MODULE, span);
    match krate {
        Some(path) => quote::quote_spanned! {span=> #path::#module },
        None => quote::quote_spanned! {span=> ::patchpanel::#module },
    }
}

/// The registration of `item`; `source` is the file the attribute is in, read for the
/// mistakes in the plugin's impl that only the file shows ([`impls`](crate::impls)).
pub(crate) fn register_plugin(args: Args, item: Item, source: Option<&std::path::Path>) -> TokenStream {
    if let Some(error) = registered_twice(&item) {
        let error = error.to_compile_error();
        let item = without_register_plugin(item);
        return quote! { #error #item };
    }
    let private = private_path(args.krate.as_ref());
    let plugin = match PluginType::from_item(&item) {
        Ok(plugin) => plugin,
        Err(error) => {
            let error = error.to_compile_error();
            return quote! { #error #item };
        }
    };
    // Beside the registration, not instead of it: the registration stays whole, so
    // these are the only errors the plugin's own code adds.
    let impl_errors = source
        .and_then(|path| crate::impls::async_methods_in(path, &plugin.ident))
        .map(|error| error.to_compile_error());
    let outcome = valid::check(args.source);
    // Tracking the manifest file makes rustc rebuild the plugin when the file changes.
    let tracked = outcome.tracked.as_ref().map(|path| {
        let path = path.to_string_lossy();
        quote! { const _: &[u8] = ::core::include_bytes!(#path); }
    });
    let ident = &plugin.ident;
    match outcome.result {
        Ok(manifest) => {
            let probes = hand_written_probes(&private, ident, &manifest);
            let permissions = permission_impls(
                &private,
                ident,
                manifest.permissions.iter().map(|p| (p.resource, p.action)),
            );
            let linked = linked_marker(ident, &manifest);
            let id_marker = id_marker(ident, &manifest);
            let manifest = static_manifest(&private, &manifest);
            quote! {
                #impl_errors

                #item

                #id_marker

                impl #private::Registered for #ident {
                    const MANIFEST: &'static #private::StaticManifest = &#manifest;
                    const CRATE: ::core::option::Option<&'static str> =
                        ::core::option::Option::Some(::core::env!("CARGO_CRATE_NAME"));
                }

                #linked

                #permissions

                #probes

                const _: () = {
                    #tracked
                    #private::submit!(
                        #private::PluginEntry::of::<#ident>(
                            <#ident as #private::Registered>::MANIFEST,
                            ::core::concat!(::core::module_path!(), "::", ::core::stringify!(#ident)),
                        )
                    );
                };
            }
        }
        Err(error) => {
            // A stub impl keeps code that names the manifest compiling, so that the
            // manifest error is the one the user sees.
            let error = error.to_compile_error();
            let stub = static_manifest(
                &private,
                &Manifest::builder("invalid", "0.0.0").build().expect("a valid stub"),
            );
            // Every permission, so that code using the context does not add errors of its own.
            let permissions = permission_impls(
                &private,
                ident,
                patchpanel_manifest::catalogue::RESOURCES
                    .iter()
                    .flat_map(|(resource, actions)| actions.iter().map(move |action| (*resource, *action))),
            );
            quote! {
                #error
                #impl_errors
                #item
                impl #private::Registered for #ident {
                    const MANIFEST: &'static #private::StaticManifest = &#stub;
                }
                #[allow(unreachable_pub, dead_code)]
                impl #ident {
                    #[doc(hidden)]
                    pub fn __patchpanel_linked() {}
                }
                #permissions
                #tracked
            }
        }
    }
}

/// One name per plugin id in the crate's macro namespace, so that two types of one crate
/// registering the same id fail to compile (E0428, "defined multiple times", pointing at
/// both types) instead of racing for the id at start-up. `-` and `.` map to `_` and
/// `__`, which no id can otherwise produce, so distinct ids get distinct names.
fn id_marker(ident: &syn::Ident, manifest: &Manifest) -> TokenStream {
    let mapped: String = manifest
        .id
        .chars()
        .map(|c| match c {
            '-' => "_".to_owned(),
            '.' => "__".to_owned(),
            c => c.to_string(),
        })
        .collect();
    let name = syn::Ident::new(
        &format!("__patchpanel_plugin_id_{mapped}_is_registered_by_two_types_of_this_crate"),
        ident.span(),
    );
    quote! {
        #[doc(hidden)]
        #[macro_export]
        macro_rules! #name {
            () => {};
        }
    }
}

/// The function `link_plugins!` calls for each plugin the application links: marked
/// `#[deprecated]` when the manifest deprecates the plugin, so that the application gets
/// a compiler warning at the line that links it.
fn linked_marker(ident: &syn::Ident, manifest: &Manifest) -> TokenStream {
    let deprecated = manifest.deprecated.as_ref().map(|deprecation| {
        let mut note = format!("plugin `{}` is deprecated: {}", manifest.id, deprecation.message);
        if let Some(replacement) = &deprecation.replacement {
            note.push_str(&format!("; use `{replacement}` instead"));
        }
        quote! { #[deprecated(note = #note)] }
    });
    quote! {
        #[allow(unreachable_pub, dead_code)]
        impl #ident {
            /// Called by `patchpanel::link_plugins!` for each plugin it links.
            #[doc(hidden)]
            #deprecated
            pub fn __patchpanel_linked() {}
        }
    }
}

/// A second `#[register_plugin]` on the same item (attributes below this one are still
/// on the item when this one expands).
fn registered_twice(item: &Item) -> Option<syn::Error> {
    let attrs = match item {
        Item::Struct(item) => &item.attrs,
        Item::Enum(item) => &item.attrs,
        _ => return None,
    };
    let second = attrs.iter().find(|attr| {
        attr.path()
            .segments
            .last()
            .is_some_and(|segment| segment.ident == "register_plugin")
    })?;
    Some(syn::Error::new_spanned(
        second,
        "`#[register_plugin]` is given twice on this type; a type registers one plugin with one manifest\n  = help: remove one of them, or register a second type for a second plugin",
    ))
}

/// The item without its other `#[register_plugin]` attributes, so that only one error
/// is reported.
fn without_register_plugin(mut item: Item) -> Item {
    let keep = |attr: &syn::Attribute| {
        attr.path()
            .segments
            .last()
            .is_none_or(|segment| segment.ident != "register_plugin")
    };
    match &mut item {
        Item::Struct(item) => item.attrs.retain(keep),
        Item::Enum(item) => item.attrs.retain(keep),
        _ => {}
    }
    item
}

/// For every permission the manifest does not declare, a compile-time probe that fails
/// if the plugin type implements its trait anyway (by hand, elsewhere in the crate): the
/// `impls`-crate trick, an inherent associated constant that exists only where the
/// bound holds, shadowing a trait constant that is `false`. It runs under `cargo check`.
fn hand_written_probes(private: &TokenStream, ident: &syn::Ident, manifest: &Manifest) -> TokenStream {
    let undeclared = patchpanel_manifest::catalogue::RESOURCES
        .iter()
        .flat_map(|(resource, actions)| {
            actions
                .iter()
                .filter(move |action| {
                    !manifest
                        .permissions
                        .iter()
                        .any(|p| p.resource == *resource && p.action == **action)
                })
                .map(move |action| (*resource, *action))
        });
    let checks = undeclared.map(|(resource, action)| {
        let name = trait_name(resource, action);
        let message = format!(
            "plugin `{ident}` implements `{name}` by hand, but its manifest does not declare `{resource}.{action}`; a permission comes only from the manifest: add `{action}` to `{resource}` in its `permissions` and remove the hand-written impl"
        );
        let trait_ident = syn::Ident::new(&name, proc_macro2::Span::call_site());
        quote! {
            impl<T: ?Sized + #private::permissions::#trait_ident> Probe<T> {
                const #trait_ident: bool = true;
            }
            ::core::assert!(!<Probe<#ident>>::#trait_ident, #message);
        }
    });
    let traits = patchpanel_manifest::catalogue::RESOURCES
        .iter()
        .flat_map(|(resource, actions)| {
            actions
                .iter()
                .map(move |action| syn::Ident::new(&trait_name(resource, action), proc_macro2::Span::call_site()))
        });
    quote! {
        #[allow(non_upper_case_globals)]
        const _: () = {
            struct Probe<T: ?Sized>(::core::marker::PhantomData<T>);
            trait NotImplemented {
                #(const #traits: bool = false;)*
            }
            impl<T: ?Sized> NotImplemented for T {}
            #(#checks)*
        };
    }
}

/// `StorageRead` for `storage.read`.
fn trait_name(resource: &str, action: &str) -> String {
    let capitalised = |word: &str| {
        let mut chars = word.chars();
        chars
            .next()
            .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
            .unwrap_or_default()
    };
    format!("{}{}", capitalised(resource), capitalised(action))
}

/// `impl ::patchpanel::__private_v0_1::permissions::StorageRead for Plugin {}` for each
/// permission: the compile-time half of the permission system.
fn permission_impls<'p>(
    private: &TokenStream,
    ident: &syn::Ident,
    permissions: impl Iterator<Item = (&'p str, &'p str)>,
) -> TokenStream {
    let traits = permissions
        .map(|(resource, action)| syn::Ident::new(&trait_name(resource, action), proc_macro2::Span::call_site()));
    quote! {
        #(impl #private::permissions::#traits for #ident {})*
    }
}

fn static_manifest(private: &TokenStream, manifest: &Manifest) -> TokenStream {
    let id = &manifest.id;
    let name = &manifest.name;
    let version = manifest.version.to_string();
    let description = &manifest.description;
    let min_host_version = match &manifest.min_host_version {
        Some(version) => {
            let version = version.to_string();
            quote! { ::core::option::Option::Some(#version) }
        }
        None => quote! { ::core::option::Option::None },
    };
    let features = &manifest.required_features;
    let dependencies = manifest.dependencies.iter().map(|dependency| {
        let id = &dependency.id;
        let req = dependency.req.to_string();
        let optional = dependency.optional;
        quote! { #private::StaticDependency { id: #id, req: #req, optional: #optional } }
    });
    let permissions = manifest.permissions.iter().map(|permission| {
        let resource = permission.resource;
        let action = permission.action;
        let scope = match permission.scope {
            Scope::PluginOnly => quote! { PluginOnly },
            Scope::All => quote! { All },
            Scope::UserApproved => quote! { UserApproved },
        };
        quote! {
            #private::StaticPermission {
                resource: #resource,
                action: #action,
                scope: #private::Scope::#scope,
            }
        }
    });
    let contributes = match &manifest.contributes {
        Some(contributes) => {
            let (commands, publishes, subscribes, hooks, services) = (
                &contributes.commands,
                &contributes.publishes,
                &contributes.subscribes,
                &contributes.hooks,
                &contributes.services,
            );
            quote! {
                ::core::option::Option::Some(&#private::StaticContributions {
                    commands: &[#(#commands),*],
                    publishes: &[#(#publishes),*],
                    subscribes: &[#(#subscribes),*],
                    hooks: &[#(#hooks),*],
                    services: &[#(#services),*],
                })
            }
        }
        None => quote! { ::core::option::Option::None },
    };
    let lazy = manifest.activation == patchpanel_manifest::Activation::Lazy;
    let deadline = match manifest.activation_deadline {
        Some(deadline) => {
            let millis = deadline.as_millis() as u64;
            quote! { ::core::option::Option::Some(#millis) }
        }
        None => quote! { ::core::option::Option::None },
    };
    let deprecated = match &manifest.deprecated {
        Some(deprecation) => {
            let message = &deprecation.message;
            let replacement = match &deprecation.replacement {
                Some(replacement) => quote! { ::core::option::Option::Some(#replacement) },
                None => quote! { ::core::option::Option::None },
            };
            quote! { ::core::option::Option::Some((#message, #replacement)) }
        }
        None => quote! { ::core::option::Option::None },
    };
    quote! {
        #private::StaticManifest {
            id: #id,
            name: #name,
            version: #version,
            description: #description,
            min_host_version: #min_host_version,
            required_features: &[#(#features),*],
            dependencies: &[#(#dependencies),*],
            permissions: &[#(#permissions),*],
            contributes: #contributes,
            lazy: #lazy,
            activation_deadline_ms: #deadline,
            deprecated: #deprecated,
        }
    }
}
