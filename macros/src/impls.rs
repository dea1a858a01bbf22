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

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use syn::{ImplItem, Item, Type};

/// The trait methods that have an async form, and its name.
const ASYNC_FORMS: [(&str, &str); 3] = [
    ("activate", "activate_async"),
    ("deactivate", "deactivate_async"),
    ("configure", "configure_async"),
];

/// What one file holds: each async method that should be its async form, with the
/// name of the type whose `impl Plugin` declares it.
type Found = Vec<(String, &'static str, &'static str)>;

thread_local! {
    /// The last file read and what it holds: a crate that registers many plugins in one
    /// file reads it once per plugin but parses it once. Keyed by the text itself, so
    /// a long-lived macro server (an IDE's) never answers from an older version.
    static LAST: RefCell<Option<(PathBuf, String, Rc<Found>)>> = const { RefCell::new(None) };
}

/// An error for each `async fn` in `impl Plugin for <ident>` that should be its async
/// form, found in the file at `path` (the file the attribute is in), pointing at
/// `ident`. Nothing when the file cannot be read or parsed: rustc reports those.
pub(crate) fn async_methods_in(path: &Path, ident: &syn::Ident) -> Option<syn::Error> {
    let text = std::fs::read_to_string(path).ok()?;
    let cached = LAST.with_borrow(|last| match last {
        Some((last_path, last_text, found)) if last_path == path && *last_text == text => Some(Rc::clone(found)),
        _ => None,
    });
    let found = match cached {
        Some(found) => found,
        None => {
            let found = Rc::new(scan(&text)?);
            LAST.set(Some((path.to_owned(), text, Rc::clone(&found))));
            found
        }
    };
    errors_for(&found, ident)
}

/// [`async_methods_in`] over the file's text.
#[cfg(test)]
pub(crate) fn async_methods(text: &str, ident: &syn::Ident) -> Option<syn::Error> {
    errors_for(&scan(text)?, ident)
}

/// Every async method of an `impl Plugin` in the file, by type; `None` when the text
/// does not parse.
fn scan(text: &str) -> Option<Found> {
    let file = syn::parse_file(text).ok()?;
    let mut found = Vec::new();
    collect(&file.items, &mut found);
    Some(found)
}

/// The errors for the plugin type `ident`.
fn errors_for(found: &Found, ident: &syn::Ident) -> Option<syn::Error> {
    let mut errors = found.iter().filter(|(owner, _, _)| ident == owner).map(|&(_, method, form)| {
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

/// The async methods of `impl Plugin for <type>` blocks among `items`, in inline
/// modules too.
fn collect(items: &[Item], found: &mut Found) {
    for item in items {
        match item {
            Item::Impl(block) => {
                let Some(owner) = plugin_impl_for(block) else { continue };
                for member in &block.items {
                    let ImplItem::Fn(function) = member else { continue };
                    if function.sig.asyncness.is_none() {
                        continue;
                    }
                    if let Some(&(method, form)) = ASYNC_FORMS.iter().find(|(method, _)| function.sig.ident == method) {
                        found.push((owner.to_string(), method, form));
                    }
                }
            }
            Item::Mod(module) => {
                if let Some((_, items)) = &module.content {
                    collect(items, found);
                }
            }
            _ => {}
        }
    }
}

/// The type `block` implements `Plugin` for, when it is `impl <path::>Plugin for
/// <path::>Type`: the type's last name.
fn plugin_impl_for(block: &syn::ItemImpl) -> Option<&syn::Ident> {
    let Some((None, trait_path, _)) = &block.trait_ else {
        return None;
    };
    if trait_path
        .segments
        .last()
        .is_none_or(|segment| segment.ident != "Plugin")
    {
        return None;
    }
    let Type::Path(self_type) = &*block.self_ty else {
        return None;
    };
    if self_type.qself.is_some() {
        return None;
    }
    self_type.path.segments.last().map(|segment| &segment.ident)
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

    /// The file is parsed once for all the plugins in it, and read again each time: a
    /// changed file (an IDE's macro server lives across edits) is never answered from
    /// what it held before.
    #[test]
    fn the_file_is_read_each_time_and_parsed_once_per_text() {
        let path = std::env::temp_dir().join(format!("patchpanel-impls-{}.rs", std::process::id()));
        let found = |name: &str| async_methods_in(&path, &ident(name)).map(|error| error.into_iter().count());
        std::fs::write(
            &path,
            "impl Plugin for A { async fn activate(&mut self) {} } impl Plugin for B {}",
        )
        .unwrap();
        assert_eq!((found("A"), found("B")), (Some(1), None));
        std::fs::write(
            &path,
            "impl Plugin for A {} impl Plugin for B { async fn deactivate(&mut self) {} }",
        )
        .unwrap();
        assert_eq!((found("A"), found("B")), (None, Some(1)));
        std::fs::remove_file(&path).unwrap();
        assert_eq!(found("B"), None, "a file that cannot be read adds nothing");
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
