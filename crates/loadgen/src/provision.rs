//! Users, sessions, tokens and rooms made directly in the stack's database,
//! in a few set-based statements (10,000 of each in about a second), with
//! tokens signed by the stack's key as the website signs them. Counters the
//! benchmark reads from Postgres are here too.

use common::auth::keys::SigningKeyMaterial;
use common::auth::token::TokenIssuer;
use diesel::sql_types::{Array, BigInt, Text, Timestamptz};
use diesel::{QueryableByName, sql_query};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::Failure;

/// One user that can connect: its id, name and session token.
#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub token: String,
}

#[derive(QueryableByName)]
struct IdName {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct Sid {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: uuid::Uuid,
    #[diesel(sql_type = BigInt)]
    user_id: i64,
}

/// A short random tag naming this run's users and rooms.
pub fn run_tag() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_owned()
}

pub async fn connect() -> Result<AsyncPgConnection, Failure> {
    let url = common::config::required("DATABASE_URL")?;
    Ok(AsyncPgConnection::establish(&url).await?)
}

/// `n` users named `{prefix}-0..n` with one session and token each, in
/// index order. `password_hash` is stored as is (`!no-login` by default:
/// nobody can sign in with a password).
pub async fn users(
    conn: &mut AsyncPgConnection,
    prefix: &str,
    n: usize,
    password_hash: &str,
) -> Result<Vec<User>, Failure> {
    let key = SigningKeyMaterial::parse(
        "TOKEN_SIGNING_KEY",
        &common::config::required("TOKEN_SIGNING_KEY")?,
    )?;
    let issuer = TokenIssuer::new(&key);
    let now = chrono::Utc::now();
    let until = now + chrono::Duration::hours(6);
    let mut rows: Vec<IdName> = sql_query(
        "INSERT INTO users (username, email, password_hash) \
         SELECT $1 || '-' || g, $1 || '-' || g || '@load.invalid', $3 \
         FROM generate_series(0, $2 - 1) AS g RETURNING id, username AS name",
    )
    .bind::<Text, _>(prefix)
    .bind::<BigInt, _>(n as i64)
    .bind::<Text, _>(password_hash)
    .load(conn)
    .await?;
    rows.sort_by_key(|r| index_of(&r.name));
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let sids: Vec<Sid> = sql_query(
        "INSERT INTO sessions (id, user_id, created_at, expires_at) \
         SELECT gen_random_uuid(), u, now(), $2 FROM unnest($1::bigint[]) AS u RETURNING id, user_id",
    )
    .bind::<Array<BigInt>, _>(&ids)
    .bind::<Timestamptz, _>(until)
    .load(conn)
    .await?;
    let sid_of: std::collections::HashMap<i64, uuid::Uuid> =
        sids.into_iter().map(|s| (s.user_id, s.id)).collect();
    let mut users = Vec::with_capacity(rows.len());
    for r in rows {
        let sid = *sid_of.get(&r.id).ok_or("a user has no session")?;
        let token = issuer.issue(r.id, &r.name, sid, now, until)?.0;
        users.push(User {
            id: r.id,
            name: r.name,
            token,
        });
    }
    Ok(users)
}

/// `n` public rooms named `{prefix}-0..n` owned by `owner` (a member
/// then), ids in index order.
pub async fn rooms(
    conn: &mut AsyncPgConnection,
    prefix: &str,
    n: usize,
    owner: i64,
) -> Result<Vec<i64>, Failure> {
    // Each room with its counter (room_seqs), in one statement.
    let mut rows: Vec<IdName> = sql_query(
        "WITH r AS (INSERT INTO rooms (name, topic, owner_id) \
           SELECT $1 || '-' || g, 'load test', $3 FROM generate_series(0, $2 - 1) AS g \
           RETURNING id, name), \
         s AS (INSERT INTO room_seqs (room_id) SELECT id FROM r) \
         SELECT id, name FROM r",
    )
    .bind::<Text, _>(prefix)
    .bind::<BigInt, _>(n as i64)
    .bind::<BigInt, _>(owner)
    .load(conn)
    .await?;
    rows.sort_by_key(|r| index_of(&r.name));
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    sql_query(
        "INSERT INTO room_members (room_id, user_id, role) \
         SELECT r, $2, 'owner' FROM unnest($1::bigint[]) AS r ON CONFLICT DO NOTHING",
    )
    .bind::<Array<BigInt>, _>(&ids)
    .bind::<BigInt, _>(owner)
    .execute(conn)
    .await?;
    Ok(ids)
}

/// Messages a [`backlog`] stores per transaction.
const BACKLOG_BATCH: usize = 50;

/// The body of backlog message `k`: plain words (the renderer's fast
/// path), `len` bytes long.
fn backlog_body(k: usize, len: usize) -> String {
    let mut body = format!("Backlog message {k}:");
    while body.len() < len {
        body.push_str(" the quick brown fox jumps over the lazy dog,");
    }
    body.truncate(len);
    body.truncate(body.trim_end().len());
    body
}

/// Stores `n` messages by `author` in `room`, of `min..=max` bytes each,
/// through the one path of room events (`append_batch`, as the writer
/// stores a send, rendered and sequenced), without the send limit or a
/// socket; a few hundred take well under a second. Nobody is told: the
/// room's members read them as history or in a join's replay. Returns the
/// room's last seq.
pub async fn backlog(
    conn: &mut AsyncPgConnection,
    room: i64,
    author: &User,
    n: usize,
    (min, max): (usize, usize),
) -> Result<i64, Failure> {
    use common::domain::{MessageBody, Nonce};
    use common::store::events::{self, Change, EventDraft, Policy};

    let user = common::protocol::UserRef {
        id: author.id,
        name: author.name.clone(),
    };
    let nobody = std::collections::HashMap::new();
    let mut last = 0;
    for first in (0..n).step_by(BACKLOG_BATCH) {
        let drafts = (first..n.min(first + BACKLOG_BATCH))
            .map(|k| {
                let len = min + k * 7919 % (max.saturating_sub(min) + 1);
                let body = backlog_body(k, len);
                let html = common::markdown::render(&body, &nobody).html;
                Ok(EventDraft {
                    user: user.clone(),
                    nonce: Nonce::parse(&format!("backlog-{k}"))?,
                    change: Change::Message {
                        body: MessageBody::parse(&body)?,
                        html,
                        mentions: Vec::new(),
                        reply_to: None,
                        attachments: Vec::new(),
                    },
                })
            })
            .collect::<Result<Vec<_>, Failure>>()?;
        for appended in events::append_batch(conn, room, &drafts, &Policy::default()).await? {
            last = last.max(appended?.seq);
        }
    }
    Ok(last)
}

/// The number after the last `-` of a provisioned name.
fn index_of(name: &str) -> u64 {
    name.rsplit('-')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(u64::MAX)
}

#[derive(QueryableByName, Debug, Clone, Copy, Default)]
pub struct Counters {
    /// Sum of the rooms' `last_seq`: events committed in them.
    #[diesel(sql_type = BigInt)]
    pub seqs: i64,
    /// Transactions committed in the database (pg_stat_database; its
    /// statistics lag by up to about a second).
    #[diesel(sql_type = BigInt)]
    pub commits: i64,
    /// Index and sequential scans of `room_events` (pg_stat_user_tables,
    /// summed over its partitions).
    #[diesel(sql_type = BigInt)]
    pub event_scans: i64,
    /// Calls of statements reading `room_events` after a seq (history,
    /// catch-up), when pg_stat_statements is installed; else -1.
    #[diesel(sql_type = BigInt)]
    pub history_calls: i64,
}

impl Counters {
    pub fn since(&self, before: &Counters) -> Counters {
        Counters {
            seqs: self.seqs - before.seqs,
            commits: self.commits - before.commits,
            event_scans: self.event_scans - before.event_scans,
            history_calls: if self.history_calls < 0 || before.history_calls < 0 {
                -1
            } else {
                self.history_calls - before.history_calls
            },
        }
    }
}

pub async fn has_pg_stat_statements(conn: &mut AsyncPgConnection) -> bool {
    #[derive(QueryableByName)]
    struct One {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let q =
        sql_query("SELECT count(*) AS n FROM pg_extension WHERE extname = 'pg_stat_statements'");
    matches!(q.load::<One>(conn).await.as_deref(), Ok([One { n: 1 }]))
}

pub async fn counters(
    conn: &mut AsyncPgConnection,
    rooms: &[i64],
    statements: bool,
) -> Result<Counters, Failure> {
    let history = if statements {
        "(SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements \
          WHERE query ILIKE '%from \"room_events\"%' AND query ILIKE '%\"seq\" > %')"
    } else {
        "-1::bigint"
    };
    let q = format!(
        "SELECT (SELECT coalesce(sum(last_seq), 0)::bigint FROM room_seqs WHERE room_id = ANY($1)) AS seqs, \
         (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()) AS commits, \
         (SELECT coalesce(sum(coalesce(idx_scan, 0) + coalesce(seq_scan, 0)), 0)::bigint \
           FROM pg_stat_user_tables \
           WHERE relname = 'room_events' OR relname LIKE 'room\\_events\\_p%') AS event_scans, \
         {history} AS history_calls"
    );
    let mut rows: Vec<Counters> = sql_query(q)
        .bind::<Array<BigInt>, _>(rooms)
        .load(conn)
        .await?;
    rows.pop().ok_or_else(|| "no counters".into())
}

/// Each room's `last_seq`.
pub async fn last_seqs(
    conn: &mut AsyncPgConnection,
    rooms: &[i64],
) -> Result<std::collections::HashMap<i64, i64>, Failure> {
    Ok(common::store::room_seqs::last_seqs(conn, rooms)
        .await?
        .into_iter()
        .collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn backlog_bodies_have_their_length_and_are_valid() {
        for (k, len) in [(0, 2000), (7, 3999), (123, 4000)] {
            let body = super::backlog_body(k, len);
            assert!(
                body.len() <= len && body.len() + 1 >= len,
                "{k}: {}",
                body.len()
            );
            assert!(common::domain::MessageBody::parse(&body).is_ok());
        }
    }

    #[test]
    fn names_sort_by_their_index() {
        let mut names = vec!["load-ab-10", "load-ab-9", "load-ab-0"];
        names.sort_by_key(|n| super::index_of(n));
        assert_eq!(names, vec!["load-ab-0", "load-ab-9", "load-ab-10"]);
    }
}
