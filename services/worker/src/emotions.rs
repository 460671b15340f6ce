//! Emotion tags (issue 12): the `emotions` follower reads each new or
//! edited message after the `vectors` follower has stored its sentence
//! vector, and appends an `annotation` event with the labels that passed
//! (protocol.md). A line too short for the model ("lol", "😭😭", a bare
//! link) is decided by `common::emotion::short_line` first; anything with
//! words goes to the head (`ml::EmotionHead`) on the stored vector, so a
//! message is embedded once for search and tags alike.
//!
//! Tags are appended by the bot through the log's one write path, in the
//! follower's transaction: the cursor and the events commit together, so
//! a restart tags nothing twice and misses nothing. Whom and where tagging
//! is off (the author's `emotion_tagging`, the room's owner) is asked at
//! tagging time, and [`withdraw`] takes back tags made before it was
//! turned off.

use std::collections::{BTreeMap, HashMap};

use common::domain::Nonce;
use common::emotion::{Emotion, ShortLine, short_line};
use common::error::{Error, Result};
use common::protocol::{Score, ScoredLabel, UserRef};
use common::store::annotations::{self, EMOTION};
use common::store::events::{self, Change, EventDraft};

use crate::annotate::{Appended, append};
use common::store::messages::{self, ToTag};
use common::store::{preferences, rooms, vectors};
use diesel_async::AsyncPgConnection;

pub use common::emotion::RULES_MODEL;

/// The most characters of a message the head reads the features of (the
/// vector was made from the same excerpt).
const TEXT_CHARS: usize = 2000;

/// What tags messages: the trained head and the account that appends.
pub struct Tagger {
    pub head: ml::EmotionHead,
    /// The bot: annotations are the server's, appended under its account.
    pub bot: UserRef,
}

/// What a message's text says: the labels (strongest first) and what
/// decided them; `None` when it says nothing a tag could show.
pub fn labels_of(
    head: &ml::EmotionHead,
    text: &str,
    vector: Option<&[f32]>,
) -> Result<Option<(Vec<ScoredLabel>, String)>> {
    match short_line(text) {
        ShortLine::Nothing => Ok(None),
        ShortLine::Says(emotion) => Ok(Some((
            vec![ScoredLabel {
                label: emotion.as_str().to_owned(),
                score: Score::new(1.0),
            }],
            RULES_MODEL.to_owned(),
        ))),
        ShortLine::Model => {
            let Some(vector) = vector else {
                return Ok(None);
            };
            let excerpt = common::markdown::excerpt(text, TEXT_CHARS);
            let tags = head
                .tag(vector, &excerpt)
                .map_err(|e| Error::internal_from("the emotion head", e))?;
            let labels = tags
                .into_iter()
                .filter_map(|(i, score)| {
                    let label = Emotion::ALL.get(i)?;
                    Some(ScoredLabel {
                        label: label.as_str().to_owned(),
                        score: Score::new(score),
                    })
                })
                .collect();
            Ok(Some((labels, head.version().to_owned())))
        }
    }
}

/// Tags the messages `ids` (new or edited since the cursor) in the
/// caller's transaction: one annotation event per message that says
/// something, and an empty one for a tagged message whose new text says
/// nothing. `read` is how far this pass read each room: a message edited
/// after that is left for the pass that reads its edit, when its stored
/// vector is the new text's (never a tag of new words from an old vector).
/// Returns the events to publish after the commit.
pub async fn tag(
    conn: &mut AsyncPgConnection,
    tagger: &Tagger,
    ids: &[i64],
    read: &HashMap<i64, i64>,
) -> Result<Vec<Appended>> {
    let rooms: Vec<i64> = read.keys().copied().collect();
    let latest = events::last_text_seqs(conn, &rooms, ids).await?;
    let found: Vec<ToTag> = messages::to_tag(conn, &rooms, ids)
        .await?
        .into_iter()
        .filter(ToTag::may_tag)
        .filter(|m| match (latest.get(&m.id), read.get(&m.room_id)) {
            (Some(text), Some(upto)) => text <= upto,
            _ => false,
        })
        .collect();
    if found.is_empty() {
        return Ok(Vec::new());
    }
    let found_ids: Vec<i64> = found.iter().map(|m| m.id).collect();
    let stored: HashMap<i64, Vec<f32>> =
        vectors::of_messages(conn, &rooms, &found_ids, ml::MODEL_ID)
            .await?
            .into_iter()
            .filter_map(|v| {
                let q = ml::Quantized::from_bytes(v.scale, &v.v).ok()?;
                Some((v.message_id, q.to_f32().to_vec()))
            })
            .collect();
    let tagged: std::collections::HashSet<i64> =
        annotations::annotated_among(conn, &rooms, &found_ids, EMOTION)
            .await?
            .into_iter()
            .collect();
    let mut by_room: BTreeMap<i64, Vec<EventDraft>> = BTreeMap::new();
    for m in &found {
        let vector = stored.get(&m.id).map(Vec::as_slice);
        if vector.is_none() && short_line(&m.body) == ShortLine::Model {
            // Words without a vector (none stored by this model): nothing
            // can be said of them, and an earlier tag stays.
            continue;
        }
        let labels = match labels_of(&tagger.head, &m.body, vector) {
            Ok(labels) => labels,
            Err(e) => {
                // One unreadable vector must not stall the follower.
                tracing::warn!(error = %e, message.id = m.id, "could not tag a message");
                continue;
            }
        };
        let (labels, model) = match labels {
            Some(found) => found,
            // Says nothing now: take back what its earlier text said.
            None if tagged.contains(&m.id) => (Vec::new(), RULES_MODEL.to_owned()),
            None => continue,
        };
        by_room.entry(m.room_id).or_default().push(EventDraft {
            user: tagger.bot.clone(),
            nonce: Nonce::parse(&format!("emotion-{}-{}", m.id, m.version()))?,
            change: Change::Annotate {
                id: m.id,
                kind: EMOTION.to_owned(),
                labels,
                model,
                text: String::new(),
            },
        });
    }
    append(conn, by_room).await
}

/// Takes back, in the caller's transaction, up to `limit` tags that their
/// author or their room's owner no longer allows (an empty annotation
/// each, so clients drop the marker, and the stored frames lose their
/// labels). Returns the events to publish.
pub async fn withdraw(
    conn: &mut AsyncPgConnection,
    tagger: &Tagger,
    limit: i64,
) -> Result<Vec<Appended>> {
    let authors = preferences::not_tagged(conn).await?;
    let closed = rooms::without_emotions(conn).await?;
    if authors.is_empty() && closed.is_empty() {
        return Ok(Vec::new());
    }
    let gone = annotations::withdrawn(conn, EMOTION, &authors, &closed, limit).await?;
    let mut by_room: BTreeMap<i64, Vec<EventDraft>> = BTreeMap::new();
    for w in gone {
        by_room.entry(w.room_id).or_default().push(EventDraft {
            user: tagger.bot.clone(),
            nonce: Nonce::parse(&format!("emotion-off-{}-{}", w.message_id, w.seq))?,
            change: Change::Annotate {
                id: w.message_id,
                kind: EMOTION.to_owned(),
                labels: Vec::new(),
                model: RULES_MODEL.to_owned(),
                text: String::new(),
            },
        });
    }
    let ids: Vec<i64> = by_room
        .values()
        .flatten()
        .filter_map(|d| match d.change {
            Change::Annotate { id, .. } => Some(id),
            _ => None,
        })
        .collect();
    let rooms: Vec<i64> = by_room.keys().copied().collect();
    let published = append(conn, by_room).await?;
    events::forget_annotation_labels(conn, &rooms, &ids, EMOTION).await?;
    Ok(published)
}
