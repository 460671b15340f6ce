//! The error type of everything in `common`: a user's mistake carries a stable
//! [`Code`] and a message meant for that user; infrastructure failures keep
//! their cause. Each service maps it to its wire format (HTTP status, `error`
//! frame) in one place.

use std::borrow::Cow;
use std::fmt;

/// A cause kept inside an [`Error`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Declares [`Code`]: each variant with its doc and its name on the wire, so
/// the list of names ([`Code::ALL`]) cannot miss one.
macro_rules! codes {
    ($( $(#[doc = $doc:literal])+ $variant:ident = $name:literal, )+) => {
        /// Every stable error code either service answers: the `code` of an
        /// HTTP error body (`{"error":{"code":...}}`) and of a WebSocket
        /// `error` frame (docs/http.md, docs/protocol.md). Clients match on
        /// these names; add new ones, never rename one.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Code {
            $( $(#[doc = $doc])+ $variant, )+
        }

        impl Code {
            /// Every code, in declaration order.
            pub const ALL: &[Code] = &[$(Code::$variant),+];

            /// The code as it is written on the wire.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $name,)+
                }
            }
        }
    };
}

codes! {
    // A request or frame that is malformed (400, or an `error` frame).
    /// A malformed request or frame: a bad field, a control character, a bad nonce.
    BadRequest = "bad_request",
    /// A WebSocket frame whose `type` the protocol does not know.
    UnknownType = "unknown_type",
    /// A request body that is not JSON.
    BadJson = "bad_json",
    /// A request body that could not be read.
    BadBody = "bad_body",
    /// A form body that could not be read.
    BadForm = "bad_form",
    /// A query string that does not parse, or a search query that is too long.
    BadQuery = "bad_query",
    /// A room list's `cursor` that the server did not hand out.
    BadCursor = "bad_cursor",
    /// A `limit` outside its range.
    BadLimit = "bad_limit",
    /// A date that is neither `YYYY-MM-DD` nor RFC 3339 (search's `after`, `before`).
    BadDate = "bad_date",
    /// A search filter the server does not know (`has=` other than `reply`).
    BadFilter = "bad_filter",
    /// A `before_seq` below 1.
    BadBeforeSeq = "bad_before_seq",
    /// An `after_seq` below 0.
    BadAfterSeq = "bad_after_seq",
    /// A query that gives none of the parameters it needs.
    MissingParameter = "missing_parameter",
    /// A request body over the size limit (413).
    PayloadTooLarge = "payload_too_large",
    /// A request body of another type than the endpoint takes (415).
    UnsupportedMediaType = "unsupported_media_type",

    // Input that does not fit the rules (422, or an `error` frame).
    /// A JSON body whose syntax is fine but whose fields do not fit.
    InvalidBody = "invalid_body",
    /// No username given.
    UsernameMissing = "username_missing",
    /// A username with a character outside `[A-Za-z0-9_.-]`.
    UsernameInvalid = "username_invalid",
    /// A username shorter than 3 or longer than 32 characters.
    UsernameLength = "username_length",
    /// No e-mail address given.
    EmailMissing = "email_missing",
    /// Not an e-mail address.
    EmailInvalid = "email_invalid",
    /// An e-mail address over 254 characters.
    EmailLength = "email_length",
    /// No password given.
    PasswordMissing = "password_missing",
    /// A password shorter than 8 or longer than 256 characters.
    PasswordLength = "password_length",
    /// The current password given to change it is not the account's.
    WrongPassword = "wrong_password",
    /// A new password on the list of leaked passwords attackers try first.
    PasswordCommon = "password_common",
    /// A new password zxcvbn scores below `PASSWORD_MIN_SCORE`.
    PasswordWeak = "password_weak",
    /// No room name given.
    NameMissing = "name_missing",
    /// A room name over 64 characters.
    NameLength = "name_length",
    /// A room name with a control character.
    NameInvalid = "name_invalid",
    /// A topic over 256 characters.
    TopicLength = "topic_length",
    /// A topic with a control character.
    TopicInvalid = "topic_invalid",
    /// A message body that is empty once trimmed.
    Empty = "empty",
    /// A message body over 4000 characters.
    TooLong = "too_long",
    /// A reaction that is not exactly one known emoji of at most 16 bytes.
    BadEmoji = "bad_emoji",
    /// A read mark below 0 or beyond the room's last seq.
    BadReadMark = "bad_read_mark",
    /// A room visibility other than `public` or `private`.
    BadVisibility = "bad_visibility",
    /// A role other than `moderator` or `member` to give.
    BadRole = "bad_role",
    /// A duration out of its range (mutes, bans, invite links).
    BadDuration = "bad_duration",
    /// A slow mode outside 0..=21600 seconds.
    SlowModeRange = "slow_mode_range",
    /// A moderation reason over 500 characters, or with a control character.
    ReasonInvalid = "reason_invalid",
    /// An invite link's `max_uses` outside 1..=1000.
    BadMaxUses = "bad_max_uses",
    /// Inviting oneself.
    SelfInvite = "self_invite",
    /// Moderating oneself (kicking, banning, muting, changing one's role).
    CannotModerateSelf = "cannot_moderate_self",
    /// A direct message needs 1 to 9 other people.
    DmSize = "dm_size",
    /// A display name over 64 characters.
    DisplayNameLength = "display_name_length",
    /// A display name with a control, invisible or direction-changing character.
    DisplayNameInvalid = "display_name_invalid",
    /// A bio over 300 characters.
    BioLength = "bio_length",
    /// A bio with a control (other than a line break), invisible or
    /// direction-changing character.
    BioInvalid = "bio_invalid",
    /// A person cannot block themselves.
    CannotBlockSelf = "cannot_block_self",
    /// A message naming an upload that is not pending for its author in
    /// that room (sent already, expired, another's).
    AttachmentNotFound = "attachment_not_found",
    /// A file over `UPLOAD_MAX_BYTES` (413), refused while it streamed in.
    FileTooLarge = "file_too_large",
    /// A file whose content is not what its name or type says, or of a
    /// kind the endpoint does not take (415).
    FileType = "file_type",
    /// A file that is corrupt, truncated, a decompression bomb, or audio
    /// longer than `VOICE_MAX_SECS`.
    FileInvalid = "file_invalid",
    /// A file name that is empty or only dots once made safe.
    FileName = "file_name",
    /// More files at once than `UPLOAD_MAX_FILES`, or more waiting to be
    /// sent than `UPLOAD_MAX_PENDING`.
    TooManyFiles = "too_many_files",
    /// A preference (or a room's notification level) with a value it does
    /// not take, or a key that is not a preference; `field` names it.
    BadPreference = "bad_preference",

    // A clash with what exists (409).
    /// The username is taken (ignoring case).
    UsernameTaken = "username_taken",
    /// An account with that e-mail address exists (ignoring case).
    EmailTaken = "email_taken",
    /// A room with that name exists (ignoring case).
    NameTaken = "name_taken",
    /// A read mark behind the current one: it only moves forward.
    ReadMarkBehind = "read_mark_behind",
    /// The message is past its edit window.
    EditWindowClosed = "edit_window_closed",
    /// The nonce was used before for another kind of change.
    NonceReused = "nonce_reused",
    /// The user owns `MAX_ROOMS_PER_USER` rooms already.
    RoomQuota = "room_quota",
    /// The user has `ASSISTANT_CHATS_PER_USER` assistant chats already.
    ChatQuota = "chat_quota",
    /// The owner cannot leave their room (they may delete it).
    OwnerCannotLeave = "owner_cannot_leave",
    /// The person invited is a member already.
    AlreadyMember = "already_member",
    /// The owner's role is changed only by handing ownership over.
    CannotDemoteOwner = "cannot_demote_owner",
    /// Acting on someone whose role is not below one's own (403).
    OutranksYou = "outranks_you",
    /// Kicking, muting or promoting someone who is not a member.
    NotMember = "not_member",
    /// Lifting a ban or mute that is not in force.
    NotRestricted = "not_restricted",

    // An invitation that was good once (410).
    /// An invite link past its expiry.
    InviteExpired = "invite_expired",
    /// An invite link used as many times as it allows.
    InviteUsedUp = "invite_used_up",

    // Something named does not exist, or is hidden from the caller (404).
    /// No such room, or one the caller may not see.
    RoomNotFound = "room_not_found",
    /// No such message in that room, or a deleted one.
    MessageNotFound = "message_not_found",
    /// No assistant job answers this message (it asks the assistant nothing, or the caller may not read its room).
    JobNotFound = "job_not_found",
    /// The assistant already ended this job: there is nothing to stop.
    JobFinished = "job_finished",
    /// No account with that name (or id).
    UserNotFound = "user_not_found",
    /// A file address that names nothing, or a file the caller may not read.
    FileNotFound = "file_not_found",
    /// Anything else a request names that does not exist (a path, a user).
    NotFound = "not_found",

    // Who may do what (401, 403, or an `error` frame).
    /// No valid session: a missing, malformed, expired or revoked token (401).
    Unauthenticated = "unauthenticated",
    /// A page that needs an account, asked for through the API while signed out.
    LoginRequired = "login_required",
    /// Signed in, but not allowed to do this.
    Forbidden = "forbidden",
    /// Only a message's author may edit it.
    NotAuthor = "not_author",
    /// A form post without this browser's CSRF token.
    Csrf = "csrf",
    /// A cookie-authenticated request or WebSocket upgrade from another site.
    CrossOrigin = "cross_origin",
    /// A WebSocket request about a room this connection has not joined.
    NotJoined = "not_joined",
    /// Banned from the room (until the ban ends).
    Banned = "banned",
    /// Muted in the room: one reads, but cannot post or react.
    Muted = "muted",
    /// The other person of a direct conversation blocked you.
    Blocked = "blocked",

    // Load and failures of the server (429, 500, 503, or an `error` frame).
    /// Over the rate limit: nothing was done; try again later.
    RateLimited = "rate_limited",
    /// The user holds the maximum of WebSocket connections already.
    TooManyConnections = "too_many_connections",
    /// The server sheds load (too many password hashes at once); try again shortly.
    Busy = "busy",
    /// Storage or broker down: nothing was stored; resend (with the same nonce).
    Unavailable = "unavailable",
    /// A fault of the server: nothing was done, and doing it again will not help.
    Internal = "internal",
}

impl Code {
    /// The code with this wire name, if there is one.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| c.as_str() == name)
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<Code> for String {
    fn from(code: Code) -> Self {
        code.as_str().to_owned()
    }
}

/// What a [`Error::NotFound`] did not find.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Entity {
    /// A room (or one the caller may not see: it answers the same).
    Room,
    /// A message of a room.
    Message,
    /// A user account.
    User,
    /// The assistant's job for a question (none, or in a room the caller
    /// may not read).
    AssistantJob,
    /// Whatever a request path names that does not parse or does not exist.
    Resource,
}

impl Entity {
    /// The code that says this was not found (`room_not_found`, ...).
    pub fn not_found_code(self) -> Code {
        match self {
            Self::Room => Code::RoomNotFound,
            Self::Message => Code::MessageNotFound,
            Self::User => Code::UserNotFound,
            Self::AssistantJob => Code::JobNotFound,
            Self::Resource => Code::NotFound,
        }
    }
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Room => "room",
            Self::Message => "message",
            Self::User => "user",
            Self::AssistantJob => "assistant job",
            Self::Resource => "resource",
        })
    }
}

/// Writes `": cause"` after an error's own words when it keeps a cause, so
/// a log line of the error (`error = %e`) carries the whole story, as the
/// `Database` and `Redis` variants do.
struct Cause<'a>(&'a Option<BoxError>);

impl fmt::Display for Cause<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(e) => write!(f, ": {e}"),
            None => Ok(()),
        }
    }
}

/// What went wrong, in terms a service can answer with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input that does not fit the rules (length, characters, syntax).
    #[error("{message}")]
    Invalid {
        /// The input field it concerns, so forms can show it beside the field
        /// (owned when it names what the client sent: an unknown key).
        field: Cow<'static, str>,
        /// The stable code clients match on.
        code: Code,
        /// What was wrong, for the user.
        message: Cow<'static, str>,
    },
    /// A clash with what exists: a name or e-mail in use, a state that
    /// does not allow the change.
    #[error("{message}")]
    Conflict {
        /// The input field it concerns.
        field: Cow<'static, str>,
        /// The stable code clients match on.
        code: Code,
        /// What was wrong, for the user.
        message: Cow<'static, str>,
    },
    /// What a request names does not exist (or is hidden from the caller).
    #[error("{0} not found")]
    NotFound(Entity),
    /// No valid session: missing, malformed, forged, expired or revoked token.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// Signed in, but not allowed to do this.
    #[error("{0}")]
    Forbidden(&'static str),
    /// Not allowed, for a reason with a code of its own (`not_author`).
    #[error("{message}")]
    Denied {
        /// The stable code clients match on.
        code: Code,
        /// Why, for the user.
        message: &'static str,
    },
    /// What was good once and is no more (an expired invite link): 410.
    #[error("{message}")]
    Gone {
        /// The stable code clients match on.
        code: Code,
        /// What happened, for the user.
        message: &'static str,
    },
    /// Over a rate limit.
    #[error("too many requests; try again in {retry_after_secs} s")]
    RateLimited {
        /// When the limit lets the next request through.
        retry_after_secs: u64,
    },
    /// Shedding load (for example too many password hashes at once).
    #[error("the server is busy; try again shortly")]
    Busy,
    /// A dependency (Postgres, Redis) is unreachable right now; trying again
    /// later may succeed.
    #[error("a service this needs is unavailable: {what}{}", Cause(.source))]
    Unavailable {
        /// What could not be done.
        what: Cow<'static, str>,
        /// The failure underneath, when there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// A query failed.
    #[error("database error: {0}")]
    Database(#[from] diesel::result::Error),
    /// A Redis command failed.
    #[error("redis error: {0}")]
    Redis(#[from] redis::RedisError),
    /// A fault of the server (a bug, a broken invariant): trying again will
    /// fail the same way.
    #[error("internal error: {what}{}", Cause(.source))]
    Internal {
        /// What went wrong.
        what: Cow<'static, str>,
        /// The failure underneath, when there is one.
        #[source]
        source: Option<BoxError>,
    },
}

impl Error {
    /// A validation failure of one field.
    pub fn invalid(
        field: impl Into<Cow<'static, str>>,
        code: Code,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::Invalid {
            field: field.into(),
            code,
            message: message.into(),
        }
    }

    /// A conflict with what exists, on one field.
    pub fn conflict(
        field: &'static str,
        code: Code,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::Conflict {
            field: Cow::Borrowed(field),
            code,
            message: message.into(),
        }
    }

    /// A dependency is unavailable, with no cause to keep.
    pub fn unavailable(what: impl Into<Cow<'static, str>>) -> Self {
        Self::Unavailable {
            what: what.into(),
            source: None,
        }
    }

    /// A dependency is unavailable, because of `source`.
    pub fn unavailable_from(
        what: impl Into<Cow<'static, str>>,
        source: impl Into<BoxError>,
    ) -> Self {
        Self::Unavailable {
            what: what.into(),
            source: Some(source.into()),
        }
    }

    /// A fault of the server, with no cause to keep.
    pub fn internal(what: impl Into<Cow<'static, str>>) -> Self {
        Self::Internal {
            what: what.into(),
            source: None,
        }
    }

    /// A fault of the server, because of `source`.
    pub fn internal_from(what: impl Into<Cow<'static, str>>, source: impl Into<BoxError>) -> Self {
        Self::Internal {
            what: what.into(),
            source: Some(source.into()),
        }
    }

    /// The field a user's mistake concerns, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Invalid { field, .. } | Self::Conflict { field, .. } => Some(field.as_ref()),
            _ => None,
        }
    }

    /// The stable code of a user's mistake or a refusal, as both services
    /// answer it; `None` for a failure of the server or its dependencies,
    /// which each service words itself.
    pub fn code(&self) -> Option<Code> {
        match self {
            Self::Invalid { code, .. }
            | Self::Conflict { code, .. }
            | Self::Denied { code, .. }
            | Self::Gone { code, .. } => Some(*code),
            Self::NotFound(what) => Some(what.not_found_code()),
            Self::Unauthenticated(_) => Some(Code::Unauthenticated),
            Self::Forbidden(_) => Some(Code::Forbidden),
            Self::RateLimited { .. } => Some(Code::RateLimited),
            Self::Busy
            | Self::Unavailable { .. }
            | Self::Database(_)
            | Self::Redis(_)
            | Self::Internal { .. } => None,
        }
    }

    /// True when the cause is a dependency being down rather than a bug.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Unavailable { .. } | Self::Busy => true,
            Self::Redis(e) => {
                e.is_connection_dropped()
                    || e.is_io_error()
                    || e.is_timeout()
                    || e.is_connection_refusal()
            }
            Self::Database(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::ClosedConnection,
                _,
            )) => true,
            _ => false,
        }
    }

    /// True when the server is certainly at fault: doing the same again
    /// fails the same way, so no client may be told to resend. A database
    /// error counts only when it cannot be passing (a violated constraint,
    /// a row or query that does not fit its types); any other one may be a
    /// connection or a transaction failing, and a resend may succeed.
    pub fn is_fault(&self) -> bool {
        use diesel::result::{DatabaseErrorKind as K, Error as D};
        matches!(
            self,
            Self::Internal { .. }
                | Self::Database(
                    D::DatabaseError(
                        K::UniqueViolation
                            | K::ForeignKeyViolation
                            | K::NotNullViolation
                            | K::CheckViolation
                            | K::RestrictViolation
                            | K::ExclusionViolation,
                        _,
                    ) | D::DeserializationError(_)
                        | D::SerializationError(_)
                        | D::QueryBuilderError(_)
                        | D::InvalidCString(_),
                )
        )
    }
}

impl From<crate::access::Denial> for Error {
    fn from(d: crate::access::Denial) -> Self {
        use crate::access::Denial;
        match d {
            Denial::NotFound => Self::NotFound(Entity::Room),
            Denial::Forbidden => {
                Self::Forbidden("only the room's moderators or its owner may do that")
            }
            Denial::Banned { .. } => Self::Denied {
                code: Code::Banned,
                message: "you are banned from this room",
            },
            Denial::Muted { .. } => Self::Denied {
                code: Code::Muted,
                message: "you are muted in this room: you can read, not post",
            },
            Denial::SlowMode { retry_after_secs } => Self::RateLimited { retry_after_secs },
            Denial::Blocked => Self::Denied {
                code: Code::Blocked,
                message: "you cannot write in this conversation",
            },
        }
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for Error {
    fn from(e: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        Self::unavailable_from("database pool", e)
    }
}

/// Shorthand used throughout `common` and the services.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::error::Error as _;

    use super::*;

    #[test]
    fn every_code_is_listed_once_and_serializes_as_its_name() {
        let names: BTreeSet<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names.len(), Code::ALL.len(), "a name is used twice");
        for &code in Code::ALL {
            let json = serde_json::to_value(code).unwrap_or_default();
            assert_eq!(json, code.as_str(), "serde and as_str disagree on {code:?}");
            assert_eq!(serde_json::from_value::<Code>(json).ok(), Some(code));
            assert_eq!(Code::from_name(code.as_str()), Some(code));
            assert_eq!(code.to_string(), code.as_str());
        }
        assert_eq!(Code::from_name("no_such_code"), None);
    }

    /// The words of `text` between backticks, each with the plain text
    /// before it and after it (up to the neighbouring backticked words).
    fn backticked(text: &str) -> Vec<(&str, &str, &str)> {
        let parts: Vec<&str> = text.split('`').collect();
        (1..parts.len().saturating_sub(1))
            .step_by(2)
            .map(|i| (parts[i - 1], parts[i], parts[i + 1]))
            .collect()
    }

    fn is_code_like(word: &str) -> bool {
        !word.is_empty()
            && word.split('_').all(|part| {
                !part.is_empty()
                    && part.starts_with(|c: char| c.is_ascii_lowercase())
                    && part
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            })
    }

    /// An HTTP status (100..=599) standing alone at the start of `text`
    /// (after blanks, a comma or a parenthesis).
    fn starts_with_status(text: &str) -> bool {
        let t = text.trim_start_matches([' ', ',', '(']);
        let digits: String = t.chars().take_while(char::is_ascii_digit).collect();
        digits.len() == 3 && (b'1'..=b'5').contains(&digits.as_bytes()[0])
    }

    /// An HTTP status standing alone at the end of `text`.
    fn ends_with_status(text: &str) -> bool {
        let t = text.trim_end_matches([' ', ',', '(']);
        let digits: String = t.chars().rev().take_while(char::is_ascii_digit).collect();
        let before = t[..t.len() - digits.len()].chars().next_back();
        digits.len() == 3
            && (b'1'..=b'5').contains(&digits.as_bytes()[2])
            && !before.is_some_and(|c| c.is_ascii_alphanumeric())
    }

    /// Text that joins two backticked codes into one list ("`a` and `b` 404").
    fn joins_a_list(text: &str) -> bool {
        matches!(text.trim(), "," | "and" | "or" | ", and" | ", or")
    }

    /// The error codes a document names. A document is read as items (a
    /// bullet, a table row, a paragraph, with its wrapped lines). A code is
    /// a backticked snake_case word that either
    /// - follows "error codes" in its item, up to the end of that sentence
    ///   (protocol.md: "`error` codes: ...", "New error codes: ..."), or
    /// - stands beside an HTTP status, alone or in a list ("403
    ///   `not_author`", "`edit_window_closed` 409", "(404, `room_not_found`)",
    ///   "`message_not_found` and `room_not_found` 404" in http.md).
    fn documented_codes(doc: &str) -> BTreeSet<String> {
        let mut items: Vec<String> = Vec::new();
        for line in doc.lines() {
            let starts_item = line.trim().is_empty()
                || ["- ", "| ", "#", "```"].iter().any(|p| line.starts_with(p))
                || line.starts_with(|c: char| c.is_ascii_digit());
            match items.last_mut() {
                Some(item) if !starts_item => {
                    item.push(' ');
                    item.push_str(line.trim());
                }
                _ => items.push(line.to_owned()),
            }
        }
        let mut codes = BTreeSet::new();
        for item in &items {
            let plain = item.replace('`', "").to_lowercase();
            if let Some(at) = plain.find("error codes") {
                // The same place in the item with its backticks: skip as
                // many characters as the plain text had before it.
                let skipped = item
                    .char_indices()
                    .filter(|&(_, c)| c != '`')
                    .nth(plain[..at].chars().count())
                    .map_or(item.len(), |(i, _)| i);
                // Read on after the word "codes", which is never backticked.
                let rest = item[skipped..]
                    .find("codes")
                    .map_or("", |i| &item[skipped + i + "codes".len()..]);
                let sentence = rest
                    .match_indices(". ")
                    .map(|(i, _)| i)
                    .find(|&i| rest[..i].matches('`').count() % 2 == 0)
                    .map_or(rest, |end| &rest[..end]);
                codes.extend(
                    backticked(sentence)
                        .into_iter()
                        .map(|(_, word, _)| word)
                        .filter(|w| is_code_like(w))
                        .map(str::to_owned),
                );
            }
            let words = backticked(item);
            let mut beside = vec![false; words.len()];
            for i in 0..words.len() {
                let (before, _, _) = words[i];
                beside[i] =
                    ends_with_status(before) || (i > 0 && joins_a_list(before) && beside[i - 1]);
            }
            for i in (0..words.len()).rev() {
                let (_, _, after) = words[i];
                beside[i] |= starts_with_status(after)
                    || (i + 1 < words.len() && joins_a_list(after) && beside[i + 1]);
            }
            codes.extend(
                words
                    .iter()
                    .zip(beside)
                    .filter(|&(&(_, word, _), beside)| beside && is_code_like(word))
                    .map(|(&(_, word, _), _)| word.to_owned()),
            );
        }
        codes
    }

    #[test]
    fn the_reader_of_the_documents_finds_codes_where_they_are_written() {
        let doc = "- `error` codes: `bad_request`, `empty`\n  (a note). `ref` is not one.\n\
                   \n| PATCH `/x` | `{body}` | 200 `{message}`; 403 `not_author` |\n\
                   - **Status codes.** `a_one` and `b_two` 404; `limit` <= 200;\n  (404,\n\
                   `c_three`) and `after_seq` default 0; `d_four` 409.\n";
        let found: Vec<String> = documented_codes(doc).into_iter().collect();
        assert_eq!(
            found,
            [
                "a_one",
                "b_two",
                "bad_request",
                "c_three",
                "d_four",
                "empty",
                "not_author"
            ]
        );
    }

    /// docs/protocol.md ("Server -> client", "Room events" and its
    /// "Decisions") and docs/http.md (the tables, "People and rooms" and
    /// "Decisions"): every error code they name is a variant of [`Code`].
    #[test]
    fn every_code_the_documents_name_is_a_code() {
        for (name, doc) in [
            (
                "docs/protocol.md",
                include_str!("../../../docs/protocol.md"),
            ),
            ("docs/http.md", include_str!("../../../docs/http.md")),
        ] {
            let documented = documented_codes(doc);
            // The reader still finds what is known to be there.
            assert!(documented.len() >= 10, "{name}: only {documented:?}");
            let missing: Vec<&String> = documented
                .iter()
                .filter(|c| Code::from_name(c).is_none())
                .collect();
            assert!(
                missing.is_empty(),
                "{name} names error codes that Code lacks: {missing:?}"
            );
        }
    }

    #[test]
    fn what_is_not_found_names_its_code() {
        assert_eq!(
            Error::NotFound(Entity::Room).code(),
            Some(Code::RoomNotFound)
        );
        assert_eq!(
            Error::NotFound(Entity::Message).code(),
            Some(Code::MessageNotFound)
        );
        assert_eq!(
            Error::NotFound(Entity::User).code(),
            Some(Code::UserNotFound)
        );
        assert_eq!(Error::NotFound(Entity::Room).to_string(), "room not found");
    }

    #[test]
    fn causes_are_kept_and_shown() {
        let io = std::io::Error::other("connection reset");
        let e = Error::unavailable_from("connecting to Postgres", io);
        assert_eq!(
            e.to_string(),
            "a service this needs is unavailable: connecting to Postgres: connection reset"
        );
        assert_eq!(
            e.source().map(ToString::to_string).as_deref(),
            Some("connection reset")
        );
        let bare = Error::internal("an appended event is missing");
        assert_eq!(
            bare.to_string(),
            "internal error: an appended event is missing"
        );
        assert!(bare.source().is_none());
    }

    #[test]
    fn only_a_certain_fault_is_one() {
        use diesel::result::{DatabaseErrorKind as K, Error as D};
        let db = |kind| Error::Database(D::DatabaseError(kind, Box::new(String::from("x"))));
        assert!(db(K::UniqueViolation).is_fault());
        assert!(db(K::CheckViolation).is_fault());
        assert!(!db(K::ClosedConnection).is_fault());
        assert!(!db(K::SerializationFailure).is_fault());
        assert!(!db(K::Unknown).is_fault());
        assert!(Error::internal("bug").is_fault());
        assert!(!Error::unavailable("redis").is_fault());
    }
}
