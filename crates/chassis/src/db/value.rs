//! A value bound to a placeholder, and how a list travels: what both the statement builder
//! ([`super::query`]) and the SQLite read path ([`super::lite`]) bind, kept apart from both so
//! that neither depends on the other for it.

/// A value bound to a placeholder.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(String),
    OptText(Option<String>),
    Int(i64),
    OptInt(Option<i64>),
    Real(f64),
    Bool(bool),
    Bytes(Vec<u8>),
    /// A list of strings: a `text[]` on PostgreSQL; on SQLite, which has no arrays, a JSON array
    /// for the statement to open with `json_each` (see [`Query::push_in_list`]).
    TextList(Vec<String>),
    /// A list of integers, as [`Value::TextList`] (`bigint[]` on PostgreSQL).
    IntList(Vec<i64>),
}

impl From<&str> for Value {
    fn from(text: &str) -> Value {
        Value::Text(text.to_owned())
    }
}

impl From<&String> for Value {
    fn from(text: &String) -> Value {
        Value::Text(text.clone())
    }
}

impl From<String> for Value {
    fn from(text: String) -> Value {
        Value::Text(text)
    }
}

impl From<Option<String>> for Value {
    fn from(text: Option<String>) -> Value {
        Value::OptText(text)
    }
}

impl From<&Option<String>> for Value {
    fn from(text: &Option<String>) -> Value {
        Value::OptText(text.clone())
    }
}

impl From<Option<&str>> for Value {
    fn from(text: Option<&str>) -> Value {
        Value::OptText(text.map(str::to_owned))
    }
}

impl From<i64> for Value {
    fn from(int: i64) -> Value {
        Value::Int(int)
    }
}

impl From<&i64> for Value {
    fn from(int: &i64) -> Value {
        Value::Int(*int)
    }
}

impl From<i32> for Value {
    fn from(int: i32) -> Value {
        Value::Int(i64::from(int))
    }
}

impl From<u32> for Value {
    fn from(int: u32) -> Value {
        Value::Int(i64::from(int))
    }
}

impl From<Option<i64>> for Value {
    fn from(int: Option<i64>) -> Value {
        Value::OptInt(int)
    }
}

impl From<f64> for Value {
    fn from(real: f64) -> Value {
        Value::Real(real)
    }
}

impl From<bool> for Value {
    fn from(flag: bool) -> Value {
        Value::Bool(flag)
    }
}

impl From<Vec<u8>> for Value {
    fn from(bytes: Vec<u8>) -> Value {
        Value::Bytes(bytes)
    }
}

impl From<&[u8]> for Value {
    fn from(bytes: &[u8]) -> Value {
        Value::Bytes(bytes.to_vec())
    }
}

/// Ids are stored as text on both engines (a `uuid` column on PostgreSQL takes the text with a
/// `::uuid` cast in the statement).
impl From<uuid::Uuid> for Value {
    fn from(id: uuid::Uuid) -> Value {
        Value::Text(id.to_string())
    }
}

impl From<Option<uuid::Uuid>> for Value {
    fn from(id: Option<uuid::Uuid>) -> Value {
        Value::OptText(id.map(|id| id.to_string()))
    }
}

impl From<Vec<String>> for Value {
    fn from(list: Vec<String>) -> Value {
        Value::TextList(list)
    }
}

impl From<Vec<i64>> for Value {
    fn from(list: Vec<i64>) -> Value {
        Value::IntList(list)
    }
}

/// A list bound as one value: SQLite reads it as a JSON array (`json_each`).
pub(super) fn json_array<T: serde::Serialize>(list: &[T]) -> String {
    // Serialising strings and integers cannot fail; an empty array matches nothing, which is
    // the safe side.
    serde_json::to_string(list).unwrap_or_else(|_| "[]".to_owned())
}
