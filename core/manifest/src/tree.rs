//! A located value tree: the common shape of every manifest source.

use std::fmt;

/// A value with the place it was written.
///
/// `L` is whatever locates it: a [`FileLocation`] for `Cargo.toml` and `plugin.json`,
/// a source span for inline macro arguments.
#[derive(Clone, Debug, PartialEq)]
pub struct Node<L> {
    /// What the node holds: a string, a boolean, an array, a table, or another kind.
    pub value: Value<L>,
    /// Where it was written.
    pub at: L,
}

/// The values a manifest is made of.
#[derive(Clone, Debug, PartialEq)]
pub enum Value<L> {
    /// A string.
    Str(String),
    /// A boolean.
    Bool(bool),
    /// An array.
    Array(Vec<Node<L>>),
    /// A table of keys to values, in source order.
    Table(Vec<(Key<L>, Node<L>)>),
    /// A value of another kind (number, date, null), named for error messages.
    Other(&'static str),
}

/// A table key with the place it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Key<L> {
    /// The key as written.
    pub name: String,
    /// Where it was written.
    pub at: L,
}

/// A 1-based line and column in a manifest file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileLocation {
    /// The line, from 1.
    pub line: usize,
    /// The column in characters, from 1.
    pub column: usize,
}

impl FileLocation {
    /// The location of byte `offset` in `text`.
    pub fn of_offset(text: &str, offset: usize) -> FileLocation {
        let offset = offset.min(text.len());
        let before = &text[..floor_char_boundary(text, offset)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        FileLocation { line, column }
    }
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

impl fmt::Display for FileLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

impl<L> Value<L> {
    /// The kind of value, as error messages name it.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Str(_) => "a string",
            Value::Bool(_) => "a boolean",
            Value::Array(_) => "an array",
            Value::Table(_) => "a table",
            Value::Other(kind) => kind,
        }
    }
}
