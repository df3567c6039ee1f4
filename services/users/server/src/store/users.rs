//! Accounts: created once per email (announced by `UserRegistered`), looked up by email (log-in)
//! or id (`/v1/me`).

use brigade_chassis::db::Query;
use users_api::events::UserRegistered;
use users_api::User;
use uuid::Uuid;

use super::{stored_ms, time_ms, Error, Store};

/// An account to create; the password is already hashed.
#[derive(Clone)]
pub struct NewAccount {
    pub id: Uuid,
    /// Normalised (trimmed, lower-cased).
    pub email: String,
    pub name: String,
    /// An argon2id PHC string.
    pub password_hash: String,
    pub created_at_ms: u64,
}

impl std::fmt::Debug for NewAccount {
    // The hash stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewAccount")
            .field("id", &self.id)
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

/// An account with what log-in checks.
#[derive(Clone)]
pub struct Account {
    pub user: User,
    pub password_hash: String,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// Why an account was not created.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error(transparent)]
    Store(#[from] Error),
}

impl From<sqlx::Error> for CreateError {
    fn from(error: sqlx::Error) -> Self {
        CreateError::Store(Error::Sql(error))
    }
}

type UserRow = (String, String, String, String, i64);

const COLUMNS: &str = "id, email, name, password_hash, created_at_ms";

fn account((id, email, name, password_hash, created_at_ms): UserRow) -> Result<Account, Error> {
    let id = Uuid::parse_str(&id).map_err(|_| Error::Corrupt(format!("user id `{id}`")))?;
    Ok(Account {
        user: User {
            id,
            email,
            name,
            created_at_ms: time_ms(created_at_ms, "created_at_ms")?,
        },
        password_hash,
    })
}

impl Store {
    /// Creates the account, unless one has its email, and announces it (`UserRegistered`) in
    /// the same transaction. Two sign-ups of one email at the same moment, on any instances,
    /// create one account and one event: the unique email decides, not a read.
    pub async fn create_user(&self, new: &NewAccount) -> Result<User, CreateError> {
        let mut tx = self.db.begin_write().await?;
        let inserted = Query::new(
            "INSERT INTO users (id, email, name, password_hash, created_at_ms) \
             VALUES (?, ?, ?, ?, ?) ON CONFLICT (email) DO NOTHING",
        )
        .bind(new.id.to_string())
        .bind(&new.email)
        .bind(&new.name)
        .bind(&new.password_hash)
        .bind(stored_ms(new.created_at_ms))
        .execute(tx.conn())
        .await?;
        if inserted == 0 {
            tx.rollback().await?;
            return Err(CreateError::EmailTaken);
        }
        // The address travels with the event, written in this transaction like the account.
        let event = UserRegistered {
            user_id: new.id,
            registered_at_ms: new.created_at_ms,
            email: Some(new.email.clone()),
        };
        self.outbox
            .append(tx.conn(), &event)
            .await
            .map_err(Error::from)?;
        tx.commit().await?;
        self.outbox.wake();
        Ok(User {
            id: new.id,
            email: new.email.clone(),
            name: new.name.clone(),
            created_at_ms: new.created_at_ms,
        })
    }

    /// The account with `email` (normalised), if there is one.
    pub async fn account_by_email(&self, email: &str) -> Result<Option<Account>, Error> {
        let row: Option<UserRow> =
            Query::new(&format!("SELECT {COLUMNS} FROM users WHERE email = ?"))
                .bind(email)
                .fetch_optional(&self.db)
                .await?;
        row.map(account).transpose()
    }

    /// The user with `id`, if the account exists.
    pub async fn user(&self, id: Uuid) -> Result<Option<User>, Error> {
        let row: Option<UserRow> = Query::new(&format!("SELECT {COLUMNS} FROM users WHERE id = ?"))
            .bind(id)
            .fetch_optional(&self.db)
            .await?;
        Ok(row.map(account).transpose()?.map(|a| a.user))
    }
}
