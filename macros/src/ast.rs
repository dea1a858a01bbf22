//! The item `#[register_plugin]` is placed on.

use syn::{Ident, Item};

/// A plugin type: a non-generic struct or enum.
pub(crate) struct PluginType {
    pub(crate) ident: Ident,
}

impl PluginType {
    pub(crate) fn from_item(item: &Item) -> syn::Result<PluginType> {
        let (ident, generics) = match item {
            Item::Struct(item) => (&item.ident, &item.generics),
            Item::Enum(item) => (&item.ident, &item.generics),
            other => {
                let what = match other {
                    Item::Fn(_) => "a function",
                    Item::Impl(_) => "an impl block",
                    Item::Trait(_) => "a trait",
                    Item::Mod(_) => "a module",
                    Item::Const(_) | Item::Static(_) => "a constant or static",
                    Item::Union(_) => "a union",
                    Item::Type(_) => "a type alias",
                    _ => "this item",
                };
                return Err(syn::Error::new_spanned(
                    other,
                    format!(
                        "`#[register_plugin]` goes on the plugin's struct or enum, not on {what}\n  = help: put it on the type that implements `patchpanel::Plugin`, e.g. `#[register_plugin] #[derive(Default)] pub struct MyPlugin;`"
                    ),
                ));
            }
        };
        if !generics.params.is_empty() {
            return Err(syn::Error::new_spanned(
                &generics.params,
                format!(
                    "a registered plugin cannot be generic: the registry needs one concrete type\n  = help: register a concrete type, e.g. `pub struct {ident}Plugin(pub {ident}<Concrete>);`"
                ),
            ));
        }
        Ok(PluginType { ident: ident.clone() })
    }
}
