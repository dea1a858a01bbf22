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

/// The parsed arguments: where the manifest is, and the path of the runtime crate.
pub(crate) struct Args {
    /// Where the manifest comes from.
    pub(crate) source: Source,
    /// The path the generated code names the runtime by: `crate = path` when the
    /// application renamed the dependency, `::patchpanel` otherwise.
    pub(crate) krate: Option<syn::Path>,
}

/// Where the manifest comes from: Cargo.toml, a manifest file or inline fields.
pub(crate) enum Source {
    /// No manifest arguments: the manifest is in Cargo.toml.
    CargoToml,
    /// `manifest = "path"`.
    File(LitStr),
    /// Inline fields, as a tree located by spans.
    Inline(Node<Span>),
}

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Args> {
        let mut krate = None;
        let entries = table_entries(input, Some(&mut krate))?;
        let source = if entries.is_empty() {
            Source::CargoToml
        } else {
            Source::parse(entries)?
        };
        Ok(Args { source, krate })
    }
}

/// `crate = path` (or `crate = "path"`, as serde spells it): the runtime crate's path,
/// for applications that rename the `patchpanel` dependency.
pub(crate) fn crate_path(input: ParseStream<'_>) -> syn::Result<syn::Path> {
    if input.peek(LitStr) {
        let literal: LitStr = input.parse()?;
        return literal.parse::<syn::Path>().map_err(|_| {
            syn::Error::new(
                literal.span(),
                "`crate` must name a path, e.g. `crate = pp` or `crate = ::my_renamed_patchpanel`",
            )
        });
    }
    syn::Path::parse_mod_style(input).map_err(|error| {
        syn::Error::new(
            error.span(),
            "`crate` must name a path, e.g. `crate = pp` or `crate = ::my_renamed_patchpanel`",
        )
    })
}

impl Source {
    fn parse(entries: Vec<(Key<Span>, Node<Span>)>) -> syn::Result<Source> {
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
                    Value::Str(path) => Ok(Source::File(LitStr::new(path, node.at))),
                    other => Err(syn::Error::new(
                        node.at,
                        format!(
                            "`manifest` must be a string, found {}\n  = help: name the file relative to the crate root, e.g. `manifest = \"plugin.json\"`",
                            other.kind()
                        ),
                    )),
                }
            }
            None => Ok(Source::Inline(Node {
                value: Value::Table(entries),
                at: Span::call_site(),
            })),
        }
    }
}

/// `key = value, ...` up to the end of the stream. At the top level (`krate` is given),
/// `crate = path` is taken out into `krate` instead of becoming a manifest field.
fn table_entries(
    input: ParseStream<'_>,
    mut krate: Option<&mut Option<syn::Path>>,
) -> syn::Result<Vec<(Key<Span>, Node<Span>)>> {
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
            if input.peek(Token![-]) {
                return Err(kebab_key(ident, input));
            }
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
        match krate.as_deref_mut() {
            Some(slot) if key.name == "crate" => {
                if slot.is_some() {
                    return Err(syn::Error::new(
                        key.at,
                        "`crate` is given twice\n  = help: keep one `crate = path`",
                    ));
                }
                *slot = Some(crate_path(input)?);
            }
            _ => {
                let value = value(input)?;
                entries.push((key, value));
            }
        }
        if input.is_empty() {
            break;
        }
        input.parse::<Token![,]>()?;
    }
    Ok(entries)
}

/// A key written `min-host-version = ...` or `kv-store = ...`: TOML's style, which
/// attribute syntax does not take unquoted. Says which of the two fixes applies.
fn kebab_key(first: Ident, input: ParseStream<'_>) -> syn::Error {
    let mut name = first.to_string();
    while input.peek(Token![-]) && input.peek2(Ident::peek_any) {
        let _: Token![-] = input.parse().expect("peeked");
        let next = Ident::parse_any(input).expect("peeked");
        name.push('-');
        name.push_str(&next.to_string());
    }
    let snake = name.replace('-', "_");
    let known = ["min_host_version", "required_features"].contains(&snake.as_str());
    let help = if known {
        format!("inline keys are snake_case: write `{snake}`")
    } else {
        format!(
            "an id with `-` is a string here: write `\"{name}\" = ...` (or, for a manifest field, the snake_case `{snake}`)"
        )
    };
    syn::Error::new(
        first.span(),
        format!("`{name}` is written in TOML's style\n  = help: {help}"),
    )
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
            value: Value::Table(table_entries(&content, None)?),
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

/// Fuzzing of the inline arguments, proptest-style: text drawn from the argument
/// grammar's tokens (keys, literals, brackets, braces, `=`, commas) with random values,
/// parsed as `#[register_plugin(...)]` would parse it and, when it parses, validated.
/// Every case gives a manifest or errors, never a panic. `PROPTEST_CASES` raises the
/// number of cases.
#[cfg(test)]
mod fuzz {
    use patchpanel_manifest::{Defaults, KeyStyle, validate};
    use proptest::prelude::*;
    use proptest::test_runner::Config;

    use super::{Args, Source};

    const TOKENS: &[&str] = &[
        "id",
        "name",
        "version",
        "description",
        "min_host_version",
        "minHostVersion",
        "required_features",
        "dependencies",
        "permissions",
        "manifest",
        "crate",
        "optional",
        "scope",
        "storage",
        "events",
        "read",
        "publish",
        "true",
        "false",
        "=",
        "=",
        ",",
        ",",
        "[",
        "]",
        "{",
        "}",
        "\"greeter\"",
        "\"1.0.0\"",
        "\"^1\"",
        "\"kv-store\"",
        "\"all\"",
        "\"\"",
        "\"read\"",
        "\"Kv\"",
        "\"plugin.json\"",
        "42",
        "1.5",
        "'c'",
        "::pp",
        "pp",
        "-",
        "#",
        "\"\\u{0}\"",
    ];

    fn cases() -> Config {
        Config {
            cases: std::env::var("PROPTEST_CASES").map_or(512, |n| n.parse().unwrap()),
            failure_persistence: None,
            ..Config::default()
        }
    }

    /// Well-formed-looking entries (`key = value`) with random keys and values.
    fn entries() -> impl Strategy<Value = String> {
        let key = prop::sample::select(&TOKENS[..18]);
        let leaf = prop::sample::select(&TOKENS[19..]).prop_map(str::to_owned);
        let value = leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(|items| format!("[{}]", items.join(", "))),
                prop::collection::vec((prop::sample::select(&TOKENS[..18]), inner), 0..4).prop_map(|entries| {
                    let body: Vec<String> = entries.into_iter().map(|(k, v)| format!("{k} = {v}")).collect();
                    format!("{{ {} }}", body.join(", "))
                }),
            ]
        });
        prop::collection::vec((key, value), 0..7).prop_map(|entries| {
            entries
                .into_iter()
                .map(|(key, value)| format!("{key} = {value}"))
                .collect::<Vec<_>>()
                .join(", ")
        })
    }

    /// Any sequence of the grammar's tokens.
    fn token_soup() -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(TOKENS), 0..24).prop_map(|tokens| tokens.join(" "))
    }

    proptest! {
        #![proptest_config(cases())]

        #[test]
        fn inline_arguments_give_a_manifest_or_errors(text in prop_oneof![entries(), token_soup()]) {
            // A string the tokenizer refuses (an unbalanced bracket) is rejected by
            // rustc before the macro runs.
            let Ok(tokens) = text.parse::<proc_macro2::TokenStream>() else { return Ok(()) };
            match syn::parse2::<Args>(tokens) {
                Err(error) => prop_assert!(!error.to_string().is_empty()),
                Ok(Args { source: Source::Inline(tree), .. }) => {
                    if let Err(diagnostics) = validate(&tree, KeyStyle::Snake, &Defaults::default()) {
                        prop_assert!(!diagnostics.is_empty());
                        prop_assert!(diagnostics.iter().all(|d| !d.message.is_empty()));
                    }
                }
                Ok(_) => {}
            }
        }
    }
}
