//! [`store_handle!`](crate::store_handle): the handle every service's store is, declared once.

/// Declares a service's store handle: a struct, cheap to clone, holding the pool (`db`) of a
/// store that has the service's migrations applied and, `with outbox`, the outbox (`outbox`) to
/// wake after each commit that wrote an event; with `new` and `db()`. The service writes its
/// queries as methods in its own `impl` of it.
///
/// ```ignore
/// brigade_chassis::store_handle! {
///     /// Carts.
///     pub struct Store;
/// }
///
/// impl Store {
///     pub async fn load(&self, user_id: Uuid) -> Result<StoredCart, Error> { /* self.db */ }
/// }
/// ```
#[macro_export]
macro_rules! store_handle {
    ($(#[$meta:meta])* $vis:vis struct $name:ident;) => {
        $(#[$meta])*
        #[derive(Debug, Clone)]
        $vis struct $name {
            db: $crate::db::Db,
        }

        impl $name {
            /// `db` must have the service's migrations applied.
            pub fn new(db: $crate::db::Db) -> $name {
                $name { db }
            }

            pub fn db(&self) -> &$crate::db::Db {
                &self.db
            }
        }
    };
    ($(#[$meta:meta])* $vis:vis struct $name:ident with outbox;) => {
        $(#[$meta])*
        #[derive(Debug, Clone)]
        $vis struct $name {
            db: $crate::db::Db,
            outbox: $crate::events::Outbox,
        }

        impl $name {
            /// `db` must have the service's migrations applied (which include the outbox's
            /// tables); `outbox` is woken after each commit that wrote an event.
            pub fn new(db: $crate::db::Db, outbox: $crate::events::Outbox) -> $name {
                $name { db, outbox }
            }

            pub fn db(&self) -> &$crate::db::Db {
                &self.db
            }
        }
    };
}
