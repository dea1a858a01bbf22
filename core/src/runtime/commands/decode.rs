//! Decoding a JSON request into a command's request type, by value, with the path of the
//! field at fault when it fails.
//!
//! `serde_json::from_value` moves the request's strings into the decoded value but says
//! only what was wrong, not where; decoding from a borrow and again under
//! `serde_path_to_error` on failure says where, but copies every string on the way that
//! succeeds. This deserializer moves, like `from_value`, and keeps the key or index it is
//! inside while it decodes each value, so a failure names its path (`items[2].name`)
//! without any cost to a request that decodes: the path is built only as an error
//! travels back up.

use std::fmt;

use serde::de::value::StrDeserializer;
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, EnumAccess, IntoDeserializer, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};
use serde_json::Value;

/// Why a request did not decode, and where.
#[derive(Debug)]
pub(crate) struct DecodeError {
    /// The segments from the failing field up to the request (the reverse of the path).
    inward: Vec<Segment>,
    message: String,
}

#[derive(Debug)]
enum Segment {
    Key(String),
    Index(usize),
}

impl DecodeError {
    /// The error seen from one level further out: inside `segment`.
    fn within(mut self, segment: Segment) -> DecodeError {
        self.inward.push(segment);
        self
    }

    /// The path of the field at fault (`items[2].name`), empty when the request itself
    /// is at fault.
    pub(crate) fn path(&self) -> String {
        let mut path = String::new();
        for segment in self.inward.iter().rev() {
            match segment {
                Segment::Key(key) => {
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(key);
                }
                Segment::Index(index) => path.push_str(&format!("[{index}]")),
            }
        }
        path
    }

    /// What was wrong, as serde put it.
    pub(crate) fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DecodeError {}

impl de::Error for DecodeError {
    fn custom<T: fmt::Display>(message: T) -> DecodeError {
        DecodeError {
            inward: Vec::new(),
            message: message.to_string(),
        }
    }
}

/// Decodes `value` as a `T`, moving its strings.
pub(crate) fn decode<T: DeserializeOwned>(value: Value) -> Result<T, DecodeError> {
    T::deserialize(ValueDeserializer(value))
}

/// A `Value` taken apart by value.
struct ValueDeserializer(Value);

impl<'de> Deserializer<'de> for ValueDeserializer {
    type Error = DecodeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(value) => visitor.visit_bool(value),
            Value::Number(number) => {
                if let Some(value) = number.as_u64() {
                    visitor.visit_u64(value)
                } else if let Some(value) = number.as_i64() {
                    visitor.visit_i64(value)
                } else {
                    // Without `arbitrary_precision` every number is one of the three.
                    visitor.visit_f64(number.as_f64().unwrap_or(f64::NAN))
                }
            }
            Value::String(value) => visitor.visit_string(value),
            Value::Array(values) => {
                let len = values.len();
                let mut seq = SeqDeserializer {
                    values: values.into_iter(),
                    index: 0,
                };
                let decoded = visitor.visit_seq(&mut seq)?;
                if seq.values.len() == 0 {
                    Ok(decoded)
                } else {
                    Err(de::Error::invalid_length(len, &"fewer elements in array"))
                }
            }
            Value::Object(entries) => {
                let len = entries.len();
                let mut map = MapDeserializer {
                    entries: entries.into_iter(),
                    pending: None,
                };
                let decoded = visitor.visit_map(&mut map)?;
                if map.entries.len() == 0 {
                    Ok(decoded)
                } else {
                    Err(de::Error::invalid_length(len, &"fewer elements in map"))
                }
            }
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            value => visitor.visit_some(ValueDeserializer(value)),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        match self.0 {
            Value::String(variant) => visitor.visit_enum(variant.into_deserializer()),
            Value::Object(entries) if entries.len() == 1 => {
                let (variant, value) = entries.into_iter().next().expect("one entry");
                visitor.visit_enum(EnumDeserializer { variant, value })
            }
            Value::Object(_) => Err(de::Error::invalid_value(de::Unexpected::Map, &"map with a single key")),
            other => Err(de::Error::invalid_type(unexpected(&other), &"string or map")),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        drop(self);
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier
    }
}

/// How serde names a value of the wrong kind.
fn unexpected(value: &Value) -> de::Unexpected<'_> {
    match value {
        Value::Null => de::Unexpected::Unit,
        Value::Bool(value) => de::Unexpected::Bool(*value),
        Value::Number(number) => match (number.as_u64(), number.as_i64()) {
            (Some(value), _) => de::Unexpected::Unsigned(value),
            (None, Some(value)) => de::Unexpected::Signed(value),
            _ => de::Unexpected::Float(number.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(value) => de::Unexpected::Str(value),
        Value::Array(_) => de::Unexpected::Seq,
        Value::Object(_) => de::Unexpected::Map,
    }
}

struct SeqDeserializer {
    values: std::vec::IntoIter<Value>,
    index: usize,
}

impl<'de> SeqAccess<'de> for SeqDeserializer {
    type Error = DecodeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, DecodeError> {
        let Some(value) = self.values.next() else {
            return Ok(None);
        };
        let index = self.index;
        self.index += 1;
        seed.deserialize(ValueDeserializer(value))
            .map(Some)
            .map_err(|error| error.within(Segment::Index(index)))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.values.len())
    }
}

struct MapDeserializer {
    entries: <serde_json::Map<String, Value> as IntoIterator>::IntoIter,
    /// The entry whose key was read and whose value is next.
    pending: Option<(String, Value)>,
}

impl<'de> MapAccess<'de> for MapDeserializer {
    type Error = DecodeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, DecodeError> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        // Read from a borrow, so the key stays here for the path: a struct's field names
        // are matched without a copy.
        let decoded = seed
            .deserialize(StrDeserializer::<DecodeError>::new(&key))
            .map_err(|error| error.within(Segment::Key(key.clone())))?;
        self.pending = Some((key, value));
        Ok(Some(decoded))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DecodeError> {
        let (key, value) = self
            .pending
            .take()
            .ok_or_else(|| <DecodeError as de::Error>::custom("a value was asked for before its key"))?;
        seed.deserialize(ValueDeserializer(value))
            .map_err(|error| error.within(Segment::Key(key)))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

struct EnumDeserializer {
    variant: String,
    value: Value,
}

impl<'de> EnumAccess<'de> for EnumDeserializer {
    type Error = DecodeError;
    type Variant = VariantDeserializer;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, VariantDeserializer), DecodeError> {
        let variant = seed.deserialize(StrDeserializer::<DecodeError>::new(&self.variant))?;
        Ok((
            variant,
            VariantDeserializer {
                name: self.variant,
                value: self.value,
            },
        ))
    }
}

struct VariantDeserializer {
    name: String,
    value: Value,
}

impl<'de> VariantAccess<'de> for VariantDeserializer {
    type Error = DecodeError;

    fn unit_variant(self) -> Result<(), DecodeError> {
        match self.value {
            Value::Null => Ok(()),
            other => Err(de::Error::invalid_type(unexpected(&other), &"unit variant")),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, DecodeError> {
        let name = self.name;
        seed.deserialize(ValueDeserializer(self.value))
            .map_err(|error| error.within(Segment::Key(name)))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, DecodeError> {
        let name = self.name;
        ValueDeserializer(self.value)
            .deserialize_seq(visitor)
            .map_err(|error| error.within(Segment::Key(name)))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        let name = self.name;
        ValueDeserializer(self.value)
            .deserialize_map(visitor)
            .map_err(|error| error.within(Segment::Key(name)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;

    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Item {
        name: String,
        count: u32,
    }

    #[derive(Debug, PartialEq, serde::Deserialize)]
    enum Shape {
        Dot,
        Circle(f64),
        Rect { w: u32, h: u32 },
    }

    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Order {
        id: u64,
        note: Option<String>,
        items: Vec<Item>,
        shape: Shape,
        tags: BTreeMap<String, i64>,
    }

    fn order() -> Value {
        json!({
            "id": 7,
            "note": null,
            "items": [{ "name": "tea", "count": 2 }, { "name": "cake", "count": 1 }],
            "shape": { "Rect": { "w": 2, "h": 3 } },
            "tags": { "a": -1, "b": 2 },
        })
    }

    /// A decode's outcome: the value, or the path and the message.
    type Outcome<T> = Result<T, (String, String)>;

    /// Decodes `value` both ways: the message must be serde_json's, the path
    /// `serde_path_to_error`'s.
    fn both<T: DeserializeOwned + PartialEq + fmt::Debug>(value: Value) -> (Outcome<T>, Outcome<T>) {
        let ours = decode::<T>(value.clone()).map_err(|error| (error.path(), error.message().to_owned()));
        let theirs = serde_path_to_error::deserialize::<_, T>(&value).map_err(|error| {
            let path = if error.path().iter().next().is_some() {
                error.path().to_string()
            } else {
                String::new()
            };
            (path, error.into_inner().to_string())
        });
        (ours, theirs)
    }

    #[test]
    fn decodes_what_serde_json_decodes() {
        let decoded: Order = decode(order()).unwrap();
        assert_eq!(decoded, serde_json::from_value::<Order>(order()).unwrap());
        assert_eq!(decoded.shape, Shape::Rect { w: 2, h: 3 });
        assert_eq!(decode::<Shape>(json!("Dot")).unwrap(), Shape::Dot);
        assert_eq!(decode::<Shape>(json!({ "Circle": 1.5 })).unwrap(), Shape::Circle(1.5));
        assert_eq!(decode::<(u8, String)>(json!([1, "x"])).unwrap(), (1, "x".to_owned()));
        assert_eq!(decode::<Option<i8>>(json!(-3)).unwrap(), Some(-3));
        assert_eq!(decode::<()>(json!(null)).unwrap(), ());
        assert_eq!(decode::<Value>(order()).unwrap(), order());
    }

    #[test]
    fn a_failure_names_the_path_and_the_message_serde_does() {
        let cases = [
            json!({ "id": "seven", "note": null, "items": [], "shape": "Dot", "tags": {} }),
            json!({ "id": 7, "note": 3, "items": [], "shape": "Dot", "tags": {} }),
            json!({ "id": 7, "note": null, "items": [{ "name": "tea", "count": 2 }, { "name": 5, "count": 1 }], "shape": "Dot", "tags": {} }),
            json!({ "id": 7, "note": null, "items": [{ "name": "tea" }], "shape": "Dot", "tags": {} }),
            json!({ "id": 7, "note": null, "items": [], "shape": { "Rect": { "w": -2, "h": 3 } }, "tags": {} }),
            json!({ "id": 7, "note": null, "items": [], "shape": "Hexagon", "tags": {} }),
            json!({ "id": 7, "note": null, "items": [], "shape": "Dot", "tags": { "a": 1.5 } }),
            json!({ "id": 7, "note": null, "items": [[]], "shape": "Dot", "tags": {} }),
            json!([1, 2]),
            json!({ "note": null }),
        ];
        for case in cases {
            let (ours, theirs) = both::<Order>(case.clone());
            assert_eq!(ours, theirs, "{case}");
            assert!(ours.is_err(), "{case}");
        }
    }

    #[test]
    fn the_paths_read_as_they_are_written() {
        let (ours, _) = both::<Order>(
            json!({ "id": 7, "note": null, "items": [{ "name": "tea", "count": "two" }], "shape": "Dot", "tags": {} }),
        );
        assert_eq!(
            ours.unwrap_err(),
            (
                "items[0].count".to_owned(),
                "invalid type: string \"two\", expected u32".to_owned()
            )
        );
        let (ours, _) = both::<Vec<String>>(json!(["a", 1]));
        assert_eq!(
            ours.unwrap_err(),
            (
                "[1]".to_owned(),
                "invalid type: integer `1`, expected a string".to_owned()
            )
        );
        let (ours, _) = both::<u64>(json!("eight"));
        assert_eq!(
            ours.unwrap_err(),
            (String::new(), "invalid type: string \"eight\", expected u64".to_owned())
        );
    }
}
