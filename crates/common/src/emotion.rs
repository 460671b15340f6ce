//! Ekman's emotions as Parley tags them (protocol.md, `annotation` of kind
//! `emotion`), and what a chat line too short for the model says by itself.
//! A sentence model trained on Reddit comments reads "lol", "ugh" or "😭😭"
//! poorly, and a line that is only a link or a code block says nothing of
//! its author's mood: those are decided here, before any model runs.

use unicode_segmentation::UnicodeSegmentation;

/// The `model` of a tag the short-line rules decided (not a model at all:
/// [`short_line`]).
pub const RULES_MODEL: &str = "rules-v1";

/// One of Ekman's six emotions, or none of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Emotion {
    Anger,
    Disgust,
    Fear,
    Joy,
    Neutral,
    Sadness,
    Surprise,
}

impl Emotion {
    /// Every label, in the order of GoEmotions' Ekman `labels.txt` (the
    /// order of a trained head's outputs).
    pub const ALL: [Emotion; 7] = [
        Emotion::Anger,
        Emotion::Disgust,
        Emotion::Fear,
        Emotion::Joy,
        Emotion::Neutral,
        Emotion::Sadness,
        Emotion::Surprise,
    ];

    /// Its name in the protocol.
    pub fn as_str(self) -> &'static str {
        match self {
            Emotion::Anger => "anger",
            Emotion::Disgust => "disgust",
            Emotion::Fear => "fear",
            Emotion::Joy => "joy",
            Emotion::Neutral => "neutral",
            Emotion::Sadness => "sadness",
            Emotion::Surprise => "surprise",
        }
    }

    /// The label named `name` in the protocol.
    pub fn parse(name: &str) -> Option<Emotion> {
        Emotion::ALL.into_iter().find(|e| e.as_str() == name)
    }

    /// Its name for people.
    pub fn title(self) -> &'static str {
        match self {
            Emotion::Anger => "Anger",
            Emotion::Disgust => "Disgust",
            Emotion::Fear => "Fear",
            Emotion::Joy => "Joy",
            Emotion::Neutral => "Neutral",
            Emotion::Sadness => "Sadness",
            Emotion::Surprise => "Surprise",
        }
    }

    /// The marker a message shows when this is its strongest emotion (the
    /// room page's script keeps the same table); none for neutral, which
    /// is most messages and worth no mark.
    pub fn emoji(self) -> Option<&'static str> {
        match self {
            Emotion::Anger => Some("😠"),
            Emotion::Disgust => Some("🤢"),
            Emotion::Fear => Some("😨"),
            Emotion::Joy => Some("😊"),
            Emotion::Neutral => None,
            Emotion::Sadness => Some("😢"),
            Emotion::Surprise => Some("😮"),
        }
    }
}

/// The calibrated score a message's strongest emotion needs for a marker.
/// A tag's labels pass thresholds tuned for F1 on GoEmotions, which are
/// low (0.1 to 0.34: docs/EMOTION.md); a mark on the page should be more
/// likely right than not, nearly, so that a plain request ("Can you send
/// the report by 5pm?", surprise 0.44) carries none. The room page's
/// script gets it from the page.
pub const MARKER_MIN_SCORE: f32 = 0.45;

/// A message's strongest emotion from its tag's labels (strongest first),
/// when it is one worth a marker: not neutral, and scoring at least
/// [`MARKER_MIN_SCORE`].
pub fn marker(labels: &[crate::protocol::ScoredLabel]) -> Option<Emotion> {
    let top = labels.first()?;
    let emotion = Emotion::parse(&top.label)?;
    (emotion.emoji().is_some() && top.score.get() >= MARKER_MIN_SCORE).then_some(emotion)
}

/// The labels as people read them: "Joy 91% · Surprise 12%".
pub fn describe(labels: &[crate::protocol::ScoredLabel]) -> String {
    labels
        .iter()
        .filter_map(|l| {
            let e = Emotion::parse(&l.label)?;
            Some(format!("{} {:.0}%", e.title(), l.score.get() * 100.0))
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

/// What a line says before any model reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShortLine {
    /// Nothing to tag: empty, only links, only code, only punctuation.
    Nothing,
    /// Only emoji and laughter: this emotion, without the model.
    Says(Emotion),
    /// Words: the model decides.
    Model,
}

/// Emoji that say one emotion plainly. Anything else is left to the model
/// (or, on a line of emoji alone, to the ones that are here).
const EMOJI: &[(&str, Emotion)] = &[
    ("😀", Emotion::Joy),
    ("😃", Emotion::Joy),
    ("😄", Emotion::Joy),
    ("😁", Emotion::Joy),
    ("😆", Emotion::Joy),
    ("😅", Emotion::Joy),
    ("🤣", Emotion::Joy),
    ("😂", Emotion::Joy),
    ("🙂", Emotion::Joy),
    ("😊", Emotion::Joy),
    ("😍", Emotion::Joy),
    ("🥰", Emotion::Joy),
    ("😘", Emotion::Joy),
    ("🥳", Emotion::Joy),
    ("🎉", Emotion::Joy),
    ("❤️", Emotion::Joy),
    ("👍", Emotion::Joy),
    ("🙏", Emotion::Joy),
    ("😢", Emotion::Sadness),
    ("😭", Emotion::Sadness),
    ("😞", Emotion::Sadness),
    ("😔", Emotion::Sadness),
    ("🥺", Emotion::Sadness),
    ("💔", Emotion::Sadness),
    ("☹️", Emotion::Sadness),
    ("🙁", Emotion::Sadness),
    ("😠", Emotion::Anger),
    ("😡", Emotion::Anger),
    ("🤬", Emotion::Anger),
    ("😤", Emotion::Anger),
    ("👎", Emotion::Anger),
    ("😱", Emotion::Fear),
    ("😨", Emotion::Fear),
    ("😰", Emotion::Fear),
    ("😧", Emotion::Fear),
    ("😬", Emotion::Fear),
    ("🤢", Emotion::Disgust),
    ("🤮", Emotion::Disgust),
    ("😒", Emotion::Disgust),
    ("🙄", Emotion::Disgust),
    ("😮", Emotion::Surprise),
    ("😲", Emotion::Surprise),
    ("😯", Emotion::Surprise),
    ("🤯", Emotion::Surprise),
    ("😳", Emotion::Surprise),
    ("😐", Emotion::Neutral),
    ("😑", Emotion::Neutral),
    ("🤔", Emotion::Neutral),
];

/// What `text` (a message's Markdown source) says before any model: links
/// and code are not the author's mood; a line of emoji and laughter alone
/// says the emotion most of its emoji say (laughter counts for joy; a tie
/// goes to the first seen).
pub fn short_line(text: &str) -> ShortLine {
    let words = without_links_and_code(text);
    let mut votes: Vec<(Emotion, usize)> = Vec::new();
    let mut vote = |e: Emotion| match votes.iter_mut().find(|(v, _)| *v == e) {
        Some((_, n)) => *n += 1,
        None => votes.push((e, 1)),
    };
    let mut anything = false;
    for token in words.split_whitespace() {
        let bare = token.trim_matches(|c: char| c.is_ascii_punctuation());
        if bare.is_empty() {
            continue;
        }
        anything = true;
        if is_laughter(bare) {
            vote(Emotion::Joy);
            continue;
        }
        for g in bare.graphemes(true) {
            if g.chars().all(|c| c.is_ascii_punctuation()) {
                continue;
            }
            let Some(emoji) = emojis::get(g) else {
                return ShortLine::Model;
            };
            if let Some((_, e)) = EMOJI.iter().find(|(s, _)| emojis::get(s) == Some(emoji)) {
                vote(*e);
            }
        }
    }
    if !anything {
        return ShortLine::Nothing;
    }
    // The emotion most emoji say, the first seen on a tie; emoji none of
    // which is in the table (🍕, 🚀) say no mood.
    let mut best: Option<(Emotion, usize)> = None;
    for (e, n) in votes {
        if best.is_none_or(|(_, most)| n > most) {
            best = Some((e, n));
        }
    }
    match best {
        Some((e, _)) => ShortLine::Says(e),
        None => ShortLine::Nothing,
    }
}

/// "lol", "haha", "ahah", "hehe", "lmao", "rofl", "xD": laughter, in any
/// case and length.
fn is_laughter(word: &str) -> bool {
    let w = word.to_lowercase();
    if matches!(
        w.as_str(),
        "lol" | "lool" | "lolol" | "lmao" | "lmfao" | "rofl" | "xd"
    ) {
        return true;
    }
    let only = |letters: &str| w.chars().all(|c| letters.contains(c));
    w.chars().count() >= 4
        && ((only("ha") && (w.contains("hah") || w.contains("aha")))
            || (only("he") && w.contains("heh")))
}

/// `text` without fenced code blocks, inline code and URLs.
fn without_links_and_code(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_fence = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        let mut in_code = false;
        for piece in line.split('`') {
            if !in_code {
                for word in piece.split_whitespace() {
                    let bare = word.trim_start_matches(['<', '(', '[']);
                    if !(bare.starts_with("http://")
                        || bare.starts_with("https://")
                        || bare.starts_with("www."))
                    {
                        out.push_str(word);
                        out.push(' ');
                    }
                }
            }
            in_code = !in_code;
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, f32)]) -> Vec<crate::protocol::ScoredLabel> {
        pairs
            .iter()
            .map(|(l, s)| crate::protocol::ScoredLabel {
                label: (*l).into(),
                score: crate::protocol::Score::new(*s),
            })
            .collect()
    }

    #[test]
    fn a_marker_needs_a_clear_emotion_that_is_not_neutral() {
        assert_eq!(
            marker(&labels(&[("joy", 0.9), ("surprise", 0.5)])),
            Some(Emotion::Joy)
        );
        assert_eq!(
            marker(&labels(&[("sadness", MARKER_MIN_SCORE)])),
            Some(Emotion::Sadness)
        );
        assert_eq!(
            marker(&labels(&[("surprise", 0.44)])),
            None,
            "a plain request"
        );
        assert_eq!(marker(&labels(&[("neutral", 0.99), ("joy", 0.8)])), None);
        assert_eq!(marker(&labels(&[])), None, "a tag taken back");
        assert_eq!(marker(&labels(&[("boredom", 0.9)])), None);
        assert_eq!(
            describe(&labels(&[("joy", 0.912), ("surprise", 0.12)])),
            "Joy 91% · Surprise 12%"
        );
    }

    #[test]
    fn lines_of_emoji_and_laughter_say_their_emotion() {
        use Emotion::*;
        for (line, want) in [
            ("lol", Joy),
            ("LOL!!", Joy),
            ("hahaha", Joy),
            ("ahahah", Joy),
            ("hehe 😂", Joy),
            ("😭😭", Sadness),
            ("😡", Anger),
            ("😱!", Fear),
            ("🤮", Disgust),
            ("😮 😮 🙂", Surprise),
            ("❤", Joy),
            ("😢 😂", Sadness),
            ("🤔", Neutral),
        ] {
            assert_eq!(short_line(line), ShortLine::Says(want), "{line}");
        }
    }

    #[test]
    fn links_code_and_silence_say_nothing() {
        for line in [
            "",
            "   ",
            "https://example.com/a?b=c",
            "<https://example.com>",
            "```\nfn main() {}\n```",
            "`cargo build`",
            "...",
            "🍕🚀",
        ] {
            assert_eq!(short_line(line), ShortLine::Nothing, "{line:?}");
        }
    }

    #[test]
    fn words_go_to_the_model() {
        for line in [
            "ugh",
            "thanks!!",
            "so frustrating, the build broke",
            "lol that was close",
            "haha 😂 see https://example.com",
            "привет 😊",
            "hah",
            "hahx",
        ] {
            assert_eq!(short_line(line), ShortLine::Model, "{line}");
        }
    }

    #[test]
    fn labels_are_the_protocol_s_names_in_the_head_s_order() {
        let names: Vec<&str> = Emotion::ALL.iter().map(|e| e.as_str()).collect();
        assert_eq!(
            names,
            [
                "anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"
            ]
        );
        for e in Emotion::ALL {
            assert_eq!(Emotion::parse(e.as_str()), Some(e));
        }
        assert_eq!(Emotion::parse("happy"), None);
        for (s, _) in EMOJI {
            assert!(emojis::get(s).is_some(), "{s} is not an emoji");
        }
    }
}
