//! JSON of untrusted requests read as serde_json reads it, but an object that names a key
//! twice is refused, with the JSON Pointer of the second one. serde_json keeps the last
//! value silently, so `"value": 1, "value": 2` would be guessed at as 2 — and the language
//! never guesses.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value as Json};

use super::definition::pointer_join;

/// Why a text was refused.
pub enum UniqueKeysError {
    /// An object names a key twice: the pointer of its second member.
    Duplicate { pointer: String, key: String },
    /// Not JSON (or nested past serde_json's limit).
    Json(serde_json::Error),
}

/// Reads one JSON document whose objects each name a key at most once.
pub fn from_slice(bytes: &[u8]) -> Result<Json, UniqueKeysError> {
    let walk = Walk::default();
    let mut reader = serde_json::Deserializer::from_slice(bytes);
    let read = Node { walk: &walk }
        .deserialize(&mut reader)
        .and_then(|value| reader.end().map(|()| value));
    match (read, walk.duplicate.into_inner()) {
        (Ok(value), _) => Ok(value),
        (Err(_), Some((pointer, key))) => Err(UniqueKeysError::Duplicate { pointer, key }),
        (Err(e), None) => Err(UniqueKeysError::Json(e)),
    }
}

/// Where the reader is, and the duplicate it stopped at.
#[derive(Default)]
struct Walk {
    pointer: RefCell<String>,
    duplicate: RefCell<Option<(String, String)>>,
}

impl Walk {
    /// Reads the value under `token`, the pointer extended by it meanwhile.
    fn read_child<T, E>(
        &self,
        token: impl fmt::Display,
        read: impl FnOnce(Node<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let parent_length = self.pointer.borrow().len();
        let child = pointer_join("", token);
        self.pointer.borrow_mut().push_str(&child);
        let read = read(Node { walk: self });
        self.pointer.borrow_mut().truncate(parent_length);
        read
    }
}

/// One value to read, at the walk's pointer.
#[derive(Clone, Copy)]
struct Node<'w> {
    walk: &'w Walk,
}

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = Json;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Json, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Json, E> {
        Ok(Json::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Json, E> {
        Ok(Json::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Json, E> {
        Ok(Json::Number(value.into()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Json, E> {
        Ok(Number::from_f64(value).map_or(Json::Null, Json::Number))
    }

    fn visit_str<E>(self, value: &str) -> Result<Json, E> {
        Ok(Json::String(value.to_string()))
    }

    fn visit_string<E>(self, value: String) -> Result<Json, E> {
        Ok(Json::String(value))
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_none<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Json, A::Error> {
        let mut list = Vec::new();
        loop {
            let next = self
                .walk
                .read_child(list.len(), |node| items.next_element_seed(node));
            match next? {
                Some(item) => list.push(item),
                None => return Ok(Json::Array(list)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<Json, A::Error> {
        let mut object = Map::new();
        while let Some(key) = members.next_key::<String>()? {
            if object.contains_key(&key) {
                let pointer = pointer_join(&self.walk.pointer.borrow(), &key);
                let message = format!("{pointer}: the key {key:?} is given twice");
                *self.walk.duplicate.borrow_mut() = Some((pointer, key));
                return Err(de::Error::custom(message));
            }
            let value = self
                .walk
                .read_child(&key, |node| members.next_value_seed(node))?;
            object.insert(key, value);
        }
        Ok(Json::Object(object))
    }
}
