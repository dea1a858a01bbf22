//! Finding the manifest source, reading it, and running the shared validator.

use std::path::PathBuf;

use patchpanel_manifest::{Defaults, Diagnostic, FileLocation, KeyStyle, Manifest, Node, validate};
use proc_macro2::Span;

use crate::attr::Source;

/// The outcome of checking: the manifest, or every error, with the file to track either way.
pub(crate) struct Outcome {
    pub(crate) result: Result<Manifest, syn::Error>,
    pub(crate) tracked: Option<PathBuf>,
}

/// The directory manifest paths are relative to: the crate root.
///
/// `PATCHPANEL_MANIFEST_DIR=<package>=<dir>` overrides it for one package, for build
/// systems and test harnesses that compile a crate away from its sources (trybuild,
/// Bazel). Naming the package keeps the override off every other crate in the build.
fn manifest_dir() -> PathBuf {
    let crate_root = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_default();
    let package = std::env::var("CARGO_PKG_NAME").unwrap_or_default();
    std::env::var("PATCHPANEL_MANIFEST_DIR")
        .ok()
        .and_then(|value| {
            let (target, dir) = value.split_once('=')?;
            (target == package).then(|| PathBuf::from(dir))
        })
        .unwrap_or(crate_root)
}

/// The package's Cargo.toml, where the plugin table would be (the same directory the
/// Cargo.toml source reads, so `PATCHPANEL_MANIFEST_DIR` moves both).
fn package_cargo_toml() -> Option<PathBuf> {
    let path = manifest_dir().join("Cargo.toml");
    path.exists().then_some(path)
}

/// An error when the package's Cargo.toml also has a `[package.metadata.plugin]` table:
/// one manifest source per plugin, so that no declaration is silently ignored.
fn second_source(given: &str, span: Span) -> Option<syn::Error> {
    let text = std::fs::read_to_string(package_cargo_toml()?).ok()?;
    declares_plugin_metadata(&text).then(|| {
        syn::Error::new(
            span,
            format!(
                "this plugin's manifest is given twice: in {given} and in `[package.metadata.plugin]` of Cargo.toml, and one would be ignored\n  = help: keep one source: remove the Cargo.toml table, or remove the arguments and write `#[register_plugin]`"
            ),
        )
    })
}

/// Whether Cargo.toml text has a `[package.metadata.plugin]` table.
fn declares_plugin_metadata(text: &str) -> bool {
    matches!(patchpanel_manifest::parse_cargo_toml(text), Ok(Some(_)))
}

fn package_defaults() -> Defaults {
    let nonempty = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    Defaults {
        version: nonempty("CARGO_PKG_VERSION"),
        description: nonempty("CARGO_PKG_DESCRIPTION"),
        registers_type: true,
    }
}

pub(crate) fn check(source: Source) -> Outcome {
    let given = match &source {
        Source::CargoToml => None,
        Source::File(literal) => Some((format!("`manifest = \"{}\"`", literal.value()), literal.span())),
        Source::Inline(_) => Some(("the inline arguments".to_owned(), Span::call_site())),
    };
    if let Some((given, span)) = given
        && let Some(error) = second_source(&given, span)
    {
        return Outcome {
            result: Err(error),
            tracked: package_cargo_toml(),
        };
    }
    match source {
        Source::Inline(tree) => Outcome {
            result: validate(&tree, KeyStyle::Snake, &package_defaults())
                .map_err(|diagnostics| combine(diagnostics.into_iter().map(|d| syn::Error::new(d.at, d.to_string())))),
            tracked: None,
        },
        Source::CargoToml => {
            let path = manifest_dir().join("Cargo.toml");
            let span = Span::call_site();
            let result =
                read(&path, "Cargo.toml", span).and_then(|text| match patchpanel_manifest::parse_cargo_toml(&text) {
                    Err(diagnostic) => Err(file_error(span, "Cargo.toml", &diagnostic)),
                    Ok(None) => Err(syn::Error::new(span, missing_metadata_message())),
                    Ok(Some(tree)) => validate_file(&tree, KeyStyle::Kebab, &package_defaults(), "Cargo.toml", span),
                });
            Outcome {
                result,
                tracked: path.exists().then_some(path),
            }
        }
        Source::File(literal) => {
            let relative = literal.value();
            let span = literal.span();
            let path = manifest_dir().join(&relative);
            if !relative.ends_with(".json") {
                return Outcome {
                    result: Err(syn::Error::new(
                        span,
                        format!(
                            "`{relative}` is not a JSON manifest\n  = help: name a `.json` file in the guide's shape (e.g. `manifest = \"plugin.json\"`), or move the fields into `[package.metadata.plugin]` in Cargo.toml and remove `manifest`"
                        ),
                    )),
                    tracked: None,
                };
            }
            let result =
                read_json(&path, &relative, span).and_then(|text| match patchpanel_manifest::parse_json(&text) {
                    Err(diagnostic) => Err(json_comment(&text, &relative, span)
                        .unwrap_or_else(|| file_error(span, &relative, &diagnostic))),
                    // A standalone file carries its own version: no package defaults.
                    Ok(tree) => validate_file(&tree, KeyStyle::Camel, &Defaults::default(), &relative, span),
                });
            Outcome {
                result,
                tracked: path.exists().then_some(path),
            }
        }
    }
}

fn read(path: &std::path::Path, shown: &str, span: Span) -> syn::Result<String> {
    std::fs::read_to_string(path).map_err(|error| {
        syn::Error::new(
            span,
            format!(
                "cannot read the plugin manifest `{shown}`: {}\n  = help: paths are relative to the crate root (the directory of Cargo.toml); check that `{shown}` exists there",
                io_reason(&error)
            ),
        )
    })
}

/// Reads a JSON manifest, saying exactly what is wrong with bytes JSON does not take: a
/// byte-order mark, or bytes that are not UTF-8.
fn read_json(path: &std::path::Path, shown: &str, span: Span) -> syn::Result<String> {
    let bytes = std::fs::read(path).map_err(|error| {
        syn::Error::new(
            span,
            format!(
                "cannot read the plugin manifest `{shown}`: {}\n  = help: paths are relative to the crate root (the directory of Cargo.toml); check that `{shown}` exists there",
                io_reason(&error)
            ),
        )
    })?;
    if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return Err(syn::Error::new(
            span,
            format!(
                "`{shown}` starts with a byte-order mark, which JSON does not allow\n  = help: save `{shown}` as UTF-8 without a BOM"
            ),
        ));
    }
    String::from_utf8(bytes).map_err(|error| {
        syn::Error::new(
            span,
            format!(
                "`{shown}` is not UTF-8: the byte at offset {} is not valid\n  = help: save `{shown}` as UTF-8",
                error.utf8_error().valid_up_to()
            ),
        )
    })
}

/// The first `//` or `/*` outside a string, as `line:column`, when the JSON has one.
fn json_comment(text: &str, shown: &str, span: Span) -> Option<syn::Error> {
    let (mut in_string, mut escaped) = (false, false);
    let (mut line, mut column) = (1, 1);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if in_string {
            match (escaped, c) {
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => escaped = false,
            }
        } else if c == '"' {
            in_string = true;
        } else if c == '/' && matches!(chars.peek(), Some('/' | '*')) {
            return Some(syn::Error::new(
                span,
                format!(
                    "{shown}:{line}:{column}: JSON does not allow comments\n  = help: remove the comment, or move the manifest into `[package.metadata.plugin]` in Cargo.toml, where TOML comments are allowed"
                ),
            ));
        }
        if c == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    None
}

fn io_reason(error: &std::io::Error) -> &'static str {
    match error.kind() {
        std::io::ErrorKind::NotFound => "no such file",
        std::io::ErrorKind::PermissionDenied => "permission denied",
        _ => "it could not be read",
    }
}

fn validate_file(
    tree: &Node<FileLocation>,
    style: KeyStyle,
    defaults: &Defaults,
    file: &str,
    span: Span,
) -> syn::Result<Manifest> {
    validate(tree, style, defaults)
        .map_err(|diagnostics| combine(diagnostics.iter().map(|diagnostic| file_error(span, file, diagnostic))))
}

fn file_error(span: Span, file: &str, diagnostic: &Diagnostic<FileLocation>) -> syn::Error {
    syn::Error::new(span, format!("{file}:{}: {diagnostic}", diagnostic.at))
}

fn missing_metadata_message() -> String {
    let package = std::env::var("CARGO_PKG_NAME").unwrap_or_default();
    let id = package.to_ascii_lowercase().replace('_', "-");
    let id = if patchpanel_manifest::catalogue::check_id(&id).is_ok() {
        id
    } else {
        "my-plugin".to_owned()
    };
    format!(
        "this plugin has no manifest: Cargo.toml has no `[package.metadata.plugin]` table\n  = help: add to Cargo.toml:\n        [package.metadata.plugin]\n        id = \"{id}\"\n    or give the manifest inline: `#[register_plugin(id = \"{id}\")]`"
    )
}

fn combine(errors: impl Iterator<Item = syn::Error>) -> syn::Error {
    errors
        .reduce(|mut all, error| {
            all.combine(error);
            all
        })
        .expect("validation fails with at least one diagnostic")
}

#[cfg(test)]
mod tests {
    use super::declares_plugin_metadata;

    /// A second manifest source is refused (the trybuild harness compiles UI cases in a
    /// package of its own, so this case is pinned here instead).
    #[test]
    fn a_cargo_toml_plugin_table_is_seen_as_a_second_source() {
        assert!(declares_plugin_metadata(
            "[package]\nname = \"p\"\nversion = \"0.1.0\"\n\n[package.metadata.plugin]\nid = \"p\"\n"
        ));
        assert!(!declares_plugin_metadata(
            "[package]\nname = \"p\"\nversion = \"0.1.0\"\n"
        ));
        assert!(!declares_plugin_metadata(
            "[package]\nname = \"p\"\nversion = \"0.1.0\"\n\n[package.metadata.docs.rs]\nall-features = true\n"
        ));
    }
}
