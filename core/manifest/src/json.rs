//! `plugin.json`, in the guide's shape.
//!
//! `serde_json` checks the syntax and words the errors; a small scanner then walks the
//! (now known to be valid) text once more to record where every key and value starts,
//! which `serde_json::Value` does not keep.

use crate::{Diagnostic, FileLocation, Key, Node, Value};

/// Parses `plugin.json` text into a located tree.
///
/// ```
/// let tree = patchpanel_manifest::parse_json("{\n  \"id\": \"greeter\"\n}").unwrap();
/// let patchpanel_manifest::Value::Table(entries) = &tree.value else { unreachable!() };
/// assert_eq!(entries[0].1.at.line, 2);
/// ```
pub fn parse_json(text: &str) -> Result<Node<FileLocation>, Diagnostic<FileLocation>> {
    if let Err(error) = serde_json::from_str::<serde_json::Value>(text) {
        // serde_json appends " at line L column C"; the location is carried separately.
        let message = error.to_string();
        let message = message.split(" at line ").next().unwrap_or(&message).to_owned();
        return Err(Diagnostic {
            at: FileLocation {
                line: error.line(),
                column: error.column(),
            },
            field: String::new(),
            message: format!("plugin.json does not parse: {message}"),
            help: Some("fix the JSON syntax at this line and column".to_owned()),
        });
    }
    let mut scanner = Scanner { text, position: 0 };
    Ok(scanner.value())
}

struct Scanner<'t> {
    text: &'t str,
    position: usize,
}

impl Scanner<'_> {
    fn skip_whitespace(&mut self) {
        let rest = &self.text[self.position..];
        self.position += rest.len() - rest.trim_start().len();
    }

    fn peek(&self) -> u8 {
        self.text.as_bytes().get(self.position).copied().unwrap_or(b'\0')
    }

    fn value(&mut self) -> Node<FileLocation> {
        self.skip_whitespace();
        let at = FileLocation::of_offset(self.text, self.position);
        let value = match self.peek() {
            b'{' => {
                self.position += 1;
                let mut entries = Vec::new();
                loop {
                    self.skip_whitespace();
                    if self.peek() == b'}' {
                        self.position += 1;
                        break;
                    }
                    let key_at = FileLocation::of_offset(self.text, self.position);
                    let name = self.string();
                    self.skip_whitespace();
                    self.position += 1; // ':'
                    let value = self.value();
                    entries.push((Key { name, at: key_at }, value));
                    self.skip_whitespace();
                    if self.peek() == b',' {
                        self.position += 1;
                    }
                }
                Value::Table(entries)
            }
            b'[' => {
                self.position += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_whitespace();
                    if self.peek() == b']' {
                        self.position += 1;
                        break;
                    }
                    items.push(self.value());
                    self.skip_whitespace();
                    if self.peek() == b',' {
                        self.position += 1;
                    }
                }
                Value::Array(items)
            }
            b'"' => Value::Str(self.string()),
            b't' => {
                self.position += 4;
                Value::Bool(true)
            }
            b'f' => {
                self.position += 5;
                Value::Bool(false)
            }
            b'n' => {
                self.position += 4;
                Value::Other("null")
            }
            _ => {
                let rest = &self.text[self.position..];
                let end = rest
                    .find(|c: char| !(c.is_ascii_digit() || "+-.eE".contains(c)))
                    .unwrap_or(rest.len());
                self.position += end.max(1);
                Value::Other("a number")
            }
        };
        Node { value, at }
    }

    /// Reads a string literal starting at `"`, decoding it through serde_json.
    fn string(&mut self) -> String {
        let bytes = self.text.as_bytes();
        let start = self.position;
        let mut end = start + 1;
        while end < bytes.len() && bytes[end] != b'"' {
            end += if bytes[end] == b'\\' { 2 } else { 1 };
        }
        self.position = end + 1;
        serde_json::from_str(&self.text[start..=end.min(bytes.len() - 1)]).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let error = parse_json("{\n  \"id\": \"a\",\n}").unwrap_err();
        assert_eq!(error.message, "plugin.json does not parse: trailing comma");
        assert_eq!(error.at, FileLocation { line: 3, column: 1 });
    }

    #[test]
    fn nested_keys_and_escapes_are_located() {
        let text =
            "{\"id\": \"a\\\"b\", \"permissions\": {\n  \"storage\": {\"read\": true}}, \"n\": -1.5e3, \"x\": null}";
        let tree = parse_json(text).unwrap();
        let Value::Table(entries) = &tree.value else {
            panic!("not a table")
        };
        assert_eq!(entries[0].1.value, Value::Str("a\"b".to_owned()));
        let Value::Table(permissions) = &entries[1].1.value else {
            panic!("not a table")
        };
        assert_eq!(permissions[0].0.name, "storage");
        assert_eq!(permissions[0].0.at, FileLocation { line: 2, column: 3 });
        assert_eq!(entries[2].1.value, Value::Other("a number"));
        assert_eq!(entries[3].1.value, Value::Other("null"));
    }
}
