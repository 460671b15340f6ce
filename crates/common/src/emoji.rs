//! One reaction emoji (protocol.md, "Room events": `emoji` is one Unicode
//! emoji, a grapheme cluster of at most 16 bytes). Parsing looks the text up
//! in the Unicode emoji list of the `emojis` crate, so letters, symbols and
//! lookalikes are refused, and stores the fully-qualified form, so "❤" and
//! "❤️" count as the same reaction.

use std::fmt;

use unicode_segmentation::UnicodeSegmentation;

use crate::error::{Code, Error, Result};

/// A picker's common reactions, each in the form [`Emoji::parse`] stores.
pub const COMMON: &[&str] = &[
    "👍", "👎", "❤️", "😂", "🎉", "😮", "😢", "🙏", "👀", "🔥", "✅", "🚀",
];

/// Exactly one Unicode emoji, in its fully-qualified form; the only way to get
/// one is [`Emoji::parse`], so holding one means it is valid.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Emoji(String);

impl Emoji {
    /// The protocol's limit on the UTF-8 length of the stored form.
    pub const MAX_BYTES: usize = 16;

    /// Accepts one emoji (skin tones, flags, keycaps and ZWJ sequences
    /// included) whose fully-qualified form fits [`Emoji::MAX_BYTES`];
    /// unqualified forms are accepted and stored fully qualified. Surrounding
    /// whitespace is refused, not trimmed: a client sends the emoji itself.
    pub fn parse(s: &str) -> Result<Self> {
        if s.is_empty() {
            return Err(Error::invalid("emoji", Code::BadEmoji, "Choose an emoji."));
        }
        // Checked before the lookup: qualifying only ever adds bytes.
        if s.len() > Self::MAX_BYTES {
            return Err(too_long());
        }
        let stored = emojis::get(s).map(emojis::Emoji::as_str).ok_or_else(|| {
            Error::invalid(
                "emoji",
                Code::BadEmoji,
                "A reaction is exactly one emoji, like 👍, with nothing around it.",
            )
        })?;
        if stored.len() > Self::MAX_BYTES {
            return Err(too_long());
        }
        // The emoji list holds single sequences only; this keeps the
        // protocol's "one grapheme cluster" true even if that ever changes.
        if stored.graphemes(true).nth(1).is_some() {
            return Err(Error::invalid(
                "emoji",
                Code::BadEmoji,
                "A reaction is one emoji, not several.",
            ));
        }
        Ok(Self(stored.to_owned()))
    }

    /// The stored (fully-qualified) form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn too_long() -> Error {
    Error::invalid(
        "emoji",
        Code::BadEmoji,
        "That emoji is too long for a reaction (at most 16 bytes); pick a simpler one.",
    )
}

impl fmt::Display for Emoji {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl serde::Serialize for Emoji {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Emoji {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> String {
        Emoji::parse(s)
            .unwrap_or_else(|e| panic!("{s:?} refused: {e}"))
            .as_str()
            .to_owned()
    }

    fn refused(s: &str) {
        match Emoji::parse(s) {
            Err(
                ref e @ Error::Invalid {
                    code: Code::BadEmoji,
                    ..
                },
            ) if e.field() == Some("emoji") => {}
            other => panic!("{s:?} should be refused with bad_emoji, got {other:?}"),
        }
    }

    #[test]
    fn accepts_a_simple_emoji() {
        assert_eq!(ok("👍"), "👍");
    }

    #[test]
    fn accepts_a_skin_tone() {
        assert_eq!(ok("👍🏽"), "👍🏽");
    }

    #[test]
    fn accepts_a_flag() {
        assert_eq!(ok("🇫🇷"), "🇫🇷");
    }

    #[test]
    fn accepts_zwj_sequences_that_fit() {
        assert_eq!(ok("👩‍💻"), "👩‍💻");
        assert_eq!(ok("🏳️‍🌈"), "🏳️‍🌈");
        assert_eq!(ok("❤️‍🔥"), "❤️‍🔥");
    }

    #[test]
    fn accepts_a_keycap() {
        assert_eq!(ok("1️⃣"), "1️⃣");
    }

    #[test]
    fn stores_the_fully_qualified_form() {
        assert_eq!(ok("❤"), "❤️");
        assert_eq!(Emoji::parse("❤").ok(), Emoji::parse("❤️").ok());
    }

    #[test]
    fn refuses_empty() {
        refused("");
    }

    #[test]
    fn refuses_two_emoji() {
        refused("👍👍");
        refused("👍🎉");
    }

    #[test]
    fn refuses_letters_digits_and_symbols() {
        refused("a");
        refused("ok");
        refused("1");
        refused("#");
        refused(":+1:");
        refused("<3");
    }

    #[test]
    fn refuses_an_emoji_with_text() {
        refused("👍a");
        refused("a👍");
    }

    #[test]
    fn refuses_more_than_16_bytes() {
        refused("👨‍👩‍👧"); // 18 bytes
        refused("👨‍👩‍👧‍👦"); // 25 bytes
        refused("🏴󠁧󠁢󠁥󠁮󠁧󠁿"); // England: a 28-byte tag sequence
    }

    #[test]
    fn refuses_surrounding_whitespace() {
        refused(" 👍");
        refused("👍 ");
        refused("👍\n");
    }

    #[test]
    fn refuses_a_lone_modifier_or_joiner() {
        refused("🏻");
        refused("\u{200d}");
        refused("\u{fe0f}");
    }

    #[test]
    fn common_reactions_parse_to_themselves() {
        for c in COMMON {
            assert_eq!(ok(c), *c);
        }
    }

    #[test]
    fn every_listed_emoji_that_fits_parses_as_one_cluster() {
        let mut n = 0;
        for base in emojis::iter() {
            for e in base.skin_tones().into_iter().flatten().chain([base]) {
                if e.as_str().len() <= Emoji::MAX_BYTES {
                    assert_eq!(ok(e.as_str()), e.as_str());
                    n += 1;
                }
            }
        }
        assert!(n > 1000, "only {n} emoji checked");
    }

    #[test]
    fn serde_is_a_plain_string() {
        let e = Emoji::parse("🎉").ok();
        assert_eq!(
            e.as_ref().and_then(|e| serde_json::to_string(e).ok()),
            Some("\"🎉\"".to_owned())
        );
        assert_eq!(serde_json::from_str::<Emoji>("\"🎉\"").ok(), e);
        assert_eq!(
            serde_json::from_str::<Emoji>("\"❤\"").ok(),
            Emoji::parse("❤️").ok()
        );
        assert!(serde_json::from_str::<Emoji>("\"x\"").is_err());
    }

    #[test]
    fn display_is_the_emoji() {
        assert_eq!(ok("🚀"), "🚀");
        assert_eq!(
            Emoji::parse("🚀").map(|e| e.to_string()).ok(),
            Some("🚀".to_owned())
        );
    }
}
