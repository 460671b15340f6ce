//! The `users` table: accounts.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::sql::lower;
use crate::domain::{Bio, DisplayName, Email, Username};
use crate::error::{Code, Entity, Error, Result};
use crate::schema::users;

/// An account as stored. Its `Debug` leaves the password hash out.
#[derive(Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
    /// Empty: pages show the username.
    pub display_name: String,
    pub bio: String,
}

impl User {
    /// The name pages show: the display name, or the username without one.
    pub fn shown_name(&self) -> &str {
        DisplayName::or_username(&self.display_name, &self.username)
    }
}

/// Who someone is on a page: enough to show their name (with the username
/// on hover) and link their profile.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct Person {
    pub id: i64,
    pub username: String,
    /// Empty: show the username.
    pub display_name: String,
}

impl Person {
    /// The name pages show: the display name, or the username without one.
    pub fn shown_name(&self) -> &str {
        DisplayName::or_username(&self.display_name, &self.username)
    }
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("email", &self.email)
            .field("password_hash", &"***")
            .field("created_at", &self.created_at)
            .field("display_name", &self.display_name)
            .finish()
    }
}

#[derive(Insertable)]
#[diesel(table_name = users)]
struct NewUser<'a> {
    username: &'a str,
    email: &'a str,
    password_hash: &'a str,
}

/// The accounts named (ignoring case) among `names`, as
/// `lower(name) -> (id, username)`: who a message's `@mentions` reach.
pub async fn by_names(
    conn: &mut AsyncPgConnection,
    names: &[String],
) -> Result<std::collections::HashMap<String, (i64, String)>> {
    if names.is_empty() {
        return Ok(Default::default());
    }
    // What cannot be a username names nobody (and a NUL could not even
    // be sent to Postgres).
    let lowered: Vec<String> = names
        .iter()
        .filter(|n| Username::parse(n).is_ok())
        .map(|n| n.to_lowercase())
        .collect();
    if lowered.is_empty() {
        return Ok(Default::default());
    }
    let rows: Vec<(i64, String)> = users::table
        .filter(lower(users::username).eq_any(&lowered))
        .select((users::id, users::username))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, name)| (name.to_lowercase(), (id, name)))
        .collect())
}

/// Creates an account. The unique indexes decide races: a name or e-mail
/// taken (ignoring case) is `Error::Conflict` on that field.
pub async fn insert(
    conn: &mut AsyncPgConnection,
    username: &Username,
    email: &Email,
    password_hash: &str,
) -> Result<User> {
    let new = NewUser {
        username: username.as_str(),
        email: email.as_str(),
        password_hash,
    };
    diesel::insert_into(users::table)
        .values(&new)
        .returning(User::as_returning())
        .get_result(conn)
        .await
        .map_err(|e| match super::unique_violation(&e) {
            Some("users_username_lower_key") => {
                Error::conflict("username", Code::UsernameTaken, "That username is taken.")
            }
            Some("users_email_lower_key") => Error::conflict(
                "email",
                Code::EmailTaken,
                "An account with that e-mail already exists.",
            ),
            _ => e.into(),
        })
}

/// The account a login names, by username or e-mail, ignoring case.
pub async fn find_by_login(conn: &mut AsyncPgConnection, login: &str) -> Result<Option<User>> {
    let login = login.trim();
    let query = users::table.select(User::as_select());
    let found = if login.contains('@') {
        query
            .filter(lower(users::email).eq(lower(login)))
            .first(conn)
            .await
    } else {
        query
            .filter(lower(users::username).eq(lower(login)))
            .first(conn)
            .await
    };
    found.optional().map_err(Into::into)
}

/// The account with this id.
pub async fn find(conn: &mut AsyncPgConnection, id: i64) -> Result<User> {
    users::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(Error::NotFound(Entity::User))
}

/// The assistant's account (the bot people mention), found by kind, never
/// by name.
pub async fn bot(conn: &mut AsyncPgConnection) -> Result<User> {
    users::table
        .filter(users::kind.eq("bot"))
        .order(users::id)
        .select(User::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(Error::NotFound(Entity::User))
}

/// The account named `username`, ignoring case (never by e-mail).
pub async fn find_by_username(conn: &mut AsyncPgConnection, username: &str) -> Result<User> {
    users::table
        .filter(lower(users::username).eq(lower(username)))
        .select(User::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(Error::NotFound(Entity::User))
}

/// The people with these ids (those that exist), for showing their names
/// on a page: one query, whatever the number.
pub async fn people(
    conn: &mut AsyncPgConnection,
    ids: &[i64],
) -> Result<std::collections::HashMap<i64, Person>> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    let rows: Vec<Person> = users::table
        .filter(users::id.eq_any(ids))
        .select(Person::as_select())
        .load(conn)
        .await?;
    Ok(rows.into_iter().map(|p| (p.id, p)).collect())
}

/// Sets what is given of the account's profile (a `None` stays as it is)
/// and answers the account as it is afterwards.
pub async fn set_profile(
    conn: &mut AsyncPgConnection,
    id: i64,
    display_name: Option<&DisplayName>,
    bio: Option<&Bio>,
) -> Result<User> {
    let changes = (
        display_name.map(|d| users::display_name.eq(d.as_str())),
        bio.map(|b| users::bio.eq(b.as_str())),
    );
    if changes.0.is_none() && changes.1.is_none() {
        return find(conn, id).await;
    }
    diesel::update(users::table.find(id))
        .set(changes)
        .returning(User::as_returning())
        .get_result(conn)
        .await
        .optional()?
        .ok_or(Error::NotFound(Entity::User))
}

/// Replaces the account's password hash.
pub async fn set_password_hash(conn: &mut AsyncPgConnection, id: i64, hash: &str) -> Result<()> {
    let n = diesel::update(users::table.find(id))
        .set(users::password_hash.eq(hash))
        .execute(conn)
        .await?;
    if n == 0 {
        return Err(Error::NotFound(Entity::User));
    }
    Ok(())
}

/// Locks the account's row until the transaction ends, so checks of what
/// it owns (its rooms against their quota) cannot race each other.
pub async fn lock(conn: &mut AsyncPgConnection, id: i64) -> Result<()> {
    users::table
        .find(id)
        .select(users::id)
        .for_update()
        .first::<i64>(conn)
        .await
        .optional()?
        .ok_or(Error::NotFound(Entity::User))
        .map(drop)
}

/// Whether a username is taken, ignoring case.
pub async fn username_taken(conn: &mut AsyncPgConnection, username: &str) -> Result<bool> {
    let query = users::table.filter(lower(users::username).eq(lower(username)));
    Ok(diesel::select(diesel::dsl::exists(query))
        .get_result(conn)
        .await?)
}

/// Whether an e-mail is taken, ignoring case.
pub async fn email_taken(conn: &mut AsyncPgConnection, email: &str) -> Result<bool> {
    let query = users::table.filter(lower(users::email).eq(lower(email)));
    Ok(diesel::select(diesel::dsl::exists(query))
        .get_result(conn)
        .await?)
}

/// `(id, username, email)` of up to `limit` accounts after `after_id`, in id
/// order: the availability filter is rebuilt from these pages.
pub async fn names_page(
    conn: &mut AsyncPgConnection,
    after_id: i64,
    limit: i64,
) -> Result<Vec<(i64, String, String)>> {
    Ok(users::table
        .filter(users::id.gt(after_id))
        .order(users::id)
        .limit(limit)
        .select((users::id, users::username, users::email))
        .load(conn)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_holds_no_password_hash() {
        let user = User {
            id: 1,
            username: "ann".into(),
            email: "ann@example.com".into(),
            password_hash: "$argon2id$v=19$secret-hash".into(),
            created_at: Utc::now(),
            display_name: String::new(),
            bio: String::new(),
        };
        let shown = format!("{user:?}");
        assert!(!shown.contains("secret-hash"), "{shown}");
        assert!(shown.contains("ann@example.com"), "{shown}");
    }
}
