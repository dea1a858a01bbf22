//! `[package.metadata.plugin]` in a plugin's Cargo.toml.

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::{Diagnostic, FileLocation, Key, Node, Value};

/// Parses a Cargo.toml and returns its `[package.metadata.plugin]` table as a located
/// tree, or `None` when the package has no such table.
///
/// A syntax error is a [`Diagnostic`] at the line and column where it was found.
///
/// ```
/// let text = "[package]\nname = \"greeter\"\n\n[package.metadata.plugin]\nid = \"greeter\"\n";
/// let tree = patchpanel_manifest::parse_cargo_toml(text).unwrap().unwrap();
/// assert_eq!(tree.at.line, 4);
/// ```
pub fn parse_cargo_toml(text: &str) -> Result<Option<Node<FileLocation>>, Diagnostic<FileLocation>> {
    let document = DeTable::parse(text).map_err(|error| Diagnostic {
        at: FileLocation::of_offset(text, error.span().map_or(0, |span| span.start)),
        field: String::new(),
        message: format!("Cargo.toml does not parse: {}", error.message().trim_end()),
        help: Some("fix the TOML syntax at this line and column".to_owned()),
    })?;
    let plugin = lookup(document.get_ref(), "package")
        .and_then(|package| lookup(package.get_ref().as_table()?, "metadata"))
        .and_then(|metadata| lookup(metadata.get_ref().as_table()?, "plugin"));
    Ok(plugin.map(|plugin| convert(text, plugin)))
}

fn lookup<'t, 'i>(table: &'t DeTable<'i>, name: &str) -> Option<&'t Spanned<DeValue<'i>>> {
    table
        .iter()
        .find(|(key, _)| key.get_ref().as_ref() == name)
        .map(|(_, value)| value)
}

fn convert(text: &str, value: &Spanned<DeValue<'_>>) -> Node<FileLocation> {
    let at = FileLocation::of_offset(text, value.span().start);
    let value = match value.get_ref() {
        DeValue::String(s) => Value::Str(s.to_string()),
        DeValue::Boolean(b) => Value::Bool(*b),
        DeValue::Integer(_) => Value::Other("an integer"),
        DeValue::Float(_) => Value::Other("a float"),
        DeValue::Datetime(_) => Value::Other("a datetime"),
        DeValue::Array(items) => Value::Array(items.into_iter().map(|item| convert(text, item)).collect()),
        DeValue::Table(table) => {
            let mut entries: Vec<(Key<FileLocation>, Node<FileLocation>)> = table
                .iter()
                .map(|(key, value)| {
                    let key = Key {
                        name: key.get_ref().to_string(),
                        at: FileLocation::of_offset(text, key.span().start),
                    };
                    (key, convert(text, value))
                })
                .collect();
            // The parser keeps keys sorted; report in the order the user wrote them.
            entries.sort_by_key(|(key, _)| (key.at.line, key.at.column));
            Value::Table(entries)
        }
    };
    Node { value, at }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_metadata_table_is_none() {
        assert_eq!(parse_cargo_toml("[package]\nname = \"x\"\n").unwrap(), None);
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let error = parse_cargo_toml("[package]\nname = \n").unwrap_err();
        assert_eq!(error.at, FileLocation { line: 2, column: 8 });
        assert!(
            error.message.starts_with("Cargo.toml does not parse: "),
            "{}",
            error.message
        );
    }

    /// `plugin = "greeter"` under `[package.metadata]`: the message names the key and
    /// shows the table syntax of Cargo.toml, not another source's.
    #[test]
    fn a_plugin_key_that_is_a_string_names_the_table_to_write() {
        let text = "[package]\nname = \"x\"\n\n[package.metadata]\nplugin = \"greeter\"\n";
        let tree = parse_cargo_toml(text).unwrap().unwrap();
        let diagnostics = crate::validate(&tree, crate::KeyStyle::Kebab, &crate::Defaults::default()).unwrap_err();
        assert_eq!(diagnostics.len(), 1);
        assert_eq!(diagnostics[0].at, FileLocation { line: 5, column: 10 });
        assert_eq!(
            diagnostics[0].message,
            "`package.metadata.plugin` in Cargo.toml must be a table, found a string"
        );
        assert_eq!(
            diagnostics[0].help.as_deref(),
            Some(
                "write a `[package.metadata.plugin]` table with the fields under it, e.g. `id = \"my-plugin\"` on the next line"
            )
        );
    }

    #[test]
    fn keys_and_values_are_located() {
        let text = "[package.metadata.plugin]\nid = \"a\"\ndependencies = { b = \"^1\" }\n";
        let tree = parse_cargo_toml(text).unwrap().unwrap();
        let Value::Table(entries) = &tree.value else {
            panic!("not a table")
        };
        assert_eq!(entries[0].0.name, "id");
        assert_eq!(entries[0].1.at, FileLocation { line: 2, column: 6 });
        assert_eq!(entries[1].0.at, FileLocation { line: 3, column: 1 });
    }
}
