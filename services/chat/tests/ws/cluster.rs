//! Three chat instances on a Redis Cluster of the test's own (3 masters, 3
//! replicas) while messages flow in rooms on every master: a master is
//! killed with SIGKILL, and another busy room's slot is moved.
//!
//! With the Postgres catch-up raised to 60 s, every message sent from 2 s
//! after the replica's promotion (or the slot's move) must reach the other
//! instances within 1 s: only live pub/sub can do that, so a broker whose
//! sharded subscriptions went silent fails here (the `redis` crate alone
//! leaves them silent for good). With the normal interval, and on a single
//! Redis killed and restarted, nothing is lost, duplicated or reordered.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::protocol::ServerFrame;
use test_support::RedisProcess;
use test_support::redis_cluster::RedisCluster;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::helpers::*;

/// Time between one room's sends.
const PACE: Duration = Duration::from_millis(60);
/// How late a message may arrive once the broker has recovered.
const LIVE_BOUND: Duration = Duration::from_secs(1);
/// How long after a promotion or a move the bound applies.
const RECOVERY: Duration = Duration::from_secs(2);
/// How long messages keep flowing after each event.
const AFTER_EVENT: Duration = Duration::from_secs(5);

/// A stored message: its seq and when the send that stored it was made.
#[derive(Clone, Copy, Debug)]
struct Sent {
    seq: i64,
    at: Instant,
}

/// A received message: its room, its seq, and when it arrived.
#[derive(Clone, Copy, Debug)]
struct Received {
    room: i64,
    seq: i64,
    at: Instant,
}

/// One room's sender, on its own connection, until `stop`: a message every
/// [`PACE`], each resent with the same nonce until it is stored.
fn start_sender(
    mut c: Client,
    room: i64,
    stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<Vec<Sent>> {
    tokio::spawn(async move {
        let mut sent = Vec::new();
        let mut i = 0u64;
        while !*stop.borrow() {
            i += 1;
            let nonce = format!("r{room}-{i}");
            let deadline = Instant::now() + Duration::from_secs(30);
            'attempts: loop {
                assert!(Instant::now() < deadline, "{nonce} was never stored");
                let at = Instant::now();
                c.say(room, &nonce, &nonce).await;
                loop {
                    match c.next().await {
                        Event::Frame(ServerFrame::Message(m)) if m.nonce == nonce => {
                            sent.push(Sent { seq: m.seq, at });
                            break 'attempts;
                        }
                        Event::Frame(ServerFrame::Error { code, .. }) => {
                            assert_eq!(code, "unavailable", "only the outage may refuse a send");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue 'attempts;
                        }
                        Event::Frame(_) => {}
                        Event::Closed(code) => panic!("sender closed with {code:?}"),
                    }
                }
            }
            tokio::time::sleep(PACE).await;
        }
        sent
    })
}

/// Records every message `c` receives until `stop`.
fn start_receiver(
    mut c: Client,
    got: Log,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        // Quiet rooms are not an error here: the checks say what was missed.
        while !*stop.borrow_and_update() {
            match c.next_within(Duration::from_millis(200)).await {
                Some(Event::Frame(ServerFrame::Message(m))) => got.lock().unwrap().push(Received {
                    room: m.room,
                    seq: m.seq,
                    at: Instant::now(),
                }),
                Some(Event::Frame(_)) | None => {}
                Some(Event::Closed(code)) => panic!("receiver closed with {code:?}"),
            }
        }
    })
}

/// What one receiver has got so far, shared with its task.
type Log = Arc<Mutex<Vec<Received>>>;

/// What a fault did, for the checks: from when the bound applies, in which rooms.
struct Fault {
    what: &'static str,
    bound_from: Instant,
}

/// A running flow: a sender per room on instance 0, and a receiver on each
/// of instances 1 and 2 joined to every room.
struct Flow {
    rooms: Vec<i64>,
    stop: watch::Sender<bool>,
    stop_reading: watch::Sender<bool>,
    senders: Vec<tokio::task::JoinHandle<Vec<Sent>>>,
    receivers: Vec<(Log, tokio::task::JoinHandle<()>)>,
}

impl Flow {
    async fn start(stack: &Stack, chats: &[ChatProcess], rooms: &[i64]) -> Self {
        let (stop, stopped) = watch::channel(false);
        let (stop_reading, reading_stopped) = watch::channel(false);
        let mut receivers = Vec::new();
        for (i, chat) in chats.iter().enumerate().skip(1) {
            let user = stack.user(&format!("reader{i}")).await;
            let mut c = connect(chat, &user).await;
            for &room in rooms {
                c.join(room, None).await;
            }
            let got = Arc::new(Mutex::new(Vec::new()));
            let task = start_receiver(c, got.clone(), reading_stopped.clone());
            receivers.push((got, task));
        }
        let mut senders = Vec::new();
        for (i, &room) in rooms.iter().enumerate() {
            let user = stack.user(&format!("writer{i}")).await;
            let mut c = connect(&chats[0], &user).await;
            c.join(room, None).await;
            senders.push(start_sender(c, room, stopped.clone()));
        }
        Self {
            rooms: rooms.to_vec(),
            stop,
            stop_reading,
            senders,
            receivers,
        }
    }

    /// Stops sending, waits until every receiver has every stored message
    /// (or `drain` passed), and returns what was sent and received.
    async fn finish(self, drain: Duration) -> (BTreeMap<i64, Vec<Sent>>, Vec<Vec<Received>>) {
        self.stop.send(true).unwrap();
        let mut sent = BTreeMap::new();
        for (room, task) in self.rooms.iter().zip(self.senders) {
            sent.insert(*room, task.await.unwrap());
        }
        let last: BTreeMap<i64, i64> = sent
            .iter()
            .map(|(room, s)| (*room, s.last().map_or(0, |s| s.seq)))
            .collect();
        let deadline = Instant::now() + drain;
        let has_all = |got: &[Received]| {
            last.iter().all(|(room, last)| {
                got.iter()
                    .filter(|r| r.room == *room)
                    .map(|r| r.seq)
                    .max()
                    .unwrap_or(0)
                    >= *last
            })
        };
        while Instant::now() < deadline
            && !self
                .receivers
                .iter()
                .all(|(got, _)| has_all(&got.lock().unwrap()))
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.stop_reading.send(true).unwrap();
        let mut received = Vec::new();
        for (got, task) in self.receivers {
            task.await.unwrap();
            received.push(got.lock().unwrap().clone());
        }
        (sent, received)
    }
}

/// Every receiver got every room's stored messages once each, in seq order.
fn assert_exactly_once_in_order(sent: &BTreeMap<i64, Vec<Sent>>, received: &[Vec<Received>]) {
    for (i, got) in received.iter().enumerate() {
        for (room, stored) in sent {
            let seqs: Vec<i64> = got
                .iter()
                .filter(|r| r.room == *room)
                .map(|r| r.seq)
                .collect();
            let last = stored.last().map_or(0, |s| s.seq);
            let first = stored.first().map_or(1, |s| s.seq);
            let expected: Vec<i64> = (first..=last).collect();
            assert!(!expected.is_empty(), "room {room} stored nothing");
            assert_eq!(
                seqs,
                expected,
                "receiver {i}, room {room}: lost, duplicated or reordered (got {} of {}, first differing at {:?}, last got {:?})",
                seqs.len(),
                expected.len(),
                seqs.iter().zip(&expected).position(|(a, b)| a != b),
                seqs.last()
            );
        }
    }
}

/// Every message of `room` sent from `fault.bound_from` on reached every
/// receiver within [`LIVE_BOUND`]; returns how many were checked.
fn assert_live_after(
    fault: &Fault,
    room: i64,
    sent: &BTreeMap<i64, Vec<Sent>>,
    received: &[Vec<Received>],
) -> usize {
    let mut checked = 0;
    for (i, got) in received.iter().enumerate() {
        for s in sent[&room].iter().filter(|s| s.at >= fault.bound_from) {
            let arrival = got
                .iter()
                .find(|r| r.room == room && r.seq == s.seq)
                .unwrap_or_else(|| {
                    panic!(
                        "{}: receiver {i} never got seq {} of room {room}",
                        fault.what, s.seq
                    )
                });
            let late = arrival.at.saturating_duration_since(s.at);
            assert!(
                late <= LIVE_BOUND,
                "{}: seq {} of room {room} reached receiver {i} after {late:?} (bound {LIVE_BOUND:?}): pub/sub did not recover",
                fault.what,
                s.seq
            );
            checked += 1;
        }
    }
    checked
}

/// Rooms of `stack` whose channels land on three different masters.
async fn rooms_on_three_masters(stack: &Stack, cluster: &RedisCluster) -> [i64; 3] {
    let owner = stack.user("owner").await;
    let mut by_master: BTreeMap<u16, i64> = BTreeMap::new();
    for i in 0..200 {
        let room = stack.room(&owner, &format!("room {i}")).await;
        let channel = common::fanout::room_channel(&stack.prefix, room);
        for (master, _) in cluster.group_by_master([channel]).await {
            by_master.entry(master).or_insert(room);
        }
        if by_master.len() == 3 {
            let rooms: Vec<i64> = by_master.values().copied().collect();
            return [rooms[0], rooms[1], rooms[2]];
        }
    }
    panic!("200 rooms and no three masters")
}

async fn chats(stack: &Stack, catch_up_secs: &str) -> Vec<ChatProcess> {
    let env = [("CATCH_UP_SECS", catch_up_secs), ("SEND_LIMIT", "100000")];
    vec![
        stack.chat_with(&env).await,
        stack.chat_with(&env).await,
        stack.chat_with(&env).await,
    ]
}

/// The failover and slot-move run on a 6-node cluster; returns the faults'
/// rooms and bounds with what was sent and received.
async fn cluster_run(
    catch_up_secs: &str,
) -> (
    Vec<(Fault, i64)>,
    BTreeMap<i64, Vec<Sent>>,
    Vec<Vec<Received>>,
    Vec<ChatProcess>,
) {
    let mut cluster = RedisCluster::start().await;
    let stack = Stack::with_cluster(&cluster.seeds()).await;
    let chats = chats(&stack, catch_up_secs).await;
    let [killed_room, moved_room, quiet_room] = rooms_on_three_masters(&stack, &cluster).await;
    let flow = Flow::start(&stack, &chats, &[killed_room, moved_room, quiet_room]).await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    let killed_channel = common::fanout::room_channel(&stack.prefix, killed_room);
    let slot = cluster.slot_of(&killed_channel).await;
    cluster.kill_master_of(&killed_channel).await;
    let promoted = cluster.wait_promoted(slot).await;
    tokio::time::sleep(AFTER_EVENT).await;

    let moved_channel = common::fanout::room_channel(&stack.prefix, moved_room);
    cluster.move_slot_of(&moved_channel).await;
    let moved = Instant::now();
    tokio::time::sleep(AFTER_EVENT).await;

    let (sent, received) = flow.finish(Duration::from_secs(15)).await;
    let faults = vec![
        (
            Fault {
                what: "after the master's failover",
                bound_from: Instant::from_std(promoted) + RECOVERY,
            },
            killed_room,
        ),
        (
            Fault {
                what: "after the slot's move",
                bound_from: moved + RECOVERY,
            },
            moved_room,
        ),
        (
            Fault {
                what: "in the room no fault touched",
                bound_from: moved + RECOVERY,
            },
            quiet_room,
        ),
    ];
    (faults, sent, received, chats)
}

#[tokio::test]
async fn after_a_failover_and_a_slot_move_messages_arrive_live_within_a_second() {
    // Catch-up from Postgres 60 s away: only pub/sub can deliver in time.
    let (faults, sent, received, chats) = cluster_run("60").await;
    for (fault, room) in &faults {
        let checked = assert_live_after(fault, *room, &sent, &received);
        assert!(
            checked >= 10,
            "{}: only {checked} messages to check",
            fault.what
        );
    }
    assert_exactly_once_in_order(&sent, &received);
    // The instances subscribed on the killed master rebuilt their subscriptions.
    for chat in &chats[1..] {
        let metrics = chat.metrics().await;
        let rebuilds = metric_value(&metrics, "parley_chat_pubsub_rebuilds_total");
        assert!(rebuilds >= 1.0, "no rebuild counted:\n{metrics}");
    }
}

#[tokio::test]
async fn a_failover_and_a_slot_move_lose_duplicate_and_reorder_nothing() {
    let (_, sent, received, _) = cluster_run("5").await;
    assert_exactly_once_in_order(&sent, &received);
}

#[tokio::test]
async fn the_same_flow_on_one_redis_killed_and_restarted_loses_nothing() {
    let mut redis = RedisProcess::start();
    let stack = Stack::with_redis(redis.url()).await;
    let chats = chats(&stack, "5").await;
    let owner = stack.user("owner").await;
    let mut rooms = Vec::new();
    for i in 0..3 {
        rooms.push(stack.room(&owner, &format!("room {i}")).await);
    }
    let flow = Flow::start(&stack, &chats, &rooms).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    redis.kill();
    tokio::time::sleep(Duration::from_secs(1)).await;
    redis.restart();
    let restarted = Instant::now();
    tokio::time::sleep(AFTER_EVENT).await;
    let (sent, received) = flow.finish(Duration::from_secs(15)).await;
    assert_exactly_once_in_order(&sent, &received);
    let fault = Fault {
        what: "after the restart",
        bound_from: restarted + RECOVERY,
    };
    for room in rooms {
        assert_live_after(&fault, room, &sent, &received);
    }
}

/// The value of an unlabelled metric in the text exposition.
fn metric_value(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or(0.0)
}

#[test]
fn bad_redis_settings_stop_chat_with_a_line_naming_them() {
    let cases: [(&[(&str, &str)], &str); 4] = [
        (
            &[("REDIS_CLUSTER_NODES", "redis://127.0.0.1:1,http://x")],
            "REDIS_CLUSTER_NODES",
        ),
        (
            &[
                ("REDIS_CLUSTER_NODES", "redis://127.0.0.1:1"),
                ("REDIS_URL", "redis://127.0.0.1:2"),
            ],
            "REDIS_URL",
        ),
        (
            &[
                ("REDIS_CLUSTER_NODES", "redis://127.0.0.1:1"),
                ("REDIS_KEY_PREFIX", "{one-slot}:"),
            ],
            "REDIS_KEY_PREFIX",
        ),
        (
            &[
                ("REDIS_CLUSTER_NODES", "redis://127.0.0.1:1"),
                ("REDIS_CLUSTER_CLASSIC_PUBSUB", "maybe"),
            ],
            "REDIS_CLUSTER_CLASSIC_PUBSUB",
        ),
    ];
    for (env, named) in cases {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_chat"))
            .env_clear()
            .env("DATABASE_URL", "postgres://127.0.0.1:1/x")
            .env("PUBLIC_ORIGIN", "http://127.0.0.1:1")
            .env(
                "TOKEN_VERIFYING_KEY",
                common::auth::keys::SigningKeyMaterial::generate()
                    .public()
                    .to_base64(),
            )
            .envs(env.iter().copied())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{env:?} started");
        assert!(
            stderr.contains(&format!("configuration error: {named}")),
            "{env:?}: {stderr}"
        );
    }
}
