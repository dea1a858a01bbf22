//! The plugin's `impl Plugin`, read from the source file the attribute is in: the one
//! mistake in it that rustc names only by its own code.
//!
//! `async fn activate` (or `deactivate`, `configure`) in `impl Plugin for X` does not
//! match the trait's synchronous method, and rustc reports E0053 ("method `activate`
//! has an incompatible type for trait") without saying that the async form is another
//! method. A diagnostic attribute cannot reach that error: the trait's signature is
//! checked before any bound the registration could add. So the attribute reads its own
//! source file (the plugin's impl is almost always beside its type) and adds an error
//! of its own, on the plugin's name, that says which method to write. An impl in
//! another file still gets rustc's error alone.

use std::path::Path;

use syn::{ImplItem, Item, Type};

/// The trait methods that have an async form, and its name.
const ASYNC_FORMS: [(&str, &str); 3] = [
    ("activate", "activate_async"),
    ("deactivate", "deactivate_async"),
    ("configure", "configure_async"),
];

/// An error for each `async fn` in `impl Plugin for <ident>` that should be its async
/// form, found in the file at `path` (the file the attribute is in), pointing at
/// `ident`. Nothing when the file cannot be read or parsed: rustc reports those.
pub(crate) fn async_methods_in(path: &Path, ident: &syn::Ident) -> Option<syn::Error> {
    let text = std::fs::read_to_string(path).ok()?;
    async_methods(&text, ident)
}

/// [`async_methods_in`] over the file's text.
pub(crate) fn async_methods(text: &str, ident: &syn::Ident) -> Option<syn::Error> {
    let file = syn::parse_file(text).ok()?;
    let mut found = Vec::new();
    collect(&file.items, ident, &mut found);
    let mut errors = found.into_iter().map(|(method, form)| {
        syn::Error::new(
            ident.span(),
            format!(
                "`impl Plugin for {ident}` declares `async fn {method}`, but `Plugin::{method}` is synchronous (rustc's E0053 on that line)\n  \
                 = help: rename it `async fn {form}`, with the same parameters: the host awaits `{form}`, and `{method}` keeps its default"
            ),
        )
    });
    let mut first = errors.next()?;
    for error in errors {
        first.combine(error);
    }
    Some(first)
}

/// The async methods of `impl Plugin for <ident>` blocks among `items`, in inline
/// modules too.
fn collect(items: &[Item], ident: &syn::Ident, found: &mut Vec<(&'static str, &'static str)>) {
    for item in items {
        match item {
            Item::Impl(block) if implements_plugin_for(block, ident) => {
                for member in &block.items {
                    let ImplItem::Fn(function) = member else { continue };
                    if function.sig.asyncness.is_none() {
                        continue;
                    }
                    if let Some(&pair) = ASYNC_FORMS.iter().find(|(method, _)| function.sig.ident == method) {
                        found.push(pair);
                    }
                }
            }
            Item::Mod(module) => {
                if let Some((_, items)) = &module.content {
                    collect(items, ident, found);
                }
            }
            _ => {}
        }
    }
}

/// Whether `block` is `impl <path::>Plugin for <path::>ident`.
fn implements_plugin_for(block: &syn::ItemImpl, ident: &syn::Ident) -> bool {
    let Some((None, trait_path, _)) = &block.trait_ else {
        return false;
    };
    let is_plugin = trait_path
        .segments
        .last()
        .is_some_and(|segment| segment.ident == "Plugin");
    let Type::Path(self_type) = &*block.self_ty else {
        return false;
    };
    is_plugin
        && self_type.qself.is_none()
        && self_type
            .path
            .segments
            .last()
            .is_some_and(|segment| segment.ident == *ident)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ident(name: &str) -> syn::Ident {
        syn::Ident::new(name, proc_macro2::Span::call_site())
    }

    fn messages(text: &str, name: &str) -> Vec<String> {
        async_methods(text, &ident(name))
            .map(|error| error.into_iter().map(|error| error.to_string()).collect())
            .unwrap_or_default()
    }

    #[test]
    fn an_async_activate_is_named_with_its_async_form() {
        let text = "impl patchpanel::Plugin for Eager { async fn activate(&mut self) {} fn get_state(&mut self) {} }";
        assert_eq!(
            messages(text, "Eager"),
            [
                "`impl Plugin for Eager` declares `async fn activate`, but `Plugin::activate` is synchronous (rustc's E0053 on that line)\n  \
              = help: rename it `async fn activate_async`, with the same parameters: the host awaits `activate_async`, and `activate` keeps its default"
            ]
        );
    }

    #[test]
    fn every_method_with_an_async_form_is_reported_in_modules_too() {
        let text = "mod inner { impl Plugin for Eager { async fn configure(&self) {} async fn deactivate(&self) {} } }";
        let found = messages(text, "Eager");
        assert_eq!(found.len(), 2);
        assert!(found[0].contains("`async fn configure`") && found[0].contains("`async fn configure_async`"));
        assert!(found[1].contains("`async fn deactivate`") && found[1].contains("`async fn deactivate_async`"));
    }

    #[test]
    fn correct_impls_and_other_types_and_traits_are_left_alone() {
        let text = "
            impl Plugin for Eager { async fn activate_async(&mut self) {} fn activate(&mut self) {} }
            impl Plugin for Other { async fn activate(&mut self) {} }
            impl Service for Eager { async fn activate(&mut self) {} }
            impl Eager { async fn activate(&mut self) {} }
            impl !Plugin for Eager {}
        ";
        assert_eq!(messages(text, "Eager"), Vec::<String>::new());
        assert_eq!(messages("this is not Rust {", "Eager"), Vec::<String>::new());
    }
}
