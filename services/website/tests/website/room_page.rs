//! The room page without JavaScript: every action through a form (reply,
//! edit, delete, react, mark read, join, leave), each answered with a 303
//! back to the message and the change on the page, or with the same page, a
//! 4xx and the problem beside the field (the user's text kept). Also the
//! sidebar of my rooms with its badges, the "new messages" line, and the
//! profile page mentions link to.

use reqwest::{Client, StatusCode};

use crate::helpers::{TestApp, csrf_in};

/// The value of the first hidden field `name` in a page.
fn field(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} field"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
}

/// The id of the message at `seq` on a room page.
fn message_id(html: &str, seq: i64) -> i64 {
    let marker = format!("data-seq=\"{seq}\" data-id=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no message {seq}"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].parse().unwrap()
}

/// The `<li>` of the message at `seq` on a room page.
fn message_item(html: &str, seq: i64) -> &str {
    let start = html
        .find(&format!("<li id=\"m{seq}\""))
        .unwrap_or_else(|| panic!("no message {seq}"));
    let end = html[start..].find("</li>").unwrap() + start;
    &html[start..end]
}

/// The sidebar of a page.
fn sidebar(html: &str) -> &str {
    let start = html.find("<nav class=\"sidebar\"").expect("a sidebar");
    let end = html[start..].find("</nav>").unwrap() + start;
    &html[start..end]
}

struct Room {
    path: String,
}

impl Room {
    /// A room created by `owner` through the page, opened by its owner.
    async fn create(app: &TestApp, owner: &Client, name: &str) -> Self {
        let csrf = app.csrf(owner, "/rooms").await;
        let res = app
            .post_form_as(
                owner,
                "/rooms",
                &[("name", name), ("topic", ""), ("csrf_token", &csrf)],
            )
            .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        Self {
            path: res.headers()["location"].to_str().unwrap().to_owned(),
        }
    }

    fn id(&self) -> i64 {
        self.path.trim_start_matches("/rooms/").parse().unwrap()
    }

    /// Sends `body` with the page's form; returns the message's seq.
    async fn send(&self, app: &TestApp, who: &Client, body: &str, reply_to: &str) -> i64 {
        let page = app.html(who, &self.path).await;
        let form = [
            ("body", body),
            ("nonce", &field(&page, "nonce")),
            ("reply_to", reply_to),
            ("csrf_token", &csrf_in(&page).unwrap()),
        ];
        let res = app
            .post_form_as(who, &format!("{}/messages", self.path), &form)
            .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let location = res.headers()["location"].to_str().unwrap().to_owned();
        location.rsplit("#m").next().unwrap().parse().unwrap()
    }

    /// The room's last seq, as its page says.
    async fn last_seq(&self, app: &TestApp, who: &Client) -> i64 {
        field_attr(&app.html(who, &self.path).await, "data-last-seq")
    }
}

fn field_attr(html: &str, attr: &str) -> i64 {
    let marker = format!("{attr}=\"");
    let start = html.find(&marker).unwrap() + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].parse().unwrap()
}

#[tokio::test]
async fn a_reply_is_started_with_a_link_and_sent_with_the_form() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_browser("ann").await;
    let bob = app.signed_in_browser("bob").await;
    let room = Room::create(&app, &ann, "replies").await;
    let first = room.send(&app, &ann, "What do you **think**?", "").await;
    let page = app.html(&bob, &room.path).await;
    let id = message_id(&page, first);

    let page = app
        .html(&bob, &format!("{}?reply_to={id}", room.path))
        .await;
    assert!(page.contains(&format!("name=\"reply_to\" id=\"reply-to\" value=\"{id}\"")));
    assert!(page.contains(r#"Replying to <strong id="reply-author" title="@ann">ann</strong>"#));
    assert!(page.contains("What do you think?"), "the quote's excerpt");

    let reply = room.send(&app, &bob, "I agree", &id.to_string()).await;
    let page = app.html(&ann, &room.path).await;
    let item = message_item(&page, reply);
    assert!(item.contains(&format!("class=\"quote\" href=\"#m{first}\"")));
    assert!(item.contains(r#"title="@ann""#) && item.contains(">ann</span>"));
    assert!(item.contains("What do you think?"));

    // A reply to a message that is gone: the text comes back, never lost.
    let csrf = app.csrf(&bob, &room.path).await;
    let res = app
        .post_form_as(
            &bob,
            &format!("{}/messages", room.path),
            &[
                ("body", "my careful answer"),
                ("nonce", "r-1"),
                ("reply_to", "999999"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let html = res.text().await.unwrap();
    assert!(html.contains("my careful answer</textarea>") && html.contains("was deleted"));
}

#[tokio::test]
async fn messages_are_edited_with_a_form_by_their_author_only() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_browser("ann").await;
    let bob = app.signed_in_browser("bob").await;
    let room = Room::create(&app, &ann, "edits").await;
    let seq = room.send(&app, &ann, "teh first draft", "").await;
    let id = message_id(&app.html(&ann, &room.path).await, seq);
    let edit_path = format!("{}/messages/{id}/edit", room.path);

    let page = app.html(&ann, &room.path).await;
    assert!(message_item(&page, seq).contains(&format!("href=\"{edit_path}\"")));
    let form = app.html(&ann, &edit_path).await;
    assert!(form.contains(">teh first draft</textarea>"));
    let nonce = field(&form, "nonce");
    let csrf = csrf_in(&form).unwrap();
    let post = [
        ("body", "the *final* text"),
        ("nonce", nonce.as_str()),
        ("csrf_token", csrf.as_str()),
    ];
    let res = app.post_form_as(&ann, &edit_path, &post).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        res.headers()["location"],
        format!("{}#m{seq}", room.path).as_str()
    );
    let last = room.last_seq(&app, &ann).await;
    // The same form again changes nothing.
    let res = app.post_form_as(&ann, &edit_path, &post).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(room.last_seq(&app, &ann).await, last);
    let page = app.html(&bob, &room.path).await;
    let item = message_item(&page, seq);
    assert!(item.contains("the <em>final</em> text") && item.contains(">(edited)</span>"));
    assert!(item.contains("title=\"Edited 20"), "the edit time as title");
    assert!(!page.contains("teh first draft"));
    assert!(
        !message_item(&page, seq).contains("data-action=\"edit\""),
        "bob has no edit link"
    );

    // Someone else's message: 403, with the reason, and bob's text kept.
    let res = bob.get(app.url(&edit_path)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("only its author can edit")
    );
    let bob_csrf = csrf_in(&page).unwrap();
    let res = app
        .post_form_as(
            &bob,
            &edit_path,
            &[
                ("body", "bob was here"),
                ("nonce", "b-1"),
                ("csrf_token", &bob_csrf),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let html = res.text().await.unwrap();
    assert!(html.contains("nly its author can edit") && html.contains(">bob was here</textarea>"));

    // An empty text: 400 beside the field, what was typed kept.
    for (body, problem) in [("   ", "empty"), (&"x".repeat(4001)[..], "over 4000")] {
        let res = app
            .post_form_as(
                &ann,
                &edit_path,
                &[("body", body), ("nonce", "a-2"), ("csrf_token", &csrf)],
            )
            .await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        let html = res.text().await.unwrap();
        assert!(html.contains(problem), "{problem}");
        assert!(
            html.contains(&format!(">{body}</textarea>")),
            "the text is kept"
        );
    }
    let page = app.html(&ann, &room.path).await;
    assert!(message_item(&page, seq).contains("the <em>final</em> text"));

    // A message of another room, or none: 404.
    let other = Room::create(&app, &ann, "elsewhere").await;
    let res = ann
        .get(app.url(&format!("{}/messages/{id}/edit", other.path)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn messages_are_deleted_after_a_confirmation_by_their_author_or_the_owner() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_browser("ann").await;
    let bob = app.signed_in_browser("bob").await;
    let room = Room::create(&app, &ann, "deletes").await;
    let anns = room.send(&app, &ann, "the secret of ann", "").await;
    let bobs = room.send(&app, &bob, "the words of bob", "").await;
    let reply = room.send(&app, &bob, "an answer", "").await;
    let page = app.html(&bob, &room.path).await;
    let (ann_id, bob_id) = (message_id(&page, anns), message_id(&page, bobs));
    assert!(!message_item(&page, anns).contains("data-action=\"delete\""));
    assert!(message_item(&page, bobs).contains("data-action=\"delete\""));
    let _ = reply;

    // Bob may not delete ann's message.
    let confirm = app
        .html(&bob, &format!("{}/messages/{ann_id}/delete", room.path))
        .await;
    assert!(confirm.contains("Delete this message?") && confirm.contains("the secret of ann"));
    let res = app
        .post_form_as(
            &bob,
            &format!("{}/messages/{ann_id}/delete", room.path),
            &[
                ("nonce", field(&confirm, "nonce")),
                ("csrf_token", csrf_in(&confirm).unwrap()),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("nly its author"));

    // Bob deletes his own; the owner deletes anyone's. Twice changes nothing.
    for (who, id, seq) in [(&bob, bob_id, bobs), (&ann, ann_id, anns)] {
        let path = format!("{}/messages/{id}/delete", room.path);
        let confirm = app.html(who, &path).await;
        let form = [
            ("nonce", field(&confirm, "nonce")),
            ("csrf_token", csrf_in(&confirm).unwrap()),
        ];
        let res = app.post_form_as(who, &path, &form).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            res.headers()["location"],
            format!("{}#m{seq}", room.path).as_str()
        );
        let page = app.html(who, &room.path).await;
        assert!(page.contains("The message was deleted."), "the notice");
        let last = field_attr(&page, "data-last-seq");
        let res = app.post_form_as(who, &path, &form).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(room.last_seq(&app, who).await, last);
    }
    let page = app.html(&bob, &room.path).await;
    for seq in [anns, bobs] {
        let item = message_item(&page, seq);
        assert!(item.contains("This message was deleted.") && !item.contains("data-action"));
    }
    assert!(!page.contains("the secret of ann") && !page.contains("the words of bob"));
    // Its confirmation page is gone too.
    let res = ann
        .get(app.url(&format!("{}/messages/{ann_id}/delete", room.path)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn reactions_are_toggled_with_forms_and_bad_emoji_are_refused_beside_the_field() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_browser("ann").await;
    let bob = app.signed_in_browser("bob").await;
    let room = Room::create(&app, &ann, "reactions").await;
    let seq = room.send(&app, &ann, "react to me", "").await;
    let id = message_id(&app.html(&bob, &room.path).await, seq);
    let react_path = format!("{}/messages/{id}/reactions", room.path);

    // The picker page offers the common emoji.
    let picker = app
        .html(&bob, &format!("{}/messages/{id}/react", room.path))
        .await;
    for e in common::emoji::COMMON {
        assert!(
            picker.contains(&format!("name=\"emoji\" value=\"{e}\"")),
            "{e}"
        );
    }
    let form = [
        ("emoji", "🎉"),
        ("on", "true"),
        ("nonce", &field(&picker, "nonce")),
        ("csrf_token", &csrf_in(&picker).unwrap()),
    ];
    for _ in 0..2 {
        let res = app.post_form_as(&bob, &react_path, &form).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            res.headers()["location"],
            format!("{}#m{seq}", room.path).as_str()
        );
    }
    let page = app.html(&bob, &room.path).await;
    let item = message_item(&page, seq);
    assert!(item.contains("class=\"chip me\" data-emoji=\"🎉\" aria-pressed=\"true\""));
    assert!(
        item.contains("<span class=\"count\">1</span>"),
        "once, not twice"
    );
    let anns = app.html(&ann, &room.path).await;
    assert!(
        message_item(&anns, seq)
            .contains("class=\"chip\" data-emoji=\"🎉\" aria-pressed=\"false\"")
    );

    // The chip's own form takes it back.
    let chip_form = message_item(&page, seq);
    assert!(chip_form.contains("name=\"on\" value=\"false\""));
    let res = app
        .post_form_as(
            &bob,
            &react_path,
            &[
                ("emoji", "🎉"),
                ("on", "false"),
                ("nonce", &field(chip_form, "nonce")),
                ("csrf_token", &csrf_in(&page).unwrap()),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = app.html(&bob, &room.path).await;
    assert!(!message_item(&page, seq).contains("class=\"chip"));

    // Not one emoji: 400, the problem beside the field, the text kept.
    for bad in ["abc", "👍👍", ""] {
        let res = app
            .post_form_as(
                &bob,
                &react_path,
                &[
                    ("emoji", bad),
                    ("on", "true"),
                    ("nonce", "x-1"),
                    ("csrf_token", &csrf_in(&page).unwrap()),
                ],
            )
            .await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{bad}");
        let html = res.text().await.unwrap();
        assert!(html.contains("id=\"emoji-error\" role=\"alert\">"), "{bad}");
        assert!(html.contains("emoji"), "{bad}");
        assert!(html.contains(&format!("id=\"emoji\" name=\"emoji\" value=\"{bad}\"")));
        assert!(html.contains("aria-invalid=\"true\""));
    }
}

#[tokio::test]
async fn join_leave_and_the_sidebar_of_my_rooms() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_browser("ann").await;
    let bob = app.signed_in_browser("bob").await;
    let room = Room::create(&app, &ann, "clubhouse").await;
    let rooms = app.html(&ann, "/rooms").await;
    assert!(
        sidebar(&rooms).contains(&format!("href=\"{}\"", room.path)),
        "the owner's room"
    );

    let page = app.html(&bob, &room.path).await;
    assert!(page.contains("id=\"join-room\"") && !sidebar(&page).contains(&room.path));
    let csrf = csrf_in(&page).unwrap();
    for round in 0..2 {
        let res = app
            .post_form_as(
                &bob,
                &format!("{}/join", room.path),
                &[("csrf_token", &csrf)],
            )
            .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(res.headers()["location"], room.path.as_str());
        let page = app.html(&bob, &room.path).await;
        if round == 0 {
            assert!(page.contains("You joined the room"));
        }
        assert!(
            page.contains("id=\"leave-room\""),
            "joining twice changes nothing"
        );
    }
    let page = app.html(&bob, &room.path).await;
    assert!(sidebar(&page).contains("class=\"current\""));
    assert!(sidebar(&page).contains("aria-current=\"page\""));

    let res = app
        .post_form_as(
            &bob,
            &format!("{}/leave", room.path),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let rooms = app.html(&bob, "/rooms").await;
    assert!(
        !sidebar(&rooms).contains(&room.path),
        "left: gone from the sidebar"
    );

    // The owner cannot leave: 409, said on the room page.
    let res = app
        .post_form_as(
            &ann,
            &format!("{}/leave", room.path),
            &[("csrf_token", &csrf_in(&rooms).unwrap_or_default())],
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::FORBIDDEN,
        "another browser's token"
    );
    let ann_csrf = app.csrf(&ann, &room.path).await;
    let res = app
        .post_form_as(
            &ann,
            &format!("{}/leave", room.path),
            &[("csrf_token", &ann_csrf)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let html = res.text().await.unwrap();
    assert!(html.contains("The owner cannot leave") && html.contains("<h1>clubhouse</h1>"));
}

#[tokio::test]
async fn unread_and_mention_badges_and_the_new_messages_line() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_browser("ann").await;
    let bob = app.signed_in_browser("bob").await;
    let room = Room::create(&app, &ann, "news").await;
    let quiet = Room::create(&app, &ann, "quiet").await;
    let first = room.send(&app, &ann, "old news", "").await;
    let _ = app.html(&ann, &room.path).await;

    // Bob writes twice, once mentioning ann, while she looks at another room.
    let second = room.send(&app, &bob, "fresh news", "").await;
    room.send(&app, &bob, "@ann look at this", "").await;
    let elsewhere = app.html(&ann, &quiet.path).await;
    let side = sidebar(&elsewhere);
    let entry = &side[side
        .find(&format!("data-room-id=\"{}\"", room.id()))
        .unwrap()..];
    let entry = &entry[..entry.find("</li>").unwrap()];
    assert!(
        entry.contains("class=\"badge unread\" title=\"2 unread\">2"),
        "{entry}"
    );
    assert!(entry.contains("class=\"badge mention\""), "{entry}");

    // She opens it: the line is above the first new message, the banner says how many.
    let page = app.html(&ann, &room.path).await;
    assert!(page.contains("2 new messages"));
    assert!(message_item(&page, second).contains("id=\"unread\""));
    assert!(!message_item(&page, first).contains("id=\"unread\""));
    assert!(
        page.contains("href=\"/users/ann\""),
        "the mention links to the profile"
    );
    assert!(
        !sidebar(&page).contains("class=\"badge "),
        "the room on screen has no badge"
    );
    // And now it is read.
    let page = app.html(&ann, &room.path).await;
    assert!(!page.contains("id=\"unread\"") && !page.contains("id=\"unread-banner\""));
    let elsewhere = app.html(&ann, &quiet.path).await;
    assert!(!sidebar(&elsewhere).contains("class=\"badge "));
}

#[tokio::test]
async fn the_read_mark_moves_with_a_form_and_refuses_what_does_not_exist() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_browser("ann").await;
    let bob = app.signed_in_browser("bob").await;
    let room = Room::create(&app, &ann, "marks").await;
    for i in 0..3 {
        room.send(&app, &bob, &format!("note {i}"), "").await;
    }
    // An older page does not move the mark: it offers the form.
    let page = app.html(&ann, &format!("{}?before=3", room.path)).await;
    assert!(page.contains("Mark all as read"));
    let csrf = csrf_in(&page).unwrap();
    let last = field(&page[page.find("action=\"/rooms/").unwrap()..], "seq");
    assert_eq!(last, "3");
    let read = format!("{}/read", room.path);
    for _ in 0..2 {
        let res = app
            .post_form_as(&ann, &read, &[("seq", "3"), ("csrf_token", &csrf)])
            .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "twice is fine");
    }
    let page = app.html(&ann, &format!("{}?before=3", room.path)).await;
    assert!(!page.contains("Mark all as read") && !page.contains("id=\"unread\""));

    let res = app
        .post_form_as(&ann, &read, &[("seq", "99"), ("csrf_token", &csrf)])
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("between 0 and the room"));
    let cat = app.signed_in_browser("cat").await;
    let cat_csrf = app.csrf(&cat, &room.path).await;
    let res = app
        .post_form_as(&cat, &read, &[("seq", "1"), ("csrf_token", &cat_csrf)])
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "not a member");
    assert!(res.text().await.unwrap().contains("oin the room"));
}

#[tokio::test]
async fn profiles_show_a_name_and_since_when() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_browser("ann").await;
    let _bob = app.signed_in_browser("bob").await;
    let res = ann.get(app.url("/users/BOB")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(
        html.contains(r#"<h1 id="profile-name" title="@bob">bob</h1>"#)
            && html.contains("Member since <time datetime=\"20")
    );
    assert!(!html.contains("bob@example.com"), "never the e-mail");
    for missing in ["/users/nobody", "/users/bob@example.com", "/users/a%00b"] {
        let res = ann.get(app.url(missing)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{missing}");
    }
    let res = app
        .browser()
        .get(app.url("/users/bob"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "signed out: to the login page"
    );
}
