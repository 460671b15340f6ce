//! Registering, logging in and out, and asking whether a name is free.

use chrono::{DateTime, Utc};
use common::domain::{Email, Password, Username};
use common::error::Code;
use common::store::sessions::{self, Device};
use common::store::users;
use common::{Error, Result};

use crate::availability::Kind;
use crate::state::AppState;

/// A freshly issued token: the page puts it in the session cookie, the API
/// hands it to the client, so the action only says what was issued.
pub struct IssuedToken {
    /// The signed JWT.
    pub token: String,
    /// When it stops working (the idle limit, capped by the session's end).
    pub expires_at: DateTime<Utc>,
}

/// A registration form, validated field by field, so no action ever sees an
/// invalid name, e-mail or password.
pub struct Registration {
    /// The name to register.
    pub username: Username,
    /// The e-mail to register.
    pub email: Email,
    /// The password to hash.
    pub password: Password,
}

impl Registration {
    /// Every field's problem at once, so a form can show them all.
    pub fn parse(username: &str, email: &str, password: &str) -> Result<Self, Vec<Error>> {
        let (u, e, p) = (
            Username::parse(username),
            Email::parse(email),
            Password::parse(password),
        );
        match (u, e, p) {
            (Ok(username), Ok(email), Ok(password)) => Ok(Self {
                username,
                email,
                password,
            }),
            (u, e, p) => Err([u.err(), e.err(), p.err()].into_iter().flatten().collect()),
        }
    }
}

/// Opens a session for a user and issues its first token: registering and
/// logging in both end here, so sessions start one way.
pub async fn start_session(
    state: &AppState,
    user_id: i64,
    username: &str,
    device: &Device,
) -> Result<IssuedToken> {
    let now = Utc::now();
    let limits = state.config.session_limits;
    let session_end =
        now + chrono::Duration::from_std(limits.absolute).unwrap_or(chrono::Duration::days(7));
    let mut conn = state.pool.get().await?;
    let session = sessions::create(&mut conn, user_id, session_end, device).await?;
    let expires_at = limits.token_expiry(now, session.expires_at);
    let (token, _) = state
        .issuer
        .issue(user_id, username, session.id, now, expires_at)?;
    Ok(IssuedToken { token, expires_at })
}

/// Creates an account and signs it in. Names already taken are refused as
/// conflicts before any hashing; the unique indexes settle races.
pub async fn register(
    state: &AppState,
    device: &Device,
    form: &Registration,
) -> Result<(users::User, IssuedToken)> {
    let limits = &state.config.limits;
    state
        .limiter
        .hit(&limits.register_per_address, &device.address)
        .await?;
    if !state
        .availability
        .is_free(Kind::Username, form.username.as_str())
        .await?
    {
        return Err(Error::conflict(
            "username",
            Code::UsernameTaken,
            "That username is taken.",
        ));
    }
    if !state
        .availability
        .is_free(Kind::Email, form.email.as_str())
        .await?
    {
        return Err(Error::conflict(
            "email",
            Code::EmailTaken,
            "An account with that e-mail already exists.",
        ));
    }
    check_new_password(
        state,
        &form.password,
        &[form.username.as_str(), form.email.as_str()],
    )
    .await?;
    state.limiter.hit(&limits.register_total, "").await?;
    let hash = state.passwords.hash(form.password.expose()).await?;
    let user = {
        let mut conn = state.pool.get().await?;
        users::insert(&mut conn, &form.username, &form.email, &hash).await?
    };
    if let Err(e) = state.availability.record(&user.username, &user.email).await {
        // The database stays the authority; the filter is rebuilt if lost.
        tracing::warn!(error = %e, "could not add a new account to the availability filter");
    }
    tracing::info!(user.id = user.id, "account registered");
    let token = start_session(state, user.id, &user.username, device).await?;
    Ok((user, token))
}

/// The same answer for an unknown account and a wrong password.
const BAD_CREDENTIALS: Error = Error::Unauthenticated("wrong username, e-mail or password");

/// Refuses a new password that is short, common or easy to guess, on a
/// blocking thread: the list and zxcvbn cost milliseconds of CPU.
pub async fn check_new_password(
    state: &AppState,
    password: &Password,
    user_inputs: &[&str],
) -> Result<()> {
    let policy = state.config.password_policy;
    let password = password.expose().to_owned();
    let inputs: Vec<String> = user_inputs.iter().map(|s| (*s).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        policy.check(&password, &inputs)
    })
    .await
    .map_err(|e| Error::internal_from("the password check stopped", e))?
}

/// Checks a login and opens a session. Limited per address, and per account
/// and address: every attempt counts before the hash is compared (so
/// parallel guesses cannot slip past), a success forgets the count, and
/// nothing an attacker elsewhere does can lock the owner out. An unknown
/// account costs the same hash as a known one.
pub async fn login(
    state: &AppState,
    device: &Device,
    login: &str,
    password: &str,
) -> Result<(users::User, IssuedToken)> {
    let limits = &state.config.limits;
    let client = device.address.as_str();
    let login = login.trim();
    state.limiter.hit(&limits.login_per_address, client).await?;
    // A login Postgres could not even compare (NUL) is answered like an
    // unknown account: the same cost, the same answer.
    let plausible = !login.is_empty()
        && login.len() <= Email::MAX
        && !login.chars().any(char::is_control)
        && password.chars().count() <= Password::MAX;
    let user = if plausible {
        let mut conn = state.pool.get().await?;
        users::find_by_login(&mut conn, login).await?
    } else {
        None
    };
    // An account's name and e-mail share one budget once it is found.
    let attempts = match &user {
        Some(user) => format!("user:{}|{client}", user.id),
        None => format!("login:{}|{client}", login.to_lowercase()),
    };
    state
        .limiter
        .hit(&limits.login_per_account_address, &attempts)
        .await?;
    // Overlong passwords are checked against the dummy hash: same cost, no match.
    let candidate = if password.chars().count() <= Password::MAX {
        password
    } else {
        ""
    };
    let matched = state
        .passwords
        .verify(candidate, user.as_ref().map(|u| u.password_hash.as_str()))
        .await?;
    match user {
        Some(user) if matched => {
            state
                .limiter
                .reset(&limits.login_per_account_address, &attempts)
                .await?;
            let token = start_session(state, user.id, &user.username, device).await?;
            tracing::info!(user.id = user.id, "signed in");
            Ok((user, token))
        }
        _ => Err(BAD_CREDENTIALS),
    }
}

/// Revokes the session: every token of it is refused from now on.
pub async fn logout(state: &AppState, sid: uuid::Uuid) -> Result<()> {
    let mut conn = state.pool.get().await?;
    sessions::revoke(&mut conn, sid).await
}

/// Which of the names asked about are free; `None` for a name not asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FreeNames {
    /// Whether the username is free.
    pub username: Option<bool>,
    /// Whether the e-mail is free.
    pub email: Option<bool>,
}

/// Whether a username and/or an e-mail is free, for the registration form's
/// live hints. Rate-limited per address, since it reveals which accounts
/// exist; a malformed name is refused rather than answered.
pub async fn availability(
    state: &AppState,
    client: &str,
    username: Option<&str>,
    email: Option<&str>,
) -> Result<FreeNames> {
    state
        .limiter
        .hit(&state.config.limits.available_per_address, client)
        .await?;
    let free = &state.availability;
    let username = match username.map(Username::parse).transpose()? {
        Some(name) => Some(free.is_free(Kind::Username, name.as_str()).await?),
        None => None,
    };
    let email = match email.map(Email::parse).transpose()? {
        Some(email) => Some(free.is_free(Kind::Email, email.as_str()).await?),
        None => None,
    };
    Ok(FreeNames { username, email })
}
