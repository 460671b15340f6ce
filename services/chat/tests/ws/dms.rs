//! Direct messages over the WebSocket: a DM does not exist for anyone
//! outside it, its members talk as in any room, and whom the other person
//! of a DM of two blocked reads but cannot write.

use common::protocol::ClientFrame;
use common::store::{blocks, rooms};

use crate::helpers::{Stack, connect};

#[tokio::test]
async fn a_dm_is_for_its_people_and_a_block_stops_the_blocked_one_writing() {
    let stack = Stack::new().await;
    let chat = stack.chat().await;
    let ann = stack.user("ann").await;
    let bob = stack.user("bob").await;
    let eve = stack.user("eve").await;
    let room = {
        let mut conn = stack.db.connect().await;
        rooms::insert_dm(&mut conn, &[ann.id, bob.id])
            .await
            .unwrap()
            .id
    };

    // Someone else: exactly a room that does not exist.
    let mut e = connect(&chat, &eve).await;
    e.send(&ClientFrame::Join { room, since: None }).await;
    assert_eq!(e.error().await.0, "room_not_found");
    e.send(&ClientFrame::Join {
        room: room + 1000,
        since: None,
    })
    .await;
    assert_eq!(e.error().await.0, "room_not_found");

    // Its members talk.
    let mut a = connect(&chat, &ann).await;
    a.join(room, None).await;
    let mut b = connect(&chat, &bob).await;
    b.join(room, None).await;
    a.say(room, "hi bob", "n-1").await;
    assert_eq!(b.message().await.body, "hi bob");
    assert_eq!(a.message().await.body, "hi bob");

    // Bob blocks ann: her next send is refused, his still reaches her.
    {
        let mut conn = stack.db.connect().await;
        blocks::add(&mut conn, bob.id, ann.id).await.unwrap();
    }
    a.say(room, "are you there?", "n-2").await;
    assert_eq!(
        a.error().await,
        ("blocked".to_owned(), Some("n-2".to_owned()))
    );
    b.say(room, "bye", "n-3").await;
    assert_eq!(a.message().await.body, "bye");
}
