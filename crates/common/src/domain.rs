//! Validated input. Parsing a raw string into one of these types is the only
//! way to get one, so a function that takes a `Username` never re-checks it.
//! The limits are those of http.md and protocol.md.

use std::fmt;

use crate::error::{Code, Error, Result};

/// Declares a string newtype with `as_str`, `Display` and `into_inner`.
macro_rules! string_newtype {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            /// The validated text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The validated text, owned.
            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_newtype!(
    /// 3..=32 of `[A-Za-z0-9_.-]`; unique ignoring case.
    Username
);
string_newtype!(
    /// A syntactically valid address (dot-atom local part, dotted domain); unique ignoring case.
    Email
);
string_newtype!(
    /// 1..=64 characters after trimming, no control characters; unique ignoring case.
    RoomName
);
string_newtype!(
    /// At most 256 characters after trimming, no control characters.
    Topic
);
string_newtype!(
    /// 1..=4000 characters after trimming; newline and tab are the only control characters.
    MessageBody
);
string_newtype!(
    /// What a person is called on pages: at most 64 characters after
    /// trimming, no control, invisible or direction-changing characters;
    /// empty means "show the username".
    DisplayName
);
string_newtype!(
    /// A short text about a person: at most 300 characters after trimming;
    /// line breaks allowed, no other control character, nothing invisible or
    /// direction-changing.
    Bio
);
string_newtype!(
    /// The client's idempotency key for a send: 1..=64 characters, no control characters.
    Nonce
);
string_newtype!(
    /// Why a moderator acted: at most 500 characters, no control characters;
    /// empty when none was given. Only moderators read it.
    Reason
);

/// A password of 8..=256 characters. Never displayed or logged.
#[derive(Clone)]
pub struct Password(String);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

fn char_count(s: &str) -> usize {
    s.chars().count()
}

fn has_control(s: &str, allowed: &[char]) -> bool {
    s.chars().any(|c| c.is_control() && !allowed.contains(&c))
}

/// Characters that make a one-line name read other than it is: bidi
/// embeddings, overrides and isolates (text shown in another order), and
/// invisible ones (two names that look the same). Zero-width joiners stay:
/// emoji sequences and some scripts need them.
fn has_deceptive(s: &str) -> bool {
    s.chars().any(|c| {
        matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200B}' | '\u{2060}' | '\u{FEFF}')
    })
}

impl Username {
    pub const MIN: usize = 3;
    pub const MAX: usize = 32;

    /// Checks length and alphabet; keeps the case the user chose.
    pub fn parse(raw: &str) -> Result<Self> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(Error::invalid(
                "username",
                Code::UsernameMissing,
                "Choose a username.",
            ));
        }
        if !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        {
            return Err(Error::invalid(
                "username",
                Code::UsernameInvalid,
                "A username may only use letters A-Z, digits, '_', '.' and '-'.",
            ));
        }
        if !(Self::MIN..=Self::MAX).contains(&s.len()) {
            return Err(Error::invalid(
                "username",
                Code::UsernameLength,
                format!(
                    "A username is {} to {} characters long.",
                    Self::MIN,
                    Self::MAX
                ),
            ));
        }
        Ok(Self(s.to_owned()))
    }
}

impl Email {
    pub const MAX: usize = 254;

    /// A practical subset of RFC 5321: `local@domain` with a dot-atom local
    /// part of at most 64 characters and a domain of dotted DNS labels.
    pub fn parse(raw: &str) -> Result<Self> {
        let s = raw.trim();
        let bad = || {
            Error::invalid(
                "email",
                Code::EmailInvalid,
                "Enter a valid e-mail address, like ann@example.com.",
            )
        };
        if s.is_empty() {
            return Err(Error::invalid(
                "email",
                Code::EmailMissing,
                "Enter your e-mail address.",
            ));
        }
        if s.len() > Self::MAX {
            return Err(Error::invalid(
                "email",
                Code::EmailLength,
                "An e-mail address is at most 254 characters long.",
            ));
        }
        let (local, domain) = s.rsplit_once('@').ok_or_else(bad)?;
        let atom_char = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-".contains(c);
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && local
                .split('.')
                .all(|part| !part.is_empty() && part.chars().all(atom_char));
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        };
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2 && labels.iter().all(|l| label_ok(l));
        if local_ok && domain_ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(bad())
        }
    }
}

impl Password {
    pub const MIN: usize = 8;
    pub const MAX: usize = 256;

    /// Checks the length only: any character is allowed, nothing is trimmed.
    pub fn parse(raw: &str) -> Result<Self> {
        let n = char_count(raw);
        if n == 0 {
            return Err(Error::invalid(
                "password",
                Code::PasswordMissing,
                "Choose a password.",
            ));
        }
        if !(Self::MIN..=Self::MAX).contains(&n) {
            return Err(Error::invalid(
                "password",
                Code::PasswordLength,
                format!(
                    "A password is {} to {} characters long.",
                    Self::MIN,
                    Self::MAX
                ),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The secret itself, for hashing and verifying only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl RoomName {
    pub const MAX: usize = 64;

    /// Trims, then checks length and control characters.
    pub fn parse(raw: &str) -> Result<Self> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(Error::invalid(
                "name",
                Code::NameMissing,
                "Give the room a name.",
            ));
        }
        if char_count(s) > Self::MAX {
            return Err(Error::invalid(
                "name",
                Code::NameLength,
                "A room name is at most 64 characters long.",
            ));
        }
        if has_control(s, &[]) || has_deceptive(s) {
            return Err(Error::invalid(
                "name",
                Code::NameInvalid,
                "A room name cannot contain control, invisible or direction-changing characters.",
            ));
        }
        Ok(Self(s.to_owned()))
    }
}

impl Topic {
    pub const MAX: usize = 256;

    /// Trims, then checks length and control characters; empty is allowed.
    pub fn parse(raw: &str) -> Result<Self> {
        let s = raw.trim();
        if char_count(s) > Self::MAX {
            return Err(Error::invalid(
                "topic",
                Code::TopicLength,
                "A topic is at most 256 characters long.",
            ));
        }
        if has_control(s, &[]) || has_deceptive(s) {
            return Err(Error::invalid(
                "topic",
                Code::TopicInvalid,
                "A topic cannot contain control, invisible or direction-changing characters.",
            ));
        }
        Ok(Self(s.to_owned()))
    }
}

impl DisplayName {
    pub const MAX: usize = 64;

    /// Trims, then checks length and characters as a room name's; empty is
    /// allowed (the username is shown instead).
    pub fn parse(raw: &str) -> Result<Self> {
        let s = raw.trim();
        if char_count(s) > Self::MAX {
            return Err(Error::invalid(
                "display_name",
                Code::DisplayNameLength,
                "A display name is at most 64 characters long.",
            ));
        }
        if has_control(s, &[]) || has_deceptive(s) {
            return Err(Error::invalid(
                "display_name",
                Code::DisplayNameInvalid,
                "A display name cannot contain control, invisible or direction-changing characters.",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// The name to show: this one, or `username` when it is empty.
    pub fn or_username<'a>(display_name: &'a str, username: &'a str) -> &'a str {
        if display_name.is_empty() {
            username
        } else {
            display_name
        }
    }
}

impl Bio {
    pub const MAX: usize = 300;

    /// Turns CRLF into LF (what forms send) and trims, then checks length
    /// and characters; empty is allowed.
    pub fn parse(raw: &str) -> Result<Self> {
        let normalized = raw.replace("\r\n", "\n");
        let s = normalized.trim();
        if char_count(s) > Self::MAX {
            return Err(Error::invalid(
                "bio",
                Code::BioLength,
                "A bio is at most 300 characters long.",
            ));
        }
        if has_control(s, &['\n']) || has_deceptive(s) {
            return Err(Error::invalid(
                "bio",
                Code::BioInvalid,
                "A bio cannot contain control, invisible or direction-changing characters (line breaks are fine).",
            ));
        }
        Ok(Self(s.to_owned()))
    }
}

impl MessageBody {
    pub const MAX: usize = 4000;

    /// Turns CRLF into LF (what HTML forms send), trims, then checks length and
    /// control characters. The codes are protocol.md's `error` codes.
    pub fn parse(raw: &str) -> Result<Self> {
        let normalized;
        let s = if raw.contains('\r') {
            normalized = raw.replace("\r\n", "\n");
            normalized.trim()
        } else {
            raw.trim()
        };
        if s.is_empty() {
            return Err(Error::invalid("body", Code::Empty, "message body is empty"));
        }
        if char_count(s) > Self::MAX {
            return Err(Error::invalid(
                "body",
                Code::TooLong,
                "message body is over 4000 characters",
            ));
        }
        if has_control(s, &['\n', '\t']) {
            return Err(Error::invalid(
                "body",
                Code::BadRequest,
                "message body contains control characters (only newline and tab are allowed)",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// [`MessageBody::parse`] for a message that sends files: it may say
    /// nothing.
    pub fn parse_beside_files(raw: &str) -> Result<Self> {
        if raw.trim().is_empty() {
            return Ok(Self(String::new()));
        }
        Self::parse(raw)
    }
}

impl Nonce {
    pub const MAX: usize = 64;

    /// Checks length and control characters; kept exactly as sent.
    pub fn parse(raw: &str) -> Result<Self> {
        let n = char_count(raw);
        if n == 0 || n > Self::MAX || has_control(raw, &[]) {
            return Err(Error::invalid(
                "nonce",
                Code::BadRequest,
                "nonce must be 1 to 64 characters without control characters",
            ));
        }
        Ok(Self(raw.to_owned()))
    }
}

impl Reason {
    pub const MAX: usize = 500;

    /// Trims, then checks length and characters; empty is allowed.
    pub fn parse(raw: &str) -> Result<Self> {
        let s = raw.trim();
        if char_count(s) > Self::MAX || has_control(s, &[]) || has_deceptive(s) {
            return Err(Error::invalid(
                "reason",
                Code::ReasonInvalid,
                "A reason is at most 500 characters, without control characters.",
            ));
        }
        Ok(Self(s.to_owned()))
    }
}

/// How long a ban or mute lasts: 1 minute to 1 year, or for good (`None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sentence(Option<u32>);

impl Sentence {
    pub const MIN_SECS: u32 = 60;
    pub const MAX_SECS: u32 = 366 * 24 * 3600;

    /// `duration_secs` as given (absent: for good).
    pub fn parse(secs: Option<i64>) -> Result<Self> {
        match secs {
            None => Ok(Self(None)),
            Some(n) if (i64::from(Self::MIN_SECS)..=i64::from(Self::MAX_SECS)).contains(&n) => {
                Ok(Self(Some(n as u32)))
            }
            Some(_) => Err(Error::invalid(
                "duration_secs",
                Code::BadDuration,
                "A duration is 60 seconds to 366 days, or absent for good.",
            )),
        }
    }

    /// When it ends if it starts at `now` (`None`: for good).
    pub fn until(
        self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Option<chrono::DateTime<chrono::Utc>> {
        self.0
            .map(|secs| now + chrono::Duration::seconds(i64::from(secs)))
    }
}

/// A room's slow mode: one message per this many seconds per member, 0 to
/// 6 hours (0: off).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlowMode(i32);

impl SlowMode {
    pub const MAX_SECS: i64 = 6 * 3600;

    /// Checks the range.
    pub fn parse(secs: i64) -> Result<Self> {
        if (0..=Self::MAX_SECS).contains(&secs) {
            Ok(Self(secs as i32))
        } else {
            Err(Error::invalid(
                "slow_mode_secs",
                Code::SlowModeRange,
                "Slow mode is 0 (off) to 21600 seconds.",
            ))
        }
    }

    /// The seconds between two messages of a member (0: off).
    pub fn secs(self) -> i32 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moderation_inputs_are_checked() {
        assert_eq!(code(Reason::parse("spam")), "ok");
        assert_eq!(code(Reason::parse(&"x".repeat(501))), "reason_invalid");
        assert_eq!(code(Reason::parse("a\u{7}b")), "reason_invalid");
        assert_eq!(code(Sentence::parse(None)), "ok");
        assert_eq!(code(Sentence::parse(Some(59))), "bad_duration");
        assert_eq!(code(Sentence::parse(Some(3600))), "ok");
        assert_eq!(code(SlowMode::parse(-1)), "slow_mode_range");
        assert_eq!(code(SlowMode::parse(21601)), "slow_mode_range");
        assert_eq!(code(SlowMode::parse(30)), "ok");
    }

    fn code(r: Result<impl Sized>) -> &'static str {
        match r {
            Err(Error::Invalid { code, .. }) => code.as_str(),
            Err(e) => panic!("unexpected error {e:?}"),
            Ok(_) => "ok",
        }
    }

    #[test]
    fn usernames() {
        assert_eq!(code(Username::parse("ann")), "ok");
        assert_eq!(code(Username::parse("Ann_B.c-9")), "ok");
        assert_eq!(code(Username::parse(&"a".repeat(32))), "ok");
        assert_eq!(code(Username::parse("an")), "username_length");
        assert_eq!(code(Username::parse(&"a".repeat(33))), "username_length");
        assert_eq!(code(Username::parse("ann bob")), "username_invalid");
        assert_eq!(code(Username::parse("änn")), "username_invalid");
        assert_eq!(code(Username::parse("")), "username_missing");
        assert_eq!(
            Username::parse("  ann ").map(Username::into_inner).ok(),
            Some("ann".into())
        );
    }

    #[test]
    fn emails() {
        for ok in ["a@b.co", "ann.lee+chat@mail.example.org", "x_y@a-b.io"] {
            assert_eq!(code(Email::parse(ok)), "ok", "{ok}");
        }
        for bad in [
            "ann",
            "ann@",
            "@b.co",
            "a@b",
            "a..b@c.de",
            "a@-b.co",
            "a b@c.de",
            "a@b..co",
            "a@b.co\n",
        ] {
            let c = code(Email::parse(bad));
            assert!(c == "email_invalid" || bad.trim() != bad, "{bad}: {c}");
        }
        assert_eq!(
            code(Email::parse(&format!("{}@b.co", "a".repeat(65)))),
            "email_invalid"
        );
        assert_eq!(
            code(Email::parse(&format!("a@{}.com", "b".repeat(250)))),
            "email_length"
        );
        assert_eq!(code(Email::parse(" ")), "email_missing");
    }

    #[test]
    fn passwords() {
        assert_eq!(code(Password::parse("12345678")), "ok");
        assert_eq!(code(Password::parse("1234567")), "password_length");
        assert_eq!(code(Password::parse(&"é".repeat(256))), "ok");
        assert_eq!(code(Password::parse(&"é".repeat(257))), "password_length");
        assert_eq!(code(Password::parse("")), "password_missing");
        assert_eq!(
            format!("{:?}", Password::parse("secret-pw").ok()),
            "Some(Password(***))"
        );
    }

    #[test]
    fn room_names_and_topics() {
        assert_eq!(code(RoomName::parse("x")), "ok");
        assert_eq!(code(RoomName::parse(&"é".repeat(64))), "ok");
        assert_eq!(code(RoomName::parse(&"é".repeat(65))), "name_length");
        assert_eq!(code(RoomName::parse("   ")), "name_missing");
        assert_eq!(code(RoomName::parse("a\u{7}b")), "name_invalid");
        assert_eq!(code(Topic::parse("")), "ok");
        assert_eq!(code(Topic::parse(&"t".repeat(256))), "ok");
        assert_eq!(code(Topic::parse(&"t".repeat(257))), "topic_length");
        assert_eq!(code(Topic::parse("a\nb")), "topic_invalid");
    }

    #[test]
    fn names_that_read_other_than_they_are_are_refused() {
        // "general" shown reversed-in-part, and one that looks like it.
        assert_eq!(code(RoomName::parse("gen\u{202E}lare")), "name_invalid");
        assert_eq!(code(RoomName::parse("gen\u{200B}eral")), "name_invalid");
        assert_eq!(code(RoomName::parse("a\u{2067}b\u{2069}")), "name_invalid");
        assert_eq!(code(Topic::parse("about \u{FEFF}x")), "topic_invalid");
        // Emoji sequences and Persian keep their joiners.
        assert_eq!(code(RoomName::parse("family 👨\u{200D}👩\u{200D}👧")), "ok");
        assert_eq!(code(RoomName::parse("می\u{200C}خواهم")), "ok");
        assert_eq!(code(RoomName::parse("עברית and English")), "ok");
    }

    #[test]
    fn display_names() {
        assert_eq!(code(DisplayName::parse("")), "ok");
        assert_eq!(code(DisplayName::parse("Ann Lée 👩\u{200D}💻")), "ok");
        assert_eq!(code(DisplayName::parse(&"é".repeat(64))), "ok");
        assert_eq!(
            code(DisplayName::parse(&"é".repeat(65))),
            "display_name_length"
        );
        assert_eq!(
            code(DisplayName::parse(&format!("  {}  ", "a".repeat(64)))),
            "ok"
        );
        for bad in [
            "a\u{7}b",
            "a\nb",
            "ann\u{202E}nimda",
            "a\u{200B}b",
            "\u{2066}x",
        ] {
            assert_eq!(
                code(DisplayName::parse(bad)),
                "display_name_invalid",
                "{bad:?}"
            );
        }
        assert_eq!(
            DisplayName::parse("  Ann  ")
                .map(DisplayName::into_inner)
                .ok(),
            Some("Ann".into())
        );
        assert_eq!(DisplayName::or_username("", "ann"), "ann");
        assert_eq!(DisplayName::or_username("Ann", "ann"), "Ann");
    }

    #[test]
    fn bios() {
        assert_eq!(code(Bio::parse("")), "ok");
        assert_eq!(code(Bio::parse(&"b".repeat(300))), "ok");
        assert_eq!(code(Bio::parse(&"b".repeat(301))), "bio_length");
        assert_eq!(
            Bio::parse("line one\r\nline two\r\n")
                .map(Bio::into_inner)
                .ok(),
            Some("line one\nline two".into())
        );
        for bad in ["a\tb", "a\u{1b}[31m", "x\u{202D}y", "\u{FEFF}hi"] {
            assert_eq!(code(Bio::parse(bad)), "bio_invalid", "{bad:?}");
        }
    }

    #[test]
    fn message_bodies() {
        assert_eq!(code(MessageBody::parse("hi")), "ok");
        assert_eq!(code(MessageBody::parse(" \n\t ")), "empty");
        assert_eq!(code(MessageBody::parse(&"x".repeat(4000))), "ok");
        assert_eq!(
            code(MessageBody::parse(&format!("  {}  ", "x".repeat(4000)))),
            "ok"
        );
        assert_eq!(code(MessageBody::parse(&"x".repeat(4001))), "too_long");
        assert_eq!(code(MessageBody::parse("a\u{0}b")), "bad_request");
        assert_eq!(code(MessageBody::parse("a\u{1b}[31mb")), "bad_request");
        assert_eq!(
            MessageBody::parse("a\r\nb\tc\r\n")
                .map(MessageBody::into_inner)
                .ok(),
            Some("a\nb\tc".into())
        );
    }

    #[test]
    fn nonces() {
        assert_eq!(code(Nonce::parse("c-1")), "ok");
        assert_eq!(code(Nonce::parse(&"n".repeat(64))), "ok");
        assert_eq!(code(Nonce::parse(&"n".repeat(65))), "bad_request");
        assert_eq!(code(Nonce::parse("")), "bad_request");
        assert_eq!(code(Nonce::parse("a\nb")), "bad_request");
    }
}
