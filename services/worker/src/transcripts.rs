//! Transcripts of voice messages (issue 13): the `transcripts` follower
//! reads each new message of every room's log; for one with audio
//! attachments it reads their bytes from the blob store, decodes them to
//! 16-kHz mono (`media::decode_mono_16k`) and runs Whisper
//! (`ml::Transcriber`) on a blocking thread, then appends a `transcript`
//! annotation (protocol.md) as the bot: the texts of the message's audio
//! files, joined by a blank line.
//!
//! The slow part runs before the follower's transaction, which then only
//! appends and moves the cursor: no transaction stays open while the CPU
//! listens. The nonce is the message's (`transcript-{id}`) and a message
//! with a transcript is skipped, so a restart transcribes nothing twice.
//! A message deleted before its turn has no attachments left, and one
//! deleted meanwhile refuses the annotation: neither gets one. Audio that
//! cannot be read or decoded (uploads are checked, so it should not
//! happen) is logged and skipped; silence gives no annotation.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use common::domain::Nonce;
use common::error::{Error, Result};
use common::protocol::UserRef;
use common::store::annotations::{self, TRANSCRIPT};
use common::store::attachments::{self, Stored, Variant};
use common::store::events::{Change, EventDraft};
use diesel_async::AsyncPgConnection;

use crate::annotate::Appended;
use crate::metrics::Metrics;

/// What transcribes: the model, where the bytes are, and who appends.
pub struct Scribe {
    pub transcriber: Arc<ml::Transcriber>,
    pub files: files::Files,
    /// The bot: annotations are the server's, appended under its account.
    pub bot: UserRef,
    /// The longest audio decoded.
    pub audio: media::AudioLimits,
}

/// A message's transcript, made and waiting to be appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heard {
    pub room_id: i64,
    pub message_id: i64,
    pub text: String,
}

/// Transcribes the audio of the messages `ids` (of the rooms `rooms`)
/// that have none yet, in
/// order, outside any transaction. Fails only when the store or the
/// database does (the pass is tried again); a file that cannot be heard
/// is skipped.
pub async fn transcribe(
    conn: &mut AsyncPgConnection,
    scribe: &Scribe,
    metrics: &Metrics,
    rooms: &[i64],
    ids: &[i64],
) -> Result<Vec<Heard>> {
    let audio = attachments::audio_of_messages(conn, rooms, ids).await?;
    if audio.is_empty() {
        return Ok(Vec::new());
    }
    let mut messages: Vec<i64> = audio.iter().map(|(id, _)| *id).collect();
    messages.dedup();
    let done: HashSet<i64> = annotations::annotated_among(conn, rooms, &messages, TRANSCRIPT)
        .await?
        .into_iter()
        .collect();
    // Each message's audio files, in the message's order.
    let mut by_message: BTreeMap<i64, Vec<Stored>> = BTreeMap::new();
    for (id, stored) in audio {
        if !done.contains(&id) {
            by_message.entry(id).or_default().push(stored);
        }
    }
    let mut heard = Vec::new();
    for (message_id, files) in by_message {
        let mut texts = Vec::new();
        let mut room_id = 0;
        for stored in &files {
            room_id = stored.room_id;
            if let Some(text) = hear(scribe, metrics, message_id, stored).await?
                && !text.is_empty()
            {
                texts.push(text);
            }
        }
        if !texts.is_empty() {
            heard.push(Heard {
                room_id,
                message_id,
                text: texts.join("\n\n"),
            });
        }
    }
    Ok(heard)
}

/// The annotation drafts of `heard` by `bot`, by room.
pub fn drafts(bot: &UserRef, heard: &[Heard]) -> Result<BTreeMap<i64, Vec<EventDraft>>> {
    let mut by_room: BTreeMap<i64, Vec<EventDraft>> = BTreeMap::new();
    for h in heard {
        by_room.entry(h.room_id).or_default().push(EventDraft {
            user: bot.clone(),
            nonce: Nonce::parse(&format!("transcript-{}", h.message_id))?,
            change: Change::Annotate {
                id: h.message_id,
                kind: TRANSCRIPT.to_owned(),
                labels: Vec::new(),
                model: ml::WHISPER_MODEL_NAME.to_owned(),
                text: h.text.clone(),
            },
        });
    }
    Ok(by_room)
}

/// Appends the transcripts in the caller's transaction; returns the events
/// to publish once it commits (a message deleted meanwhile gets none).
pub async fn append(
    conn: &mut AsyncPgConnection,
    scribe: &Scribe,
    metrics: &Metrics,
    heard: &[Heard],
) -> Result<Vec<Appended>> {
    let appended = crate::annotate::append(conn, drafts(&scribe.bot, heard)?).await?;
    metrics.transcripts.inc_by(appended.len() as u64);
    Ok(appended)
}

/// Why an audio file was not heard.
enum Unheard {
    /// The file is not audio the decoder takes (or is too long).
    Media(media::MediaError),
    /// The model refused the samples.
    Model(ml::MlError),
}

/// The text spoken in one stored audio file; `None` when it cannot be
/// heard (logged): gone from the store, or not decodable.
async fn hear(
    scribe: &Scribe,
    metrics: &Metrics,
    message_id: i64,
    stored: &Stored,
) -> Result<Option<String>> {
    let (blob, _) = stored.variant(Variant::Original)?;
    let staged = tempfile::NamedTempFile::new()
        .map_err(|e| Error::internal_from("staging a voice message", e))?
        .into_temp_path();
    match scribe.files.copy_to(&blob, &staged).await {
        Ok(()) => {}
        Err(files::FilesError::NotFound) => {
            // Swept: its message was deleted since.
            tracing::info!(message.id = message_id, "a voice message's file is gone");
            metrics.transcripts_skipped.inc();
            return Ok(None);
        }
        Err(files::FilesError::Staging(e)) => {
            return Err(Error::internal_from("staging a voice message", e));
        }
        Err(e) => return Err(Error::unavailable_from("reading a voice message", e)),
    }
    let started = Instant::now();
    let transcriber = scribe.transcriber.clone();
    let limits = scribe.audio.clone();
    let outcome = tokio::task::spawn_blocking(move || -> Result<(String, f64), Unheard> {
        let pcm = media::decode_mono_16k(&staged, &limits).map_err(Unheard::Media)?;
        let secs = pcm.len() as f64 / f64::from(media::WHISPER_RATE);
        let transcript = transcriber.transcribe(&pcm).map_err(Unheard::Model)?;
        Ok((transcript.text, secs))
    })
    .await
    .map_err(|e| Error::internal_from("the transcription thread", e))?;
    metrics
        .transcribe_seconds
        .inc_by(started.elapsed().as_secs_f64());
    match outcome {
        Ok((text, secs)) => {
            metrics.audio_seconds.inc_by(secs);
            tracing::debug!(
                message.id = message_id,
                audio_secs = secs,
                took_ms = started.elapsed().as_millis() as u64,
                "transcribed a voice message"
            );
            Ok(Some(text.trim().to_owned()))
        }
        Err(Unheard::Media(e)) => {
            tracing::warn!(error = %e, message.id = message_id, attachment = %stored.token, "a voice message could not be decoded; no transcript");
            metrics.transcripts_skipped.inc();
            Ok(None)
        }
        Err(Unheard::Model(e)) => {
            tracing::warn!(error = %e, message.id = message_id, attachment = %stored.token, "a voice message could not be transcribed; no transcript");
            metrics.transcripts_skipped.inc();
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transcript_is_the_bots_annotation_with_a_nonce_per_message() {
        let heard = [
            Heard {
                room_id: 2,
                message_id: 9,
                text: "hello".into(),
            },
            Heard {
                room_id: 1,
                message_id: 7,
                text: "one\n\ntwo".into(),
            },
        ];
        let bot = UserRef {
            id: 1,
            name: "assistant".into(),
        };
        let by_room = match drafts(&bot, &heard) {
            Ok(d) => d,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(by_room.keys().copied().collect::<Vec<_>>(), vec![1, 2]);
        let d = &by_room[&1][0];
        assert_eq!(d.nonce.as_str(), "transcript-7");
        assert_eq!(d.user, bot);
        match &d.change {
            Change::Annotate {
                id,
                kind,
                labels,
                text,
                model,
            } => {
                assert_eq!(
                    (*id, kind.as_str(), text.as_str()),
                    (7, TRANSCRIPT, "one\n\ntwo")
                );
                assert!(labels.is_empty());
                assert_eq!(model, ml::WHISPER_MODEL_NAME);
            }
            other => panic!("{other:?}"),
        }
    }
}
