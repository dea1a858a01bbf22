//! Parsing `#[register_plugin(...)]` arguments into the manifest's located tree.
//!
//! The inline syntax mirrors a TOML inline table with snake_case keys:
//!
//! ```text
//! #[register_plugin(
//!     id = "greeter",
//!     version = "1.2.0",
//!     required_features = ["events"],
//!     dependencies = { "kv-store" = "^1.0", "audit-trail" = { version = "*", optional = true } },
//!     permissions = { storage = ["read", "write"], events = { publish = true, scope = "all" } },
//! )]
//! ```

use patchpanel_manifest::{Key, Node, Value};
use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::{Ident, LitBool, LitStr, Token, braced, bracketed};

/// The parsed arguments: either a manifest file or inline fields.
pub(crate) enum Args {
    /// No arguments: the manifest is in Cargo.toml.
    CargoToml,
    /// `manifest = "path"`.
    File(LitStr),
    /// Inline fields, as a tree located by spans.
    Inline(Node<Span>),
}

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Args> {
        if input.is_empty() {
            return Ok(Args::CargoToml);
        }
        let entries = table_entries(input)?;
        let file = entries.iter().find(|(key, _)| key.name == "manifest");
        match file {
            Some((key, node)) => {
                if let Some((other, _)) = entries.iter().find(|(other, _)| other.name != "manifest") {
                    let mut error = syn::Error::new(
                        other.at,
                        format!(
                            "`{}` cannot be given inline together with `manifest = ...`\n  = help: move `{}` into the manifest file, or remove `manifest` and give every field inline",
                            other.name, other.name
                        ),
                    );
                    error.combine(syn::Error::new(key.at, "the manifest file is named here"));
                    return Err(error);
                }
                match &node.value {
                    Value::Str(path) => Ok(Args::File(LitStr::new(path, node.at))),
                    other => Err(syn::Error::new(
                        node.at,
                        format!(
                            "`manifest` must be a string, found {}\n  = help: name the file relative to the crate root, e.g. `manifest = \"plugin.json\"`",
                            other.kind()
                        ),
                    )),
                }
            }
            None => Ok(Args::Inline(Node {
                value: Value::Table(entries),
                at: Span::call_site(),
            })),
        }
    }
}

/// `key = value, ...` up to the end of the stream.
fn table_entries(input: ParseStream<'_>) -> syn::Result<Vec<(Key<Span>, Node<Span>)>> {
    let mut entries = Vec::new();
    while !input.is_empty() {
        let key = if input.peek(LitStr) {
            let literal: LitStr = input.parse()?;
            Key {
                name: literal.value(),
                at: literal.span(),
            }
        } else if input.peek(Ident::peek_any) {
            let ident = Ident::parse_any(input)?;
            Key {
                name: ident.to_string(),
                at: ident.span(),
            }
        } else {
            return Err(input.error("expected a manifest field name, e.g. `id = \"my-plugin\"`"));
        };
        if input.peek(Token![:]) {
            input.parse::<Token![:]>()?;
        } else {
            input
                .parse::<Token![=]>()
                .map_err(|error| syn::Error::new(error.span(), format!("expected `=` after `{}`", key.name)))?;
        }
        let value = value(input)?;
        entries.push((key, value));
        if input.is_empty() {
            break;
        }
        input.parse::<Token![,]>()?;
    }
    Ok(entries)
}

fn value(input: ParseStream<'_>) -> syn::Result<Node<Span>> {
    if input.peek(LitStr) {
        let literal: LitStr = input.parse()?;
        return Ok(Node {
            value: Value::Str(literal.value()),
            at: literal.span(),
        });
    }
    if input.peek(LitBool) {
        let literal: LitBool = input.parse()?;
        return Ok(Node {
            value: Value::Bool(literal.value),
            at: literal.span,
        });
    }
    if input.peek(syn::token::Bracket) {
        let content;
        let bracket = bracketed!(content in input);
        let items = content.parse_terminated(value, Token![,])?;
        return Ok(Node {
            value: Value::Array(items.into_iter().collect()),
            at: bracket.span.join(),
        });
    }
    if input.peek(syn::token::Brace) {
        let content;
        let brace = braced!(content in input);
        return Ok(Node {
            value: Value::Table(table_entries(&content)?),
            at: brace.span.join(),
        });
    }
    if input.peek(syn::Lit) {
        let literal: syn::Lit = input.parse()?;
        let kind = match literal {
            syn::Lit::Int(_) => "an integer",
            syn::Lit::Float(_) => "a float",
            _ => "a literal of another kind",
        };
        return Ok(Node {
            value: Value::Other(kind),
            at: literal.span(),
        });
    }
    Err(input.error("expected a string, a boolean, `[...]` or `{...}`"))
}
