//! `#[subscribe(Plugin)]`: a static event subscription, collected at link time.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};
use syn::{FnArg, ItemFn, Type};

const SIGNATURE: &str =
    "a subscriber is `fn(call: &patchpanel::Call<'_>, event: &MyEvent) -> Result<(), patchpanel::PluginError>`";

pub(crate) fn expand(args: TokenStream, function: ItemFn) -> TokenStream {
    let (plugin, krate) = match plugin_type(args) {
        Ok(parsed) => parsed,
        Err(error) => return with_error(error, &function),
    };
    let private = crate::expand::private_path(krate.as_ref());
    let event = match event_type(&function) {
        Ok(event) => event,
        Err(error) => return with_error(error, &function),
    };
    let name = &function.sig.ident;
    // The permission check points at the plugin named in the attribute.
    let at_plugin = crate::expand::private_path_at(krate.as_ref(), plugin_span(&plugin));
    let check = quote::quote_spanned! {plugin_span(&plugin)=>
        const _: fn() = || {
            fn declares_events_subscribe<P: #at_plugin::permissions::EventsSubscribe>() {}
            declares_events_subscribe::<#plugin>();
        };
    };
    // An inherent impl is allowed only on a type of this crate (the orphan rule), so a
    // subscription cannot be attached to another crate's plugin and run with its rights.
    let same_crate = quote::quote_spanned! {plugin_span(&plugin)=>
        #[doc = "`#[subscribe]` attaches only to a plugin type defined in the same crate."]
        impl #plugin {}
        // The same rule, with a message that says why (the orphan rule's E0116 does not).
        const _: () = #at_plugin::subscriber_in_plugin_crate(
            <#plugin as #at_plugin::Registered>::CRATE,
            ::core::env!("CARGO_CRATE_NAME"),
        );
    };
    quote! {
        #function

        #same_crate

        const _: () = {
            #private::submit_subscriber!(
                #private::StaticSubscriber::new::<#plugin>(
                    ::core::concat!(::core::module_path!(), "::", ::core::stringify!(#name)),
                    |owner| #private::SubscriptionRegistration::of::<#plugin, #event>(#name, owner),
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

/// `Plugin` or `Plugin, crate = path`: the plugin type and the runtime crate's path.
fn plugin_type(args: TokenStream) -> syn::Result<(Type, Option<syn::Path>)> {
    if args.is_empty() {
        return Err(syn::Error::new(
            Span::call_site(),
            "name the plugin this subscription belongs to\n  = help: write `#[subscribe(MyPlugin)]`, where `MyPlugin` carries `#[register_plugin]`",
        ));
    }
    let parser = |input: syn::parse::ParseStream<'_>| -> syn::Result<(Type, Option<syn::Path>)> {
        let plugin = input.parse::<Type>().map_err(|error| {
            syn::Error::new(
                error.span(),
                "expected the plugin's type\n  = help: write `#[subscribe(MyPlugin)]`, where `MyPlugin` carries `#[register_plugin]`",
            )
        })?;
        let mut krate = None;
        if input.parse::<Option<syn::Token![,]>>()?.is_some() && !input.is_empty() {
            input.parse::<syn::Token![crate]>().map_err(|error| {
                syn::Error::new(
                    error.span(),
                    "expected `crate = path` after the plugin's type\n  = help: write `#[subscribe(MyPlugin)]`, or `#[subscribe(MyPlugin, crate = pp)]` when the application renamed `patchpanel`",
                )
            })?;
            input.parse::<syn::Token![=]>()?;
            krate = Some(crate::attr::crate_path(input)?);
            input.parse::<Option<syn::Token![,]>>()?;
        }
        if !input.is_empty() {
            return Err(input.error(
                "unexpected argument\n  = help: write `#[subscribe(MyPlugin)]` or `#[subscribe(MyPlugin, crate = pp)]`",
            ));
        }
        Ok((plugin, krate))
    };
    syn::parse::Parser::parse2(parser, args)
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
