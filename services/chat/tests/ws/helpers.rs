//! A chat stack for one test: a database, a Redis prefix, a token key, and
//! `chat` processes; users with tokens; a protocol.md client.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::auth::keys::SigningKeyMaterial;
use common::auth::token::TokenIssuer;
use common::domain::{Email, MessageBody, Nonce, RoomName, Topic, Username};
use common::protocol::{ChatMessage, ClientFrame, ServerFrame, UserRef};
use common::store::events::{self, Appended, Change, EventDraft, Policy};
use common::store::{rooms, sessions, users};
use futures_util::{SinkExt, StreamExt};
use test_support::TestDb;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The site's origin as the chat processes are configured.
pub const ORIGIN: &str = "http://127.0.0.1:18080";
/// How long any wait in these tests may take.
pub const WAIT: Duration = Duration::from_secs(10);

pub struct Stack {
    pub db: Arc<TestDb>,
    pub prefix: String,
    /// How chat processes find Redis (`REDIS_URL` or `REDIS_CLUSTER_NODES`).
    pub redis_env: Vec<(&'static str, String)>,
    key: SigningKeyMaterial,
    publisher: common::redis_client::RedisConn,
}

pub struct User {
    pub id: i64,
    pub name: String,
    pub token: String,
    pub session: uuid::Uuid,
}

/// A `chat` process; killed when dropped.
pub struct ChatProcess {
    pub port: u16,
    child: Option<Child>,
}

impl Stack {
    /// A stack on the tests' Redis (a cluster when `TEST_REDIS_CLUSTER_NODES` is set).
    pub async fn new() -> Self {
        Self::with_db(TestDb::migrated().await).await
    }

    /// A stack on the one Redis at `redis_url` (a test's own, to stop and restart).
    pub async fn with_redis(redis_url: String) -> Self {
        let publisher = common::redis_client::RedisConn::Single(
            common::redis_client::connect_single(&redis_url)
                .await
                .unwrap(),
        );
        Self::on(
            TestDb::migrated().await,
            vec![("REDIS_URL", redis_url)],
            publisher,
        )
        .await
    }

    /// A stack on a database of the test's own (a `PgReplica`'s primary)
    /// and the tests' Redis.
    pub async fn with_db(db: TestDb) -> Self {
        Self::on(
            db,
            test_support::redis_env(),
            test_support::redis_conn().await,
        )
        .await
    }

    /// A stack on the Redis Cluster whose nodes are `seeds`.
    pub async fn with_cluster(seeds: &str) -> Self {
        let target = common::config::RedisTarget::Cluster {
            seeds: common::config::Secret::new(seeds.split(',').map(str::to_owned).collect()),
            classic_pubsub: false,
        };
        let publisher = common::redis_client::connect(&target).await.unwrap();
        Self::on(
            TestDb::migrated().await,
            vec![("REDIS_CLUSTER_NODES", seeds.to_owned())],
            publisher,
        )
        .await
    }

    async fn on(
        db: TestDb,
        redis_env: Vec<(&'static str, String)>,
        publisher: common::redis_client::RedisConn,
    ) -> Self {
        Self {
            db: Arc::new(db),
            prefix: test_support::unique_redis_prefix(),
            redis_env,
            key: SigningKeyMaterial::generate(),
            publisher,
        }
    }

    /// Starts a chat instance with extra environment.
    pub async fn chat_with(&self, extra: &[(&str, &str)]) -> ChatProcess {
        let port = test_support::free_port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_chat"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", self.db.url())
            .env("DATABASE_POOL_SIZE", "4")
            .envs(self.redis_env.iter().map(|(k, v)| (*k, v)))
            .env("REDIS_KEY_PREFIX", &self.prefix)
            .env("PUBLIC_ORIGIN", ORIGIN)
            .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
            .env("TOKEN_VERIFYING_KEY", self.key.public().to_base64())
            .env(
                "RUST_LOG",
                std::env::var("CHAT_TEST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::null());
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("start chat");
        let process = ChatProcess {
            port,
            child: Some(child),
        };
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Ok(res) = reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await
                && res.status() == 200
            {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "chat did not start");
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
        process
    }

    pub async fn chat(&self) -> ChatProcess {
        self.chat_with(&[]).await
    }

    /// A user with an open session and a token valid for an hour.
    pub async fn user(&self, name: &str) -> User {
        self.user_with_token_life(name, 3600).await
    }

    pub async fn user_with_token_life(&self, name: &str, seconds: i64) -> User {
        let mut conn = self.db.connect().await;
        let email = format!("{name}@example.com");
        let user = users::insert(
            &mut conn,
            &Username::parse(name).unwrap(),
            &Email::parse(&email).unwrap(),
            "x",
        )
        .await
        .unwrap();
        let now = chrono::Utc::now();
        let session = sessions::create(
            &mut conn,
            user.id,
            now + chrono::Duration::days(1),
            &Default::default(),
        )
        .await
        .unwrap();
        let (token, _) = TokenIssuer::new(&self.key)
            .issue(
                user.id,
                name,
                session.id,
                now,
                now + chrono::Duration::seconds(seconds),
            )
            .unwrap();
        User {
            id: user.id,
            name: name.into(),
            token,
            session: session.id,
        }
    }

    /// A new user alone in a new room of theirs, connected to `chat` and
    /// joined: the start of most single-connection tests.
    pub async fn joined_alone(
        &self,
        chat: &ChatProcess,
        name: &str,
        room: &str,
    ) -> (User, i64, Client) {
        let user = self.user(name).await;
        let room = self.room(&user, room).await;
        let mut client = connect(chat, &user).await;
        client.join(room, None).await;
        (user, room, client)
    }
    pub async fn room(&self, owner: &User, name: &str) -> i64 {
        let mut conn = self.db.connect().await;
        rooms::insert(
            &mut conn,
            &RoomName::parse(name).unwrap(),
            &Topic::parse("").unwrap(),
            common::access::Visibility::Public,
            owner.id,
        )
        .await
        .unwrap()
        .id
    }

    /// Appends a change to a room's log as the writer would, without
    /// publishing it: what a sender that died between commit and publish
    /// leaves behind.
    pub async fn append_unpublished(&self, user: &User, room: i64, change: Change) -> Appended {
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        self.append_unpublished_as(user, room, change, &nonce).await
    }

    /// [`Self::append_unpublished`] under a nonce of the test's choosing.
    pub async fn append_unpublished_as(
        &self,
        user: &User,
        room: i64,
        change: Change,
        nonce: &str,
    ) -> Appended {
        let mut conn = self.db.connect().await;
        let draft = EventDraft {
            user: UserRef {
                id: user.id,
                name: user.name.clone(),
            },
            nonce: Nonce::parse(nonce).unwrap(),
            change,
        };
        events::append_batch(&mut conn, room, &[draft], &Policy::default())
            .await
            .unwrap()
            .remove(0)
            .unwrap()
    }

    /// A plain-text message, rendered as the send path would.
    pub fn text(body: &str) -> Change {
        Change::Message {
            body: MessageBody::parse(body).unwrap(),
            html: format!("<p>{body}</p>"),
            mentions: Vec::new(),
            reply_to: None,
            attachments: Vec::new(),
        }
    }

    /// Stores a message without publishing it.
    pub async fn store_unpublished(&self, user: &User, room: i64, body: &str) -> i64 {
        self.append_unpublished(user, room, Self::text(body))
            .await
            .seq
    }

    /// Stores and publishes like another service would (no rate limit).
    pub async fn store_and_publish(&self, user: &User, room: i64, body: &str) -> i64 {
        let appended = self.append_unpublished(user, room, Self::text(body)).await;
        common::fanout::publish_sequenced(
            &self.publisher,
            &self.prefix,
            room,
            appended.seq,
            &appended.json,
        )
        .await
        .unwrap();
        appended.seq
    }

    pub async fn revoke(&self, user: &User) {
        sessions::revoke(&mut self.db.connect().await, user.session)
            .await
            .unwrap();
    }

    /// A Redis connection that publishes as the website would.
    pub fn publisher(&self) -> common::redis_client::RedisConn {
        self.publisher.clone()
    }

    /// The room's last seq: how many events it holds.
    pub async fn stored_count(&self, room: i64) -> i64 {
        rooms::find(&mut self.db.connect().await, room)
            .await
            .unwrap()
            .room
            .last_seq
    }
}

impl ChatProcess {
    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}/ws", self.port)
    }

    /// SIGKILL: no goodbye to anyone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, as an orchestrator stops a container.
    pub fn terminate(&mut self) -> Child {
        let child = self.child.take().expect("running");
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        child
    }

    /// The process's resident memory, in KiB.
    pub fn rss_kib(&self) -> u64 {
        let pid = self.child.as_ref().expect("running").id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// Waits up to `within` for `/metrics` to contain `line`.
    pub async fn await_metric(&self, line: &str, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        while tokio::time::Instant::now() < deadline {
            if self.metrics().await.contains(line) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    pub async fn metrics(&self) -> String {
        reqwest::get(format!("http://127.0.0.1:{}/metrics", self.port))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

impl Drop for ChatProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// How a client authenticates its upgrade.
pub enum Auth<'a> {
    Bearer(&'a str),
    Cookie {
        token: &'a str,
        origin: Option<&'a str>,
    },
    Raw(Vec<(&'static str, String)>),
}

pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// Opens a socket, or returns the HTTP status of the refusal.
pub async fn try_connect(url: &str, auth: Auth<'_>) -> Result<Client, u16> {
    let mut req = url.into_client_request().unwrap();
    let headers = req.headers_mut();
    match auth {
        Auth::Bearer(t) => {
            headers.insert("authorization", format!("Bearer {t}").parse().unwrap());
        }
        Auth::Cookie { token, origin } => {
            headers.insert("cookie", format!("parley_session={token}").parse().unwrap());
            if let Some(o) = origin {
                headers.insert("origin", o.parse().unwrap());
            }
        }
        Auth::Raw(list) => {
            for (k, v) in list {
                headers.insert(k, v.parse().unwrap());
            }
        }
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(Client { ws }),
        Err(tungstenite::Error::Http(res)) => Err(res.status().as_u16()),
        Err(e) => panic!("connect failed: {e}"),
    }
}

pub async fn connect(chat: &ChatProcess, user: &User) -> Client {
    try_connect(&chat.ws_url(), Auth::Bearer(&user.token))
        .await
        .unwrap_or_else(|s| panic!("refused with {s}"))
}

/// What the server did next.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // a test's frames, one at a time
pub enum Event {
    Frame(ServerFrame),
    Closed(Option<u16>),
}

impl Client {
    pub async fn send(&mut self, frame: &ClientFrame) {
        self.ws.send(Message::text(frame.to_json())).await.unwrap();
    }

    pub async fn send_raw(&mut self, message: Message) {
        let _ = self.ws.send(message).await;
    }

    /// The next frame or close, within `WAIT`.
    pub async fn next(&mut self) -> Event {
        self.next_within(WAIT)
            .await
            .expect("nothing arrived in time")
    }

    pub async fn next_within(&mut self, wait: Duration) -> Option<Event> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let msg = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .ok()?;
            match msg {
                None => return Some(Event::Closed(None)),
                Some(Err(_)) => return Some(Event::Closed(None)),
                Some(Ok(Message::Text(t))) => {
                    let frame = serde_json::from_str(t.as_str())
                        .unwrap_or_else(|e| panic!("bad frame {t}: {e}"));
                    return Some(Event::Frame(frame));
                }
                Some(Ok(Message::Close(c))) => {
                    return Some(Event::Closed(c.map(|c| u16::from(c.code))));
                }
                Some(Ok(_)) => continue,
            }
        }
    }

    pub async fn frame(&mut self) -> ServerFrame {
        match self.next().await {
            Event::Frame(f) => f,
            Event::Closed(c) => panic!("closed with {c:?} while waiting for a frame"),
        }
    }

    /// Waits for the close and returns its code.
    pub async fn closed(&mut self) -> Option<u16> {
        loop {
            match self.next().await {
                Event::Closed(code) => return code,
                Event::Frame(_) => continue,
            }
        }
    }

    /// Joins and returns the replayed messages and the `joined` frame.
    pub async fn join(&mut self, room: i64, since: Option<i64>) -> (Vec<ChatMessage>, ServerFrame) {
        self.send(&ClientFrame::Join { room, since }).await;
        let mut replay = Vec::new();
        loop {
            match self.frame().await {
                ServerFrame::Message(m) => replay.push(m),
                joined @ ServerFrame::Joined { .. } => return (replay, joined),
                ServerFrame::Presence { .. } | ServerFrame::Unread { .. } => {}
                other => panic!("unexpected {other:?} while joining"),
            }
        }
    }

    /// Joins and returns every replayed event (any kind) and `joined`.
    pub async fn join_all(
        &mut self,
        room: i64,
        since: Option<i64>,
    ) -> (Vec<ServerFrame>, ServerFrame) {
        self.send(&ClientFrame::Join { room, since }).await;
        let mut replay = Vec::new();
        loop {
            match self.frame().await {
                joined @ ServerFrame::Joined { .. } => return (replay, joined),
                f if f.sequenced().is_some() => replay.push(f),
                _ => {}
            }
        }
    }

    /// The next `n` sequenced frames (any kind of room event), skipping
    /// ephemeral ones; an `error` frame fails the test.
    pub async fn sequenced(&mut self, n: usize) -> Vec<ServerFrame> {
        let mut got = Vec::with_capacity(n);
        while got.len() < n {
            match self.frame().await {
                f if f.sequenced().is_some() => got.push(f),
                e @ ServerFrame::Error { .. } => panic!("expected a room event, got {e:?}"),
                _ => {}
            }
        }
        got
    }

    /// Reads `unread` frames of `room` until one satisfies `done`, and
    /// returns it; other frames are skipped.
    pub async fn unread_where(
        &mut self,
        room: i64,
        done: impl Fn(&ServerFrame) -> bool,
    ) -> ServerFrame {
        loop {
            let f = self.frame().await;
            if matches!(f, ServerFrame::Unread { room: r, .. } if r == room) && done(&f) {
                return f;
            }
        }
    }

    /// The next `n` messages, skipping everything else; an `error` fails.
    pub async fn messages(&mut self, n: usize) -> Vec<ChatMessage> {
        let mut got = Vec::with_capacity(n);
        while got.len() < n {
            match self.frame().await {
                ServerFrame::Message(m) => got.push(m),
                e @ ServerFrame::Error { .. } => panic!("expected a message, got {e:?}"),
                _ => {}
            }
        }
        got
    }

    /// The next `message` frame, skipping presence and typing.
    pub async fn message(&mut self) -> ChatMessage {
        loop {
            match self.frame().await {
                ServerFrame::Message(m) => return m,
                ServerFrame::Presence { .. }
                | ServerFrame::Typing { .. }
                | ServerFrame::Unread { .. } => {}
                other => panic!("expected a message, got {other:?}"),
            }
        }
    }

    /// The next `error` frame's code and ref, skipping presence and typing.
    pub async fn error(&mut self) -> (String, Option<String>) {
        loop {
            match self.frame().await {
                ServerFrame::Error {
                    code, reference, ..
                } => return (code, reference),
                ServerFrame::Presence { .. }
                | ServerFrame::Typing { .. }
                | ServerFrame::Unread { .. } => {}
                other => panic!("expected an error, got {other:?}"),
            }
        }
    }

    /// Asserts no `message` frame arrives within `wait` (other frames may).
    pub async fn assert_no_more_messages(&mut self, wait: Duration) {
        let deadline = tokio::time::Instant::now() + wait;
        while let Some(event) = self
            .next_within(deadline - tokio::time::Instant::now())
            .await
        {
            if let Event::Frame(ServerFrame::Message(m)) = event {
                panic!("unexpected message {m:?}");
            }
        }
    }

    pub async fn say(&mut self, room: i64, body: &str, nonce: &str) {
        self.send(&ClientFrame::Send {
            room,
            body: body.into(),
            nonce: nonce.into(),
            reply_to: None,
            attachments: Vec::new(),
        })
        .await;
    }
}

/// Kills `redis` now and restarts it after `down` on another thread; join
/// the handle to have it back.
pub fn outage(
    mut redis: test_support::RedisProcess,
    down: Duration,
) -> std::thread::JoinHandle<test_support::RedisProcess> {
    redis.kill();
    std::thread::spawn(move || {
        std::thread::sleep(down);
        redis.restart();
        redis
    })
}

/// Asserts messages are exactly `first..=last` of one room, in order.
pub fn assert_complete(got: &[ChatMessage], first: i64, last: i64) {
    let seqs: Vec<i64> = got.iter().map(|m| m.seq).collect();
    assert_eq!(
        seqs,
        (first..=last).collect::<Vec<_>>(),
        "in order, no gap, no duplicate"
    );
}
