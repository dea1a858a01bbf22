//! `#[subscribe(Plugin)]`: a static event subscription, collected at link time.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};
use syn::{FnArg, ItemFn, Type};

const SIGNATURE: &str =
    "a subscriber is `fn(call: &patchpanel::Call<'_>, event: &MyEvent) -> Result<(), patchpanel::PluginError>`";

pub(crate) fn expand(args: TokenStream, function: ItemFn) -> TokenStream {
    let plugin = match plugin_type(args) {
        Ok(plugin) => plugin,
        Err(error) => return with_error(error, &function),
    };
    let event = match event_type(&function) {
        Ok(event) => event,
        Err(error) => return with_error(error, &function),
    };
    let name = &function.sig.ident;
    // The permission check points at the plugin named in the attribute.
    let check = quote::quote_spanned! {plugin_span(&plugin)=>
        const _: fn() = || {
            fn declares_events_subscribe<P: ::patchpanel::__private::permissions::EventsSubscribe>() {}
            declares_events_subscribe::<#plugin>();
        };
    };
    quote! {
        #function

        const _: () = {
            ::patchpanel::__private::submit_subscriber!(
                ::patchpanel::__private::StaticSubscriber::new(
                    || <#plugin as ::patchpanel::__private::Registered>::MANIFEST.id,
                    ::core::concat!(::core::module_path!(), "::", ::core::stringify!(#name)),
                    || ::patchpanel::__private::SubscriptionRegistration::of::<#plugin, #event>(#name),
                )
            );
        };

        #check
    }
}

fn plugin_span(plugin: &Type) -> Span {
    plugin
        .to_token_stream()
        .into_iter()
        .next()
        .map_or_else(Span::call_site, |token| token.span())
}

fn with_error(error: syn::Error, function: &ItemFn) -> TokenStream {
    let error = error.to_compile_error();
    quote! { #error #function }
}

fn plugin_type(args: TokenStream) -> syn::Result<Type> {
    if args.is_empty() {
        return Err(syn::Error::new(
            Span::call_site(),
            "name the plugin this subscription belongs to\n  = help: write `#[subscribe(MyPlugin)]`, where `MyPlugin` carries `#[register_plugin]`",
        ));
    }
    syn::parse2::<Type>(args).map_err(|error| {
        syn::Error::new(
            error.span(),
            "expected the plugin's type\n  = help: write `#[subscribe(MyPlugin)]`, where `MyPlugin` carries `#[register_plugin]`",
        )
    })
}

/// The `E` of the second parameter, `event: &E`.
fn event_type(function: &ItemFn) -> syn::Result<Type> {
    let signature = &function.sig;
    if let Some(asyncness) = &signature.asyncness {
        return Err(syn::Error::new_spanned(
            asyncness,
            format!("a subscriber cannot be async: events are delivered synchronously\n  = help: {SIGNATURE}"),
        ));
    }
    if !signature.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &signature.generics,
            format!("a subscriber cannot be generic: it subscribes to one event type\n  = help: {SIGNATURE}"),
        ));
    }
    let inputs: Vec<&FnArg> = signature.inputs.iter().collect();
    let [_, event] = inputs.as_slice() else {
        let span = if inputs.is_empty() {
            signature.paren_token.span.join()
        } else {
            signature.inputs.span_of_all()
        };
        return Err(syn::Error::new(
            span,
            format!(
                "a subscriber takes two parameters, the call and the event, found {}\n  = help: {SIGNATURE}",
                inputs.len()
            ),
        ));
    };
    match event {
        FnArg::Typed(typed) => match &*typed.ty {
            Type::Reference(reference) if reference.mutability.is_none() => Ok((*reference.elem).clone()),
            other => Err(syn::Error::new_spanned(
                other,
                format!(
                    "the event parameter must be a shared reference, `&{}`\n  = help: {SIGNATURE}",
                    other
                        .to_token_stream()
                        .to_string()
                        .trim_start_matches("& mut ")
                        .trim_start_matches('&')
                ),
            )),
        },
        FnArg::Receiver(receiver) => Err(syn::Error::new_spanned(
            receiver,
            format!("a subscriber is a free function\n  = help: {SIGNATURE}"),
        )),
    }
}

trait SpanOfAll {
    fn span_of_all(&self) -> Span;
}

impl<T: ToTokens, P: ToTokens> SpanOfAll for syn::punctuated::Punctuated<T, P> {
    fn span_of_all(&self) -> Span {
        let mut tokens = TokenStream::new();
        self.to_tokens(&mut tokens);
        tokens
            .into_iter()
            .next()
            .map_or_else(Span::call_site, |token| token.span())
    }
}
