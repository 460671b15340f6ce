//! A person's own sessions (ASVS 3): which browsers and clients are signed
//! in, from where and when last used; signing any or all of them out; and
//! changing the password, which signs out every other session.

use chrono::{DateTime, Utc};
use common::domain::Password;
use common::error::{Code, Entity};
use common::store::{sessions, users};
use common::{Error, Result};
use uuid::Uuid;

use super::Actor;
use super::accounts::check_new_password;
use crate::state::AppState;

/// One of the user's sessions as the settings page and the API show it.
#[derive(Debug, Clone)]
pub struct SessionView {
    /// What revoking names.
    pub id: Uuid,
    /// "Firefox on Linux", or what the client called itself.
    pub device: String,
    /// The network it signed in from (an IPv4 address or an IPv6 /64).
    pub address: String,
    /// When it signed in.
    pub created_at: DateTime<Utc>,
    /// When it was last used (to within a few minutes).
    pub last_seen_at: DateTime<Utc>,
    /// The session of this very request.
    pub current: bool,
}

/// The user's sessions that still work, most recently used first.
pub async fn list(state: &AppState, actor: &Actor, current: Uuid) -> Result<Vec<SessionView>> {
    let mut conn = state.pool.get().await?;
    let rows = sessions::list_active(&mut conn, actor.user_id).await?;
    Ok(rows
        .into_iter()
        .map(|s| SessionView {
            id: s.id,
            device: device_label(&s.user_agent),
            address: s.address,
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
            current: s.id == current,
        })
        .collect())
}

/// Signs one of the user's sessions out; another user's session, or one
/// already ended, is not found (so ids reveal nothing).
pub async fn revoke(state: &AppState, actor: &Actor, id: Uuid) -> Result<()> {
    let mut conn = state.pool.get().await?;
    if sessions::revoke_for(&mut conn, actor.user_id, id).await? {
        tracing::info!(
            user.id = actor.user_id,
            "a session was signed out from settings"
        );
        Ok(())
    } else {
        Err(Error::NotFound(Entity::Resource))
    }
}

/// Signs out every session of the user but `current`; returns how many.
pub async fn revoke_others(state: &AppState, actor: &Actor, current: Uuid) -> Result<usize> {
    let mut conn = state.pool.get().await?;
    let n = sessions::revoke_all_except(&mut conn, actor.user_id, current).await?;
    tracing::info!(
        user.id = actor.user_id,
        sessions = n,
        "signed out everywhere else"
    );
    Ok(n)
}

/// Changes the password, given the current one, and signs out every other
/// session (a thief's included). Limited per user (`PASSWORD_CHANGE_LIMIT`),
/// since it checks a password.
pub async fn change_password(
    state: &AppState,
    actor: &Actor,
    current_session: Uuid,
    current_password: &str,
    new_password: &str,
) -> Result<usize> {
    state
        .limiter
        .hit(
            &state.config.limits.password_change,
            &actor.user_id.to_string(),
        )
        .await?;
    let new = Password::parse(new_password).map_err(|e| on_field(e, "new_password"))?;
    let user = {
        let mut conn = state.pool.get().await?;
        users::find(&mut conn, actor.user_id).await?
    };
    let current = if current_password.chars().count() <= Password::MAX {
        current_password
    } else {
        ""
    };
    if !state
        .passwords
        .verify(current, Some(user.password_hash.as_str()))
        .await?
    {
        return Err(Error::invalid(
            "current_password",
            Code::WrongPassword,
            "That is not your current password.",
        ));
    }
    check_new_password(state, &new, &[user.username.as_str(), user.email.as_str()])
        .await
        .map_err(|e| on_field(e, "new_password"))?;
    let hash = state.passwords.hash(new.expose()).await?;
    let mut conn = state.pool.get().await?;
    users::set_password_hash(&mut conn, actor.user_id, &hash).await?;
    let ended = sessions::revoke_all_except(&mut conn, actor.user_id, current_session).await?;
    tracing::info!(
        user.id = actor.user_id,
        sessions = ended,
        "password changed"
    );
    Ok(ended)
}

/// A field's error moved to the form's own field name.
fn on_field(e: Error, field: &'static str) -> Error {
    match e {
        Error::Invalid { code, message, .. } => Error::Invalid {
            field: field.into(),
            code,
            message,
        },
        other => other,
    }
}

/// A short name for a `User-Agent`: the browser and the system, when they
/// are one of the common ones; else the client's own first word.
pub fn device_label(user_agent: &str) -> String {
    const BROWSERS: &[(&str, &str)] = &[
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chromium/", "Chromium"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
    ];
    const SYSTEMS: &[(&str, &str)] = &[
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ];
    let find = |table: &[(&str, &'static str)]| {
        table
            .iter()
            .find(|(needle, _)| user_agent.contains(needle))
            .map(|(_, name)| *name)
    };
    match (find(BROWSERS), find(SYSTEMS)) {
        (Some(browser), Some(system)) => format!("{browser} on {system}"),
        (Some(browser), None) => browser.to_owned(),
        (None, Some(system)) => format!("a browser on {system}"),
        (None, None) => match user_agent
            .split(['/', ' '])
            .next()
            .filter(|w| !w.is_empty())
        {
            Some(client) => client.chars().take(40).collect(),
            None => "an unknown client".to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_browsers_are_named_with_their_system() {
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
        assert_eq!(device_label(firefox), "Firefox on Linux");
        let chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";
        assert_eq!(device_label(chrome), "Chrome on Windows");
        let safari = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
        assert_eq!(device_label(safari), "Safari on iOS");
    }

    #[test]
    fn other_clients_are_named_by_themselves() {
        assert_eq!(device_label("curl/8.5.0"), "curl");
        assert_eq!(device_label("reqwest"), "reqwest");
        assert_eq!(device_label(""), "an unknown client");
    }
}
