//! `#[register_plugin]`: registers a plugin type and checks its manifest at build time.
//!
//! Use it through the `patchpanel` crate, which re-exports it. The work is split into
//! stages, one per file: `attr` parses the arguments, `ast` checks the item,
//! `valid` finds the manifest source and validates it, `impls` reads the plugin's impl
//! from the attribute's file for a mistake rustc names only by its code, and `expand`
//! writes the registration.
#![warn(missing_docs)]

mod ast;
mod attr;
mod expand;
mod impls;
mod subscribe;
mod valid;

use proc_macro::TokenStream;
use syn::parse_macro_input;

/// Registers a plugin type in the link-time registry, after checking its manifest.
///
/// The manifest comes from one of three places:
///
/// - no arguments: `[package.metadata.plugin]` in the crate's `Cargo.toml`;
/// - inline: `#[register_plugin(id = "greeter", dependencies = { "kv-store" = "^1.0" })]`;
/// - a file: `#[register_plugin(manifest = "plugin.json")]`, relative to the crate root.
///
/// Every mistake is a compile error at the offending token (or naming the file's line
/// and column) that says how to fix it. See the patchpanel README for the manifest
/// reference and the catalogue of errors.
#[proc_macro_attribute]
pub fn register_plugin(args: TokenStream, input: TokenStream) -> TokenStream {
    let args = parse_macro_input!(args as attr::Args);
    let item = parse_macro_input!(input as syn::Item);
    let source = proc_macro::Span::call_site().local_file();
    expand::register_plugin(args, item, source.as_deref()).into()
}

/// Subscribes a function to an event type, statically: the subscription is collected at
/// link time and wired when the named plugin activates, like one it made itself.
///
/// ```ignore
/// #[patchpanel::subscribe(AuditTrail)]
/// fn on_state_changed(call: &patchpanel::Call<'_>, change: &patchpanel::lifecycle::StateChanged) -> Result<(), patchpanel::PluginError> {
///     Ok(())
/// }
/// ```
#[proc_macro_attribute]
pub fn subscribe(args: TokenStream, input: TokenStream) -> TokenStream {
    let function = parse_macro_input!(input as syn::ItemFn);
    subscribe::expand(args.into(), function).into()
}

#[cfg(test)]
mod tests {
    /// The hidden module's name follows the release line of this crate, which is
    /// released in lockstep with the runtime; the runtime has the twin of this test.
    #[test]
    fn private_module_is_named_after_the_release_line() {
        let mut parts = env!("CARGO_PKG_VERSION").split('.');
        let (major, minor) = (parts.next().unwrap(), parts.next().unwrap());
        let expected = if major == "0" {
            format!("__private_v0_{minor}")
        } else {
            format!("__private_v{major}")
        };
        assert_eq!(crate::expand::PRIVATE_MODULE, expected);
    }
}
