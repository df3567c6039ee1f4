//! Rows read by rusqlite decoded as sqlx decodes them on SQLite.

use rusqlite::types::ValueRef;
use sqlx::error::BoxDynError;

/// A row type read in the calling task: implemented for tuples of [`LiteValue`]s (what the
/// stores read into), as sqlx implements `FromRow` for them.
pub trait FromLiteRow: Sized {
    fn from_lite_row(row: &rusqlite::Row<'_>) -> Result<Self, sqlx::Error>;
}

/// A column value read in the calling task, with sqlx's SQLite rules.
pub trait LiteValue: Sized {
    /// SQL type name for the mismatch message (as sqlx names it).
    const SQL_TYPE: &'static str;
    /// Whether a value of SQLite's runtime `kind` may be read as this type.
    fn compatible(kind: Kind) -> bool;
    fn decode(value: ValueRef<'_>) -> Result<Self, BoxDynError>;
}

/// SQLite's runtime type of a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Null,
    Integer,
    Real,
    Text,
    Blob,
}

impl Kind {
    fn of(value: ValueRef<'_>) -> Kind {
        match value {
            ValueRef::Null => Kind::Null,
            ValueRef::Integer(_) => Kind::Integer,
            ValueRef::Real(_) => Kind::Real,
            ValueRef::Text(_) => Kind::Text,
            ValueRef::Blob(_) => Kind::Blob,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Null => "NULL",
            Kind::Integer => "INTEGER",
            Kind::Real => "REAL",
            Kind::Text => "TEXT",
            Kind::Blob => "BLOB",
        }
    }
}

/// Column `index` of `row` as `T`, failing as sqlx's `Row::try_get` fails.
pub(crate) fn column<T: LiteValue>(
    row: &rusqlite::Row<'_>,
    index: usize,
) -> Result<T, sqlx::Error> {
    let len = row.as_ref().column_count();
    let value = row
        .get_ref(index)
        .map_err(|_| sqlx::Error::ColumnIndexOutOfBounds { index, len })?;
    let kind = Kind::of(value);
    if kind != Kind::Null && !T::compatible(kind) {
        return Err(sqlx::Error::ColumnDecode {
            index: format!("{index:?}"),
            source: format!(
                "mismatched types; Rust type `{}` (as SQL type `{}`) is not compatible with SQL type `{}`",
                std::any::type_name::<T>(),
                T::SQL_TYPE,
                kind.name()
            )
            .into(),
        });
    }
    T::decode(value).map_err(|source| sqlx::Error::ColumnDecode {
        index: format!("{index:?}"),
        source,
    })
}

/// sqlx reads a NULL into a non-option integer as 0 (`sqlite3_value_int64`).
fn int64(value: ValueRef<'_>) -> i64 {
    match value {
        ValueRef::Integer(int) => int,
        _ => 0,
    }
}

/// sqlx reads a NULL into text or bytes as empty.
fn bytes(value: ValueRef<'_>) -> &[u8] {
    match value {
        ValueRef::Text(bytes) | ValueRef::Blob(bytes) => bytes,
        _ => &[],
    }
}

macro_rules! integer {
    ($($t:ty),*) => {$(
        impl LiteValue for $t {
            const SQL_TYPE: &'static str = "INTEGER";
            fn compatible(kind: Kind) -> bool {
                kind == Kind::Integer
            }
            fn decode(value: ValueRef<'_>) -> Result<Self, BoxDynError> {
                Ok(<$t>::try_from(int64(value))?)
            }
        }
    )*};
}

integer!(i8, i16, i32, i64, u8, u16, u32);

impl LiteValue for bool {
    const SQL_TYPE: &'static str = "BOOLEAN";
    fn compatible(kind: Kind) -> bool {
        kind == Kind::Integer
    }
    fn decode(value: ValueRef<'_>) -> Result<Self, BoxDynError> {
        Ok(int64(value) != 0)
    }
}

impl LiteValue for f64 {
    const SQL_TYPE: &'static str = "REAL";
    fn compatible(kind: Kind) -> bool {
        kind == Kind::Real
    }
    fn decode(value: ValueRef<'_>) -> Result<Self, BoxDynError> {
        Ok(match value {
            ValueRef::Real(real) => real,
            _ => 0.0,
        })
    }
}

impl LiteValue for String {
    const SQL_TYPE: &'static str = "TEXT";
    fn compatible(kind: Kind) -> bool {
        kind == Kind::Text
    }
    fn decode(value: ValueRef<'_>) -> Result<Self, BoxDynError> {
        Ok(std::str::from_utf8(bytes(value))?.to_owned())
    }
}

impl LiteValue for Vec<u8> {
    const SQL_TYPE: &'static str = "BLOB";
    fn compatible(kind: Kind) -> bool {
        matches!(kind, Kind::Blob | Kind::Text)
    }
    fn decode(value: ValueRef<'_>) -> Result<Self, BoxDynError> {
        Ok(bytes(value).to_vec())
    }
}

impl<T: LiteValue> LiteValue for Option<T> {
    const SQL_TYPE: &'static str = T::SQL_TYPE;
    fn compatible(kind: Kind) -> bool {
        T::compatible(kind)
    }
    fn decode(value: ValueRef<'_>) -> Result<Self, BoxDynError> {
        match value {
            ValueRef::Null => Ok(None),
            value => T::decode(value).map(Some),
        }
    }
}

macro_rules! tuple {
    ($($t:ident $i:tt),+) => {
        impl<$($t: LiteValue),+> FromLiteRow for ($($t,)+) {
            fn from_lite_row(row: &rusqlite::Row<'_>) -> Result<Self, sqlx::Error> {
                Ok(($(column::<$t>(row, $i)?,)+))
            }
        }
    };
}

tuple!(T0 0);
tuple!(T0 0, T1 1);
tuple!(T0 0, T1 1, T2 2);
tuple!(T0 0, T1 1, T2 2, T3 3);
tuple!(T0 0, T1 1, T2 2, T3 3, T4 4);
tuple!(T0 0, T1 1, T2 2, T3 3, T4 4, T5 5);
tuple!(T0 0, T1 1, T2 2, T3 3, T4 4, T5 5, T6 6);
tuple!(T0 0, T1 1, T2 2, T3 3, T4 4, T5 5, T6 6, T7 7);
tuple!(T0 0, T1 1, T2 2, T3 3, T4 4, T5 5, T6 6, T7 7, T8 8);
tuple!(T0 0, T1 1, T2 2, T3 3, T4 4, T5 5, T6 6, T7 7, T8 8, T9 9);
tuple!(T0 0, T1 1, T2 2, T3 3, T4 4, T5 5, T6 6, T7 7, T8 8, T9 9, T10 10);
tuple!(T0 0, T1 1, T2 2, T3 3, T4 4, T5 5, T6 6, T7 7, T8 8, T9 9, T10 10, T11 11);
tuple!(T0 0, T1 1, T2 2, T3 3, T4 4, T5 5, T6 6, T7 7, T8 8, T9 9, T10 10, T11 11, T12 12);
tuple!(T0 0, T1 1, T2 2, T3 3, T4 4, T5 5, T6 6, T7 7, T8 8, T9 9, T10 10, T11 11, T12 12, T13 13);
tuple!(T0 0, T1 1, T2 2, T3 3, T4 4, T5 5, T6 6, T7 7, T8 8, T9 9, T10 10, T11 11, T12 12, T13 13, T14 14);
tuple!(T0 0, T1 1, T2 2, T3 3, T4 4, T5 5, T6 6, T7 7, T8 8, T9 9, T10 10, T11 11, T12 12, T13 13, T14 14, T15 15);
