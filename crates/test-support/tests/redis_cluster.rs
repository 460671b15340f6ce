//! The Redis Cluster fixture does what the failover tests rely on: it
//! starts a working cluster, a killed master's replica takes over, and a
//! moved slot changes owner with its keys. Each test runs its own cluster.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use redis::AsyncCommands;
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use test_support::redis_cluster::RedisCluster;

/// A client of the whole cluster, as the product would build one.
async fn client(cluster: &RedisCluster) -> ClusterConnection {
    ClusterClientBuilder::new(cluster.seed_urls())
        .connection_timeout(Duration::from_secs(2))
        .response_timeout(Duration::from_secs(2))
        .build()
        .unwrap()
        .get_async_connection()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_started_cluster_has_three_masters_and_serves_keys_through_its_seeds() {
    let cluster = RedisCluster::start().await;
    assert_eq!(cluster.live_ports().len(), 6);
    let masters = cluster.masters().await;
    assert_eq!(masters.len(), 3, "three masters: {masters:?}");
    assert_eq!(cluster.seeds().split(',').count(), 6);
    assert!(cluster.seeds().contains(cluster.password()));

    let picked = cluster.keys_on_each_master("k:", 2).await;
    assert_eq!(picked.keys().copied().collect::<Vec<_>>(), masters);
    let mut conn = client(&cluster).await;
    for (master, keys) in &picked {
        assert_eq!(keys.len(), 2);
        for key in keys {
            let slot = cluster.slot_of(key).await;
            assert_eq!(cluster.master_of_slot(slot).await, *master, "{key}");
            let () = conn.set(key, master).await.unwrap();
        }
    }
    for (master, keys) in &picked {
        for key in keys {
            let stored: u16 = conn.get(key).await.unwrap();
            assert_eq!(stored, *master);
        }
    }
}

#[tokio::test]
async fn a_killed_masters_replica_is_promoted_and_serves_its_slot() {
    let mut cluster = RedisCluster::start().await;
    let key = "room:7";
    let slot = cluster.slot_of(key).await;
    let masters_before: BTreeSet<u16> = cluster.masters().await.into_iter().collect();

    let killed_at = Instant::now();
    let killed = cluster.kill_master_of(key).await;
    assert!(masters_before.contains(&killed));
    assert!(!cluster.live_ports().contains(&killed));
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", killed)).is_err(),
        "the killed node no longer accepts connections"
    );

    let promoted_at = cluster.wait_promoted(slot).await;
    assert!(promoted_at > killed_at);
    let owner = cluster.master_of_slot(slot).await;
    assert_ne!(owner, killed);
    assert!(cluster.live_ports().contains(&owner));
    assert!(
        !masters_before.contains(&owner),
        "the new owner is the former replica"
    );
    let masters_after = cluster.masters().await;
    assert_eq!(masters_after.len(), 3, "{masters_after:?}");

    // A client started from the seeds (the dead one among them) uses it.
    let mut conn = client(&cluster).await;
    let () = conn.set(key, "after failover").await.unwrap();
    let stored: String = conn.get(key).await.unwrap();
    assert_eq!(stored, "after failover");
}

#[tokio::test]
async fn a_moved_slot_changes_owner_and_keeps_its_keys() {
    let cluster = RedisCluster::start().await;
    let key = "room:42";
    let slot = cluster.slot_of(key).await;
    let mut conn = client(&cluster).await;
    let () = conn.set(key, "kept").await.unwrap();
    let before = cluster.master_of_slot(slot).await;

    let moved = cluster.move_slot_of(key).await;
    assert_eq!(moved.slot, slot);
    assert_eq!(moved.from, before);
    assert_ne!(moved.to, before);
    assert_eq!(moved.keys_moved, 1);
    assert_eq!(cluster.master_of_slot(slot).await, moved.to);
    let view = cluster.view_of(moved.from).await.unwrap();
    let source = view.iter().find(|n| n.port == moved.from).unwrap();
    assert!(!source.owns(slot), "the source no longer claims the slot");

    // The old connection follows MOVED; a fresh one routes directly.
    let stored: String = conn.get(key).await.unwrap();
    assert_eq!(stored, "kept");
    let stored: String = client(&cluster).await.get(key).await.unwrap();
    assert_eq!(stored, "kept");
}

#[tokio::test]
async fn a_single_node_cluster_owns_every_slot_and_is_gone_when_dropped() {
    let cluster = RedisCluster::start_single().await;
    let masters = cluster.masters().await;
    assert_eq!(masters.len(), 1);
    let only = masters[0];
    assert_eq!(cluster.master_of_slot(0).await, only);
    assert_eq!(cluster.master_of_slot(16383).await, only);

    let mut conn = client(&cluster).await;
    let () = conn.set("a", 1).await.unwrap();
    let () = conn.set("b", 2).await.unwrap();
    let receivers: i64 = redis::cmd("SPUBLISH")
        .arg("room:1")
        .arg("hello")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(receivers, 0);
    // Keys of two slots in one command are refused, as on any cluster (the
    // cluster client would split it: ask the node itself).
    let mut node = redis::Client::open(cluster.url_of(only))
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let refused = redis::cmd("MSET")
        .arg("a")
        .arg(3)
        .arg("b")
        .arg(4)
        .query_async::<()>(&mut node)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some("CROSSSLOT"), "{refused:?}");

    let dir = cluster.dir().to_owned();
    drop((conn, node));
    drop(cluster);
    assert!(std::net::TcpStream::connect(("127.0.0.1", only)).is_err());
    assert!(!dir.exists(), "the temporary directory is removed");
}
