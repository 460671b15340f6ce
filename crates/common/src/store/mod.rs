//! Every query, in the module that owns its table. Functions take
//! `&mut AsyncPgConnection` so callers can compose them inside transactions.

pub mod annotations;
pub mod assistant;
pub mod attachments;
pub mod bans;
pub mod blobs;
pub mod blocks;
pub mod cursors;
pub mod events;
pub mod invites;
pub mod members;
pub mod messages;
pub mod modlog;
pub mod mutes;
pub mod preferences;
pub mod reactions;
pub mod room_seqs;
pub mod rooms;
pub mod search;
pub mod sessions;
pub mod suggestions;
pub mod usage;
pub mod users;
pub mod vectors;

mod fixed;

use fixed::Fixed;

use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// SQL functions diesel does not declare for text.
pub(crate) mod sql {
    #[diesel::declare_sql_function]
    extern "SQL" {
        /// Postgres `lower(text)`: the key of every case-insensitive unique index.
        fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
    }
}

/// The name of the unique constraint (or index) a failed insert violated.
pub(crate) fn unique_violation(e: &DieselError) -> Option<&str> {
    match e {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
            info.constraint_name()
        }
        _ => None,
    }
}

/// Escapes `%`, `_` and `\` so user text matches literally inside a LIKE pattern.
pub(crate) fn like_contains(needle: &str) -> String {
    format!("%{}%", like_escaped(needle))
}

/// A LIKE pattern for text starting with `needle` (its wildcards escaped).
pub(crate) fn like_prefix(needle: &str) -> String {
    format!("{}%", like_escaped(needle))
}

fn like_escaped(needle: &str) -> String {
    let mut escaped = String::with_capacity(needle.len() + 2);
    for c in needle.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
mod tests {
    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(super::like_contains("50%_a\\b"), "%50\\%\\_a\\\\b%");
        assert_eq!(super::like_contains(""), "%%");
    }
}
