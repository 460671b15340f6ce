//! Fan-out on a Redis Cluster costs one shard: what the event writer
//! announces goes out with `SPUBLISH`, which only the channel's master and
//! its replica carry, while classic `PUBLISH` (the benchmark's control)
//! crosses the cluster bus to every node. Counted from `CLUSTER INFO`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use common::config::{RedisTarget, Secret};
use common::fanout::{Announcer, room_channel};
use test_support::redis_cluster::RedisCluster;

/// Pub/sub messages each node received over the cluster bus, by port.
async fn bus_publishes(cluster: &RedisCluster) -> Vec<(u16, i64)> {
    // Let the bus deliver what was sent just before.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mut counts = Vec::new();
    for port in cluster.live_ports() {
        let client = redis::Client::open(cluster.url_of(port)).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let info: String = redis::cmd("CLUSTER")
            .arg("INFO")
            .query_async(&mut conn)
            .await
            .unwrap();
        let received = |field: &str| -> i64 {
            info.lines()
                .find_map(|l| l.strip_prefix(field)?.trim().parse().ok())
                .unwrap_or(0)
        };
        counts.push((
            port,
            received("cluster_stats_messages_publish_received:")
                + received("cluster_stats_messages_publishshard_received:"),
        ));
    }
    counts
}

async fn announce_100(cluster: &RedisCluster, classic_pubsub: bool, prefix: &str) {
    let target = RedisTarget::Cluster {
        seeds: Secret::new(cluster.seed_urls()),
        classic_pubsub,
    };
    let redis = common::redis_client::connect(&target).await.unwrap();
    let announcer = Announcer::new(redis, prefix.to_owned());
    for seq in 1..=100 {
        announcer
            .announce(&[(7, seq, r#"{"type":"message"}"#)], &[])
            .await
            .unwrap();
    }
}

/// How many nodes received bus messages between two counts.
fn nodes_reached(before: &[(u16, i64)], after: &[(u16, i64)]) -> usize {
    before
        .iter()
        .zip(after)
        .filter(|((_, b), (_, a))| a > b)
        .count()
}

#[tokio::test]
async fn a_room_message_costs_one_shard_and_classic_publish_costs_every_node() {
    let cluster = RedisCluster::start().await;
    let prefix = test_support::unique_redis_prefix();
    let owner = cluster
        .master_of_slot(cluster.slot_of(&room_channel(&prefix, 7)).await)
        .await;

    let before = bus_publishes(&cluster).await;
    announce_100(&cluster, false, &prefix).await;
    let sharded = bus_publishes(&cluster).await;
    // The owning master sends them to its replica only.
    assert_eq!(
        nodes_reached(&before, &sharded),
        1,
        "SPUBLISH reached more than the shard's replica: {before:?} -> {sharded:?} (owner {owner})"
    );

    announce_100(&cluster, true, &prefix).await;
    let classic = bus_publishes(&cluster).await;
    // Every other node of the cluster gets each classic PUBLISH.
    assert_eq!(
        nodes_reached(&sharded, &classic),
        5,
        "classic PUBLISH: {sharded:?} -> {classic:?}"
    );
}
