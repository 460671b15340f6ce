//! Direct messages: the conversation of the actor and 1 to 9 other people,
//! found if it exists, started if not. A DM is a private room of kind `dm`
//! without a name; everything else (messages, unread counts, the access
//! rules) is a room's.

use common::domain::Username;
use common::error::Code;
use common::store::blocks;
use common::store::rooms::{self, RoomView};
use common::store::users;
use common::{Error, Result};

use super::Actor;
use crate::state::AppState;

/// The most other people a DM holds (ten people with its starter).
pub const MAX_OTHERS: usize = 9;

/// The names a DM was asked for: trimmed, empty ones dropped, each once
/// ignoring case, the actor's own name left out (writing to oneself and
/// others is writing to the others); 1 to [`MAX_OTHERS`] of them, each a
/// possible username.
pub fn parse_usernames(actor: &Actor, raw: &[String]) -> Result<Vec<String>> {
    let mut names: Vec<String> = Vec::new();
    for name in raw.iter().map(|n| n.trim().trim_start_matches('@')) {
        if name.is_empty()
            || name.eq_ignore_ascii_case(&actor.username)
            || names.iter().any(|n| n.eq_ignore_ascii_case(name))
        {
            continue;
        }
        names.push(name.to_owned());
    }
    if names.is_empty() || names.len() > MAX_OTHERS {
        return Err(Error::invalid(
            "usernames",
            Code::DmSize,
            format!("A direct message is with 1 to {MAX_OTHERS} other people."),
        ));
    }
    if let Some(bad) = names.iter().find(|n| Username::parse(n).is_err()) {
        return Err(unknown(bad));
    }
    Ok(names)
}

/// Splits a form's "ann, bob carl" into names (commas or spaces).
pub fn split_names(raw: &str) -> Vec<String> {
    raw.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .collect()
}

fn unknown(name: &str) -> Error {
    Error::invalid(
        "usernames",
        Code::UserNotFound,
        format!("No one is called {name}."),
    )
}

/// The DM of `actor` and the people named `usernames` (see
/// [`parse_usernames`]): the existing one, or a new one within
/// `DM_CREATE_LIMIT`. An unknown name is 422 `user_not_found`; if any of
/// them blocked the actor, 403 `blocked` and nothing is created (which one
/// is not said). Every member's open connections start following it.
pub async fn start(state: &AppState, actor: &Actor, usernames: &[String]) -> Result<RoomView> {
    let names = parse_usernames(actor, usernames)?;
    let mut conn = state.pool.get().await?;
    let found = users::by_names(&mut conn, &names).await?;
    let mut others = Vec::with_capacity(names.len());
    for name in &names {
        let (id, _) = found
            .get(&name.to_lowercase())
            .ok_or_else(|| unknown(name))?;
        others.push(*id);
    }
    if !blocks::who_blocked(&mut conn, &others, actor.user_id)
        .await?
        .is_empty()
    {
        return Err(Error::Denied {
            code: Code::Blocked,
            message: if others.len() == 1 {
                "you cannot message this person"
            } else {
                "you cannot message one of these people"
            },
        });
    }
    let mut members = others;
    members.push(actor.user_id);
    if rooms::find_dm(&mut conn, &members).await?.is_none() {
        state
            .limiter
            .hit(&state.config.limits.dm_create, &actor.user_id.to_string())
            .await?;
    }
    let room = rooms::insert_dm(&mut conn, &members).await?;
    let view = rooms::find(&mut conn, room.id).await?;
    drop(conn);
    for member in &members {
        state
            .messenger
            .announce_membership(*member, room.id, true)
            .await;
    }
    tracing::info!(
        room.id = room.id,
        user.id = actor.user_id,
        "direct message opened"
    );
    Ok(view)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ann() -> Actor {
        Actor {
            user_id: 1,
            username: "Ann".into(),
        }
    }

    fn code(r: Result<Vec<String>>) -> String {
        match r {
            Ok(names) => names.join(","),
            Err(e) => e.code().map(|c| c.as_str().to_owned()).unwrap_or_default(),
        }
    }

    #[test]
    fn names_are_deduplicated_and_the_actor_left_out() {
        let raw: Vec<String> = ["bob", " BOB ", "ann", "@carl", ""]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(code(parse_usernames(&ann(), &raw)), "bob,carl");
        assert_eq!(code(parse_usernames(&ann(), &["ann".into()])), "dm_size");
        let ten: Vec<String> = (0..10).map(|i| format!("user{i}")).collect();
        assert_eq!(code(parse_usernames(&ann(), &ten)), "dm_size");
        assert_eq!(
            code(parse_usernames(&ann(), &["no such!".into()])),
            "user_not_found"
        );
        assert_eq!(split_names("bob, carl  dan,,"), vec!["bob", "carl", "dan"]);
    }
}
