//! `/rooms/{id}`: a room's conversation (grouped by author and day, reply
//! quotes, edits, reactions, the "new messages" line), the send form with an
//! optional reply, and the room's own forms: join, leave, mark read and, for
//! its owner, delete. Everything works without JavaScript; `room.js` makes it
//! live. The forms that act on one message are in `message.rs`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use askama::Template;
use chrono::{DateTime, Utc};
use std::collections::HashMap;

use common::access;
use common::preferences::NotifyLevel;
use common::protocol::{ChatMessage, ReplyRef, UserRef, rfc3339_millis};
use common::store::events::{EXCERPT_CHARS, Policy};
use common::store::rooms::RoomView;
use common::store::users::Person;
use serde::Deserialize;

use super::attachments::AttachmentView;
use super::{TokenForm, at_message, new_nonce, nonce_or_new, refusal, see_other};
use crate::actions;
use crate::actions::Actor;
use crate::actions::messages::ReadMark;
use crate::error::{Error, PageError, PageResult};
use crate::state::AppState;
use crate::web::layout::PageContext;
use crate::web::page::Page;
use crate::web::render::{FieldErrors, render};
use crate::web::times::Times;

/// Messages rendered per page.
const PAGE_SIZE: i64 = 50;
/// Consecutive messages of one author within this many seconds share one
/// header (name and time).
const GROUP_SECS: i64 = 5 * 60;

/// The names of the people a page shows, by id: what their display name is
/// now (frames and stored messages carry the username only).
#[derive(Default)]
pub struct Names(HashMap<i64, Person>);

impl Names {
    /// The names of the people with these ids (one query).
    pub async fn load(state: &AppState, ids: &[i64]) -> common::Result<Self> {
        Ok(Self(actions::profiles::people(state, ids).await?))
    }

    /// The name to show for `user`: their display name, else their
    /// username (also for someone not loaded).
    pub fn shown(&self, user: &UserRef) -> String {
        self.0
            .get(&user.id)
            .map_or(user.name.as_str(), Person::shown_name)
            .to_owned()
    }

    /// The name to show for the person `id` whose username is `username`.
    pub fn shown_by_id(&self, id: &i64, username: &str) -> String {
        self.0
            .get(id)
            .map_or(username, Person::shown_name)
            .to_owned()
    }

    /// The page's people for its script, as JSON `{id: {"username", "name"}}`
    /// (the template escapes it into an attribute).
    pub fn to_json(&self) -> String {
        let map: serde_json::Map<String, serde_json::Value> = self
            .0
            .values()
            .map(|p| {
                (
                    p.id.to_string(),
                    serde_json::json!({"username": p.username, "name": p.shown_name()}),
                )
            })
            .collect();
        serde_json::Value::Object(map).to_string()
    }
}

/// The message a reply answers, as a quote shows it.
pub struct Quote {
    /// The answered message's id (the script updates the quote when it
    /// changes).
    pub id: i64,
    /// Where the answered message is on the page (`#m{seq}`).
    pub seq: i64,
    /// Who wrote it, as pages name them.
    pub author: String,
    /// Their username (shown on hover).
    pub username: String,
    /// Their id.
    pub author_id: i64,
    /// A plain-text excerpt; empty once deleted.
    pub text: String,
    /// The answered message was deleted.
    pub deleted: bool,
}

impl Quote {
    /// The quote a reply carries, naming its author as `names` do.
    pub fn new(r: &ReplyRef, names: &Names) -> Self {
        Self {
            id: r.id,
            seq: r.seq,
            author: names.shown(&r.user),
            username: r.user.name.clone(),
            author_id: r.user.id,
            text: r.excerpt.clone(),
            deleted: r.deleted,
        }
    }

    /// The quote of a whole message (the reply being written).
    pub fn of(m: &ChatMessage, names: &Names) -> Self {
        Self {
            id: m.id,
            seq: m.seq,
            author: names.shown(&m.user),
            username: m.user.name.clone(),
            author_id: m.user.id,
            text: if m.deleted {
                String::new()
            } else {
                common::markdown::quote_of(&m.body, EXCERPT_CHARS)
            },
            deleted: m.deleted,
        }
    }
}

/// The ids of everyone `messages` name: authors and the authors they quote.
pub fn people_in(messages: &[ChatMessage]) -> Vec<i64> {
    let mut ids: Vec<i64> = messages
        .iter()
        .flat_map(|m| std::iter::once(m.user.id).chain(m.reply_to.as_ref().map(|r| r.user.id)))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// One emoji's reactions under a message, as a toggle button.
pub struct Chip {
    /// The emoji.
    pub emoji: String,
    /// How many reacted with it.
    pub count: i64,
    /// Whether the viewer is one of them (the button takes it back).
    pub me: bool,
    /// The toggle form's idempotency key.
    pub nonce: String,
}

/// A date divider: the first message of a day starts with it.
pub struct Day {
    /// `YYYY-MM-DD` (the viewer's zone), for the `<time>` element and the script.
    pub date: String,
    /// Like "Saturday, 21 November 2026".
    pub label: String,
}

/// An act of moderation as the page shows it, between messages.
pub struct NoticeLine {
    /// Its place in the room's log.
    pub seq: i64,
    /// "ann muted bob for 1 h (until …)".
    pub text: String,
    /// RFC 3339, UTC.
    pub at: String,
    /// The time of day in the viewer's zone and clock.
    pub time_short: String,
}

/// A message as the page shows it.
pub struct Line {
    /// The acts of moderation between the message before and this one.
    pub notices_before: Vec<NoticeLine>,
    /// Its place in the room's log (the anchor `#m{seq}`).
    pub seq: i64,
    /// The global message id (the forms' paths).
    pub id: i64,
    /// Who wrote it, as pages name them (the display name, else the username).
    pub author: String,
    /// Their username: the profile's address, the avatar, the hover text.
    pub username: String,
    /// Their id.
    pub author_id: i64,
    /// The viewer blocked the author: the message shows collapsed.
    pub blocked: bool,
    /// Whether the viewer wrote it.
    pub mine: bool,
    /// Sanitized by `common::markdown` when stored: safe to include as is.
    pub html: String,
    /// Deleted: the text is gone.
    pub deleted: bool,
    /// RFC 3339, UTC, for `<time datetime>`.
    pub sent_at: String,
    /// The time of day in the viewer's zone and clock (the script writes
    /// it again with the same ones).
    pub time_short: String,
    /// Date and time in the viewer's zone, for the title.
    pub time_long: String,
    /// When it was last edited, RFC 3339 and as a title.
    pub edited: Option<(String, String)>,
    /// The message it answers.
    pub reply: Option<Quote>,
    /// Its reactions.
    pub chips: Vec<Chip>,
    /// Its emotion marker, when its tag has a strongest emotion.
    pub mood: Option<MoodMark>,
    /// The day divider before it, if it starts a day.
    pub day: Option<Day>,
    /// Same author as the message before, shortly after: no header.
    pub continued: bool,
    /// The first message the viewer has not read: the "new messages" line.
    pub first_unread: bool,
    /// The viewer may edit it (their own, within the edit window).
    pub can_edit: bool,
    /// The viewer may delete it (their own, or they moderate the room).
    pub can_delete: bool,
    /// It asks the assistant, which has not answered it (yet): where that
    /// stands.
    pub assistant: Option<AssistantLine>,
    /// Its files (none once deleted).
    pub attachments: Vec<AttachmentView>,
    /// A voice message's transcript, once the worker has made it.
    pub transcript: Option<String>,
}

/// What the room page's mood panel shows: the mix of the newest tagged
/// messages, and a link to the whole mood.
struct MoodPanel {
    /// The emotion most of them show (its emoji and name), neutral aside.
    dominant: Option<(&'static str, &'static str)>,
    shares: Vec<super::mood::Share>,
    /// How many messages the mix counts.
    window: i64,
}

/// A message's emotion marker: its strongest emotion's emoji, with every
/// label's score for hover and focus.
pub struct MoodMark {
    /// Its protocol name (`joy`), for styles and the script.
    pub emotion: &'static str,
    /// What shows.
    pub emoji: &'static str,
    /// "Joy 91% · Surprise 12%".
    pub scores: String,
}

impl MoodMark {
    /// The marker of a message's emotion tag, if it shows one.
    pub fn of(annotations: &[common::protocol::Annotation]) -> Option<Self> {
        use common::emotion::{Emotion, describe, marker};
        let tag = annotations
            .iter()
            .find(|a| a.kind == common::store::annotations::EMOTION)?;
        let top: Emotion = marker(&tag.labels)?;
        Some(Self {
            emotion: top.as_str(),
            emoji: top.emoji()?,
            scores: describe(&tag.labels),
        })
    }
}

/// Under a question the assistant has not answered: that it is answering
/// (with Reload and Stop), or why it will not.
pub struct AssistantLine {
    /// The job's id, for the script's live updates.
    pub job: i64,
    /// Still answering.
    pub pending: bool,
    /// Where it stands, for people.
    pub text: &'static str,
    /// The viewer may stop it (the asker, or a moderator).
    pub can_stop: bool,
}

/// What the viewer may do and has read, for building the lines.
struct Viewer<'a> {
    actor: &'a Actor,
    /// Deletes anyone's message (the owner or a moderator).
    moderates: bool,
    read_before: Option<i64>,
    policy: Policy,
    now: DateTime<Utc>,
    names: &'a Names,
    /// The people the viewer blocked.
    blocked: &'a [i64],
    /// The viewer's zone and clock.
    times: Times,
    /// The assistant's jobs of the page's questions.
    jobs: &'a [common::store::assistant::JobView],
    /// The room is a direct conversation.
    is_dm: bool,
}

impl Viewer<'_> {
    /// Where the assistant's answer to message `id` stands, when it asks
    /// the assistant and is not answered (a stopped or cancelled job with
    /// nothing to say shows nothing).
    fn assistant_line(&self, id: i64) -> Option<AssistantLine> {
        use common::store::assistant::State;
        let job = self.jobs.iter().find(|j| j.question_id == id)?;
        let state = State::parse(&job.state);
        let text = actions::assistant::describe(state, &job.code, self.is_dm);
        (!text.is_empty()).then(|| AssistantLine {
            job: job.id,
            pending: !state.is_final(),
            text,
            can_stop: !state.is_final() && (job.asker_id == self.actor.user_id || self.moderates),
        })
    }
}

/// The page's lines from messages oldest first: grouped by author and day
/// (in the viewer's zone, as the script regroups them), with the "new
/// messages" line before the first unread message of someone else.
fn lines(
    messages: &[ChatMessage],
    notices: &mut std::iter::Peekable<std::vec::IntoIter<NoticeLine>>,
    viewer: &Viewer<'_>,
) -> Vec<Line> {
    let mut out: Vec<Line> = Vec::with_capacity(messages.len());
    let mut previous: Option<&ChatMessage> = None;
    let mut unread_placed = false;
    for m in messages {
        let mut notices_before = Vec::new();
        while let Some(n) = notices.next_if(|n| n.seq < m.seq) {
            notices_before.push(n);
        }
        let mine = m.user.id == viewer.actor.user_id;
        let first_unread =
            !unread_placed && !mine && !m.deleted && viewer.read_before.is_some_and(|r| m.seq > r);
        unread_placed |= first_unread;
        let times = &viewer.times;
        let new_day = previous.is_none_or(|p| !times.same_day(&p.sent_at, &m.sent_at));
        let continued = !new_day
            && !first_unread
            && notices_before.is_empty()
            && previous.is_some_and(|p| {
                p.user.id == m.user.id && (m.sent_at - p.sent_at).num_seconds() <= GROUP_SECS
            });
        out.push(Line {
            notices_before,
            seq: m.seq,
            id: m.id,
            author: viewer.names.shown(&m.user),
            username: m.user.name.clone(),
            author_id: m.user.id,
            blocked: viewer.blocked.contains(&m.user.id),
            mine,
            html: m.html.clone(),
            deleted: m.deleted,
            sent_at: rfc3339_millis::format(&m.sent_at),
            time_short: times.time(&m.sent_at),
            time_long: times.date_time(&m.sent_at),
            edited: m
                .edited_at
                .filter(|_| !m.deleted)
                .map(|t| (rfc3339_millis::format(&t), times.date_time(&t))),
            reply: m.reply_to.as_ref().map(|r| Quote::new(r, viewer.names)),
            chips: m
                .reactions
                .iter()
                .map(|r| Chip {
                    emoji: r.emoji.clone(),
                    count: r.count,
                    me: r.me,
                    nonce: new_nonce(),
                })
                .collect(),
            mood: MoodMark::of(&m.annotations),
            day: new_day.then(|| Day {
                date: times.day(&m.sent_at),
                label: times.day_label(&m.sent_at),
            }),
            continued,
            assistant: if m.deleted {
                None
            } else {
                viewer.assistant_line(m.id)
            },
            attachments: m.attachments.iter().map(AttachmentView::of).collect(),
            transcript: super::attachments::transcript(&m.annotations),
            first_unread,
            can_edit: mine && !m.deleted && viewer.policy.editable(m.sent_at, viewer.now),
            can_delete: !m.deleted && (mine || viewer.moderates),
        });
        previous = Some(m);
    }
    out
}

/// The banner that says how much is new and jumps to it.
struct UnreadBanner {
    /// "3 new messages", "50+ new messages".
    label: String,
    /// `#unread` when the line is on this page, else the older page it is on.
    href: String,
}

/// The reply being written: the message it answers.
struct ReplyDraft {
    id: i64,
    quote: Quote,
}

#[derive(Template)]
#[template(path = "room.html")]
struct RoomPage {
    ctx: PageContext,
    room: RoomView,
    /// What the viewer calls the room: its name, or a DM's other people.
    title: String,
    /// A direct conversation: no topic, owner, join or leave.
    is_dm: bool,
    /// A DM's other people (their avatars and profiles head the page).
    dm_people: Vec<Person>,
    /// The viewer's private chat with the assistant: every message asks
    /// it; renamed and deleted here, no members or moderation.
    is_chat: bool,
    /// The mood panel; `None` in a chat, or with tags off or hidden.
    mood: Option<MoodPanel>,
    /// The score a live tag's strongest emotion needs for a marker.
    mood_min: f32,
    /// The rename form's name: as typed after a refusal, else the chat's.
    chat_name: String,
    /// The rename form opens (its name was refused).
    renaming: bool,
    is_owner: bool,
    is_member: bool,
    /// The viewer keeps order here (the owner or a moderator).
    moderates: bool,
    /// Members only (a private room).
    private: bool,
    /// Muted here: until when, in the viewer's zone ("" for "until lifted").
    muted: Option<String>,
    lines: Vec<Line>,
    /// Acts of moderation after the page's last message.
    notices_after: Vec<NoticeLine>,
    /// Link to the page of older messages, if any.
    older: Option<String>,
    /// Whether this shows an older page rather than the newest messages.
    historic: bool,
    /// The newest seq rendered: the page's script joins with `since` = this.
    last_seq: i64,
    /// The viewer's read mark before this page (-1: not a member).
    read_before: i64,
    unread: Option<UnreadBanner>,
    /// An older page with unread messages offers to mark them read.
    offer_mark_read: bool,
    body: String,
    nonce: String,
    reply: Option<ReplyDraft>,
    errors: FieldErrors,
    /// A problem with a form that has no field (join, leave, mark read).
    problem: Option<String>,
    my_id: i64,
    edit_window_secs: i64,
    /// The picker's emoji, space-separated, for the script.
    emoji: String,
    /// The room owner's name as pages show it.
    owner_shown: Option<String>,
    /// The people the page names, for the script: `{id: {username, name}}`.
    people_json: String,
    /// The ids of the people the viewer blocked, space-separated, for the
    /// script (it collapses their live messages too).
    blocked_ids: String,
    /// The viewer's own notification level for this room (`None`: their
    /// default).
    notify_level: Option<NotifyLevel>,
    /// The upload limits, for the composer's script: files per message,
    /// bytes per file, seconds of a voice message.
    max_files: usize,
    max_bytes: u64,
    voice_max_secs: u32,
}

impl RoomPage {
    /// Slow mode's interval in words ("30 s").
    fn slow_mode_label(&self) -> String {
        super::notice::span(i64::from(self.room.room.slow_mode_secs))
    }

    /// The room as notifications name it: `#name`, or a DM's people.
    fn label(&self) -> String {
        if self.is_dm || self.is_chat {
            self.title.clone()
        } else {
            format!("#{}", self.title)
        }
    }

    /// The notification level that applies here, as the script reads it.
    fn notify_effective(&self) -> &'static str {
        self.notify_level
            .unwrap_or(self.ctx.prefs.notifications.default_level)
            .as_str()
    }

    /// The room's notification choices: value, label, selected.
    fn notify_choices(&self) -> Vec<(&'static str, String, bool)> {
        let default = self.ctx.prefs.notifications.default_level;
        let mut out = vec![(
            "",
            format!("Default ({})", default.as_str()),
            self.notify_level.is_none(),
        )];
        out.extend(NotifyLevel::ALL.iter().map(|l| {
            (
                l.as_str(),
                level_label(*l).to_owned(),
                self.notify_level == Some(*l),
            )
        }));
        out
    }
}

/// A notification level in words.
fn level_label(level: NotifyLevel) -> &'static str {
    match level {
        NotifyLevel::All => "All messages",
        NotifyLevel::Mentions => "Mentions only",
        NotifyLevel::Nothing => "Nothing",
    }
}

/// Which page of the room: the newest messages or those before a seq, and
/// the message a reply answers.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RoomQuery {
    before: Option<i64>,
    /// Show the history around this seq (a search hit, a link to `#m{seq}`).
    at: Option<i64>,
    reply_to: Option<i64>,
}

/// The send form as posted; missing fields read as empty, so the page can say what is missing rather than refuse the post.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SendForm {
    body: String,
    nonce: String,
    /// The id of the message this answers; empty for none.
    reply_to: String,
    csrf_token: String,
}

/// The room's notification form: `level` is `all`, `mentions`, `nothing`,
/// or empty for the viewer's default.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NotifyForm {
    level: String,
    csrf_token: String,
}

/// The mark-read form: read up to `seq` (the room's last seq on the page).
/// `back` is `catch-up` on the catch-up view, which it returns to; any
/// other value returns to the room.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ReadForm {
    seq: i64,
    back: String,
    csrf_token: String,
}

/// What the page shows in its forms: the composer's text and reply, and the
/// problems of the form just posted.
struct Draft {
    body: String,
    nonce: String,
    reply_to: Option<i64>,
    errors: FieldErrors,
    problem: Option<String>,
    /// A chat's new name as typed, refused.
    chat_name: Option<String>,
}

impl Draft {
    fn fresh(reply_to: Option<i64>) -> Self {
        Self {
            body: String::new(),
            nonce: new_nonce(),
            reply_to,
            errors: FieldErrors::default(),
            problem: None,
            chat_name: None,
        }
    }

    fn problem(problem: String) -> Self {
        Self {
            problem: Some(problem),
            ..Self::fresh(None)
        }
    }
}

async fn room_page(
    page: &Page,
    state: &AppState,
    room_id: i64,
    before: Option<i64>,
    draft: Draft,
    status: StatusCode,
) -> PageResult<HttpResponse> {
    let user = page.require_user()?;
    let mut history =
        actions::messages::history(state, user, room_id, before, PAGE_SIZE, ReadMark::Advance)
            .await?;
    let replied = match draft.reply_to {
        Some(id) => actions::messages::find(state, user, room_id, id)
            .await
            .ok()
            .filter(|m| !m.deleted),
        None => None,
    };
    let mut ids = people_in(&history.messages);
    for n in &history.notices {
        ids.push(n.by.id);
        ids.extend(n.target.as_ref().map(|t| t.id));
    }
    ids.extend(history.room.room.owner_id);
    ids.extend(replied.as_ref().map(|m| m.user.id));
    ids.push(user.user_id);
    let names = Names::load(state, &ids).await?;
    let blocked = actions::profiles::blocked_ids(state, user).await?;
    let reply = replied.map(|m| ReplyDraft {
        id: m.id,
        quote: Quote::of(&m, &names),
    });
    let owner_shown = history
        .room
        .room
        .owner_id
        .zip(history.room.owner_name.clone())
        .map(|(id, name)| names.shown(&UserRef { id, name }));
    let is_owner = history.room.is_owned_by(user.user_id);
    let now = Utc::now();
    let moderates = access::may_moderate(&history.facts, &history.standing, now).is_ok();
    let times = page.times(state).await;
    let muted = history.standing.mute_at(now).map(|until| {
        if access::is_forever(until) {
            String::new()
        } else {
            super::notice::until_short(&times, &until)
        }
    });
    let mut notices = std::mem::take(&mut history.notices)
        .into_iter()
        .map(|n| NoticeLine {
            seq: n.seq,
            text: super::notice::describe(&n, &names, &times),
            at: rfc3339_millis::format(&n.at),
            time_short: times.time(&n.at),
        })
        .collect::<Vec<_>>()
        .into_iter()
        .peekable();
    let oldest = history.messages.last().map_or(0, |m| m.seq);
    let older = (oldest > 1).then(|| format!("/rooms/{room_id}?before={oldest}"));
    let messages: Vec<ChatMessage> = history.messages.into_iter().rev().collect();
    let policy = Policy::from_config(&state.config.common);
    let viewer = Viewer {
        actor: user,
        moderates,
        read_before: history.read_before,
        policy,
        now: Utc::now(),
        names: &names,
        blocked: &blocked,
        times,
        jobs: &history.jobs,
        is_dm: history.room.is_dm(),
    };
    let lines = lines(&messages, &mut notices, &viewer);
    let notices_after: Vec<NoticeLine> = notices.collect();
    let last_seq = history.room.room.last_seq;
    let unread = history
        .read_before
        .and_then(|mark| unread_banner(room_id, mark, &lines, older.is_some()));
    let ctx = page.context_with_sidebar(state, Some(room_id)).await;
    let ctx_prefs = ctx.prefs;
    let notify_level = actions::preferences::room_level(state, user, room_id).await?;
    let title = history.room.title_for(user.user_id);
    let dm_people: Vec<Person> = history
        .room
        .others(user.user_id)
        .into_iter()
        .cloned()
        .collect();
    let is_chat = history.facts.kind == access::Kind::Assistant;
    let mood = if is_chat || !history.room.room.emotions || !ctx_prefs.show_emotions {
        None
    } else {
        let (mix, window) = actions::mood::now(state, room_id).await?;
        Some(MoodPanel {
            dominant: actions::mood::dominant(&mix).map(|e| (e.emoji().unwrap_or(""), e.title())),
            shares: super::mood::shares(&mix, window),
            window,
        })
    };
    let view = RoomPage {
        mood,
        mood_min: common::emotion::MARKER_MIN_SCORE,
        ctx,
        title,
        is_dm: history.room.is_dm(),
        dm_people,
        is_chat,
        renaming: draft.chat_name.is_some(),
        chat_name: draft
            .chat_name
            .unwrap_or_else(|| history.room.room.name.clone()),
        is_owner,
        is_member: history.read_before.is_some(),
        moderates,
        private: !history.facts.is_public(),
        muted,
        notices_after,
        older,
        historic: before.is_some(),
        offer_mark_read: before.is_some() && history.read_before.is_some_and(|r| r < last_seq),
        lines,
        last_seq,
        read_before: history.read_before.unwrap_or(-1),
        unread,
        room: history.room,
        body: draft.body,
        nonce: draft.nonce,
        reply,
        errors: draft.errors,
        problem: draft.problem,
        my_id: user.user_id,
        edit_window_secs: policy.edit_window.num_seconds(),
        emoji: actions::personal::picker_emoji(state, user, &ctx_prefs)
            .await
            .join(" "),
        owner_shown,
        people_json: names.to_json(),
        blocked_ids: blocked
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(" "),
        notify_level,
        max_files: state.config.uploads.max_files,
        max_bytes: state.config.uploads.max_bytes,
        voice_max_secs: state.config.uploads.audio.max_secs,
    };
    Ok(render(status, &view)?)
}

/// The banner for messages after the read mark `mark`, if there are any
/// (`more_above`: older messages exist that are not on this page).
fn unread_banner(
    room_id: i64,
    mark: i64,
    lines: &[Line],
    more_above: bool,
) -> Option<UnreadBanner> {
    let count = lines
        .iter()
        .filter(|l| l.seq > mark && !l.mine && !l.deleted)
        .count();
    let oldest = lines.first().map_or(0, |l| l.seq);
    // The read mark is above this page: the first unread message may be too.
    let above = more_above && mark + 1 < oldest;
    if count == 0 && !above {
        return None;
    }
    let label = match (count, above) {
        (n, true) => format!("{n}+ new messages"),
        (1, false) => "1 new message".to_owned(),
        (n, false) => format!("{n} new messages"),
    };
    let href = if above {
        // The older page whose top is the read mark: seqs below `before`.
        format!("/rooms/{room_id}?before={}#unread", mark + PAGE_SIZE)
    } else {
        "#unread".to_owned()
    };
    Some(UnreadBanner { label, href })
}

/// `GET /rooms/{id}`: the room's newest messages (or an older page), which
/// marks them read; `?reply_to=` starts a reply. The script goes live. An
/// open is a use of the room for personalization.
#[get("/rooms/{id}")]
pub async fn show(
    page: Page,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    query: web::Query<RoomQuery>,
) -> PageResult<HttpResponse> {
    let room_id = path.into_inner();
    let shown = room_page(
        &page,
        &state,
        room_id,
        query
            .before
            .or(query.at.map(|at| at.saturating_add(PAGE_SIZE / 2 + 1)))
            .filter(|b| *b > 0),
        Draft::fresh(query.reply_to),
        StatusCode::OK,
    )
    .await?;
    // Shown: a use of the room (personalization; a member's, throttled).
    if let Some(user) = &page.user {
        actions::personal::record_use(&state, &user.actor, room_id).await;
    }
    Ok(shown)
}

/// `POST /rooms/{id}/messages`: sends without JavaScript (optionally a reply
/// to `reply_to`), stored and fanned out like a WebSocket send; 303 to the
/// message, or the page again with the problem beside the text.
#[post("/rooms/{id}/messages")]
pub async fn send(
    page: Page,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: web::Form<SendForm>,
) -> PageResult<HttpResponse> {
    page.require_user()?;
    page.verify_csrf(&form.csrf_token)?;
    let form = form.into_inner();
    send_draft(page, &state, path.into_inner(), form, Vec::new()).await
}

/// Whether a request's body is a multipart form (a send with files).
fn is_multipart(ctx: &actix_web::guard::GuardContext<'_>) -> bool {
    ctx.head()
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"))
}

/// `POST /rooms/{id}/messages` as `multipart/form-data`: the same form with
/// files (the composer's file input, which works without JavaScript). The
/// files are uploaded, then sent with the text in one message; a refused
/// file keeps the text and says why.
#[post("/rooms/{id}/messages", guard = "is_multipart")]
pub async fn send_with_files(
    page: Page,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    req: actix_web::HttpRequest,
    payload: web::Payload,
) -> PageResult<HttpResponse> {
    page.require_user()?;
    let room_id = path.into_inner();
    let body = crate::api::attachments::multipart(&req, payload).map_err(PageError)?;
    let incoming = crate::uploads::staging::read(body, &state.config.uploads)
        .await
        .map_err(PageError)?;
    page.verify_csrf(incoming.field(crate::web::csrf::FIELD))?;
    let form = SendForm {
        body: incoming.field("body").to_owned(),
        nonce: incoming.field("nonce").to_owned(),
        reply_to: incoming.field("reply_to").to_owned(),
        csrf_token: String::new(),
    };
    let user = page.require_user()?;
    if incoming.files.is_empty() {
        return send_draft(page, &state, room_id, form, Vec::new()).await;
    }
    match actions::uploads::upload(&state, user, room_id, incoming.files).await {
        Ok(uploaded) => {
            let ids = uploaded.into_iter().map(|a| a.id).collect();
            send_draft(page, &state, room_id, form, ids).await
        }
        Err(Error::File { message, .. }) => {
            let mut errors = FieldErrors::default();
            errors.add(
                "body",
                format!("{message} Your text is kept; choose the file again."),
            );
            let draft = Draft {
                body: form.body,
                nonce: nonce_or_new(&form.nonce),
                reply_to: form.reply_to.trim().parse::<i64>().ok(),
                errors,
                problem: None,
                chat_name: None,
            };
            room_page(&page, &state, room_id, None, draft, StatusCode::BAD_REQUEST).await
        }
        Err(Error::Core(common::Error::NotFound(common::error::Entity::Room))) => {
            Err(common::Error::NotFound(common::error::Entity::Room).into())
        }
        Err(Error::Core(e)) => {
            let (status, message) = refusal(e)?;
            let mut errors = FieldErrors::default();
            errors.add("body", message);
            let draft = Draft {
                body: form.body,
                nonce: nonce_or_new(&form.nonce),
                reply_to: form.reply_to.trim().parse::<i64>().ok(),
                errors,
                problem: None,
                chat_name: None,
            };
            room_page(&page, &state, room_id, None, draft, status).await
        }
        Err(e) => Err(PageError(e)),
    }
}

/// Sends a checked form's message with `attachments` (uploaded already):
/// 303 to it, or the page again with the problem beside the text.
async fn send_draft(
    page: Page,
    state: &AppState,
    room_id: i64,
    form: SendForm,
    attachments: Vec<String>,
) -> PageResult<HttpResponse> {
    let user = page.require_user()?;
    let nonce = nonce_or_new(&form.nonce);
    let reply_to = form.reply_to.trim().parse::<i64>().ok();
    let mut errors = FieldErrors::default();
    let sent = actions::messages::send(
        state,
        user,
        room_id,
        &form.body,
        &nonce,
        reply_to,
        &attachments,
    )
    .await;
    let status = match sent {
        Ok(stored) => return Ok(see_other(&at_message(room_id, stored.seq))),
        Err(common::Error::NotFound(common::error::Entity::Room)) => {
            return Err(common::Error::NotFound(common::error::Entity::Room).into());
        }
        Err(e) if e.field() == Some("body") => {
            errors.absorb(e)?;
            StatusCode::BAD_REQUEST
        }
        Err(common::Error::NotFound(common::error::Entity::Message)) => {
            errors.add(
                "body",
                "The message you are replying to was deleted. Your text is kept: send it without the reply.",
            );
            StatusCode::NOT_FOUND
        }
        Err(e) => {
            let (status, message) = refusal(e)?;
            errors.add("body", message);
            status
        }
    };
    let draft = Draft {
        body: form.body,
        nonce,
        reply_to,
        errors,
        problem: None,
        chat_name: None,
    };
    room_page(&page, state, room_id, None, draft, status).await
}

/// `POST /rooms/{id}/delete`: the owner deletes the room (others: 403).
#[post("/rooms/{id}/delete")]
pub async fn delete(
    page: Page,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: web::Form<TokenForm>,
) -> PageResult<HttpResponse> {
    let user = page.require_user()?;
    page.verify_csrf(&form.csrf_token)?;
    actions::rooms::delete(&state, user, path.into_inner()).await?;
    page.set_notice("room_deleted");
    Ok(see_other("/rooms"))
}

/// `POST /rooms/{id}/join`: become a member of a public room (it joins the
/// sidebar); joining twice changes nothing. 303 back to the room.
#[post("/rooms/{id}/join")]
pub async fn join(
    page: Page,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: web::Form<TokenForm>,
) -> PageResult<HttpResponse> {
    let user = page.require_user()?;
    page.verify_csrf(&form.csrf_token)?;
    let room_id = path.into_inner();
    actions::rooms::join(&state, user, room_id).await?;
    page.set_notice("joined");
    Ok(see_other(&format!("/rooms/{room_id}")))
}

/// `POST /rooms/{id}/leave`: end the membership (the room leaves the
/// sidebar); the owner cannot leave (409), said on the room page.
#[post("/rooms/{id}/leave")]
pub async fn leave(
    page: Page,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: web::Form<TokenForm>,
) -> PageResult<HttpResponse> {
    let user = page.require_user()?;
    page.verify_csrf(&form.csrf_token)?;
    let room_id = path.into_inner();
    match actions::rooms::leave(&state, user, room_id).await {
        Ok(()) => {
            page.set_notice("left");
            Ok(see_other(&format!("/rooms/{room_id}")))
        }
        // The owner, or a muted member: said above the conversation.
        Err(
            e @ (common::Error::Conflict { .. }
            | common::Error::Denied {
                code: common::error::Code::Muted,
                ..
            }),
        ) => problem_page(&page, &state, room_id, e).await,
        Err(e) => Err(e.into()),
    }
}

/// A chat's page again with its rename form open, the name as typed and
/// its problem beside it (422).
pub(super) async fn rename_problem(
    page: &Page,
    state: &AppState,
    room_id: i64,
    typed: String,
    errors: FieldErrors,
) -> PageResult<HttpResponse> {
    let draft = Draft {
        errors,
        chat_name: Some(typed),
        ..Draft::fresh(None)
    };
    room_page(
        page,
        state,
        room_id,
        None,
        draft,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

/// The room page again with a refusal of a form that has no field (leave,
/// mark read) said above the conversation.
async fn problem_page(
    page: &Page,
    state: &AppState,
    room_id: i64,
    e: common::Error,
) -> PageResult<HttpResponse> {
    let (status, message) = refusal(e)?;
    room_page(page, state, room_id, None, Draft::problem(message), status).await
}

/// `POST /rooms/{id}/read`: moves the read mark forward to `seq` (a mark
/// already past it is fine); 303 back to the room, or to the catch-up view
/// it was sent from.
#[post("/rooms/{id}/read")]
pub async fn read(
    page: Page,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: web::Form<ReadForm>,
) -> PageResult<HttpResponse> {
    let user = page.require_user()?;
    page.verify_csrf(&form.csrf_token)?;
    let room_id = path.into_inner();
    match actions::messages::mark_read(&state, user, room_id, form.seq).await {
        Ok(_) | Err(common::Error::Conflict { .. }) => {
            page.set_notice("marked_read");
            if form.back == "catch-up" {
                return Ok(see_other(&format!("/catch-up#room-{room_id}")));
            }
            Ok(see_other(&format!("/rooms/{room_id}")))
        }
        Err(e @ (common::Error::Invalid { .. } | common::Error::Forbidden(_))) => {
            problem_page(&page, &state, room_id, e).await
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /rooms/{id}/notifications`: sets (or clears) the viewer's
/// notification level for the room; 303 back to the room.
#[post("/rooms/{id}/notifications")]
pub async fn notifications(
    page: Page,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: web::Form<NotifyForm>,
) -> PageResult<HttpResponse> {
    let user = page.require_user()?;
    page.verify_csrf(&form.csrf_token)?;
    let room_id = path.into_inner();
    let level = match form.level.trim() {
        "" => Ok(None),
        other => common::preferences::parse_level(&serde_json::Value::String(other.to_owned())),
    };
    let saved = match level {
        Ok(level) => actions::preferences::set_room_level(&state, user, room_id, level).await,
        Err(e) => Err(e),
    };
    match saved {
        Ok(()) => {
            page.set_notice("notifications_saved");
            Ok(see_other(&format!("/rooms/{room_id}")))
        }
        Err(e @ common::Error::Invalid { .. }) => problem_page(&page, &state, room_id, e).await,
        Err(e) => Err(e.into()),
    }
}
