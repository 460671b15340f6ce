// Two people chat live through nginx in real Chromium: they see each other's
// messages, presence and typing; a reload misses nothing; a message sent by
// a third person through the no-JavaScript form appears live. At a desktop
// and at a phone width: forty messages sent at once, ten over the send
// limit, all arrive once and in order (those held by the limit wait,
// visibly), and a message refused for good keeps its text ("not sent" with
// Edit and Retry, or back in an empty box). Then ann and bob go through the
// whole room page: Markdown and mentions, replies, reactions, editing with
// the Up arrow, deleting, the sidebar's unread and mention badges (live on
// the room list too), the "new messages" line, older messages when
// scrolling up, and dark mode. Screenshots go to $PARLEY_SCREENSHOTS
// (default tests/e2e/screenshots/).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { BASE, WAIT, launch, register } from "./browser.mjs";

const run = Date.now().toString(36);

const bodies = (page) => page.locator("#messages li .body").allTextContents();

test("two browsers chat live through nginx; reload and the no-JavaScript form lose nothing", async () => {
  const browser = await launch();
  try {
    const [ann, bob] = [`ann${run}`, `bob${run}`];
    const a = await (await browser.newContext()).newPage();
    const b = await (await browser.newContext()).newPage();
    const errors = [];
    for (const page of [a, b]) page.on("pageerror", (e) => errors.push(String(e)));
    await register(a, ann);
    await register(b, bob);

    // Ann creates a room; both open it and go live.
    await a.fill("#name", `e2e ${run}`);
    await a.fill("#topic", "browser test");
    await Promise.all([a.waitForURL(/\/rooms\/\d+$/, WAIT), a.click("aside button[type=submit]")]);
    const roomUrl = a.url();
    await b.goto(roomUrl);
    for (const page of [a, b]) await page.locator("#connection", { hasText: "Live" }).waitFor(WAIT);

    // Presence: each sees the other online.
    await a.locator("#online li", { hasText: bob }).waitFor(WAIT);
    await b.locator("#online li", { hasText: ann }).waitFor(WAIT);

    // Typing, then a message sent with Enter, appended as text (never HTML).
    await b.fill("#body", "<b>hello</b> from bob");
    await a.locator("#typing", { hasText: `${bob} is typing` }).waitFor(WAIT);
    await b.press("#body", "Enter");
    await a.locator("#messages li .body", { hasText: "<b>hello</b> from bob" }).waitFor(WAIT);
    assert.equal(await a.locator("#messages li .body b").count(), 0, "message text is not parsed as HTML");
    assert.equal(await b.inputValue("#body"), "", "the field is cleared after sending");
    await a.fill("#body", "hi bob");
    await a.press("#body", "Enter");
    await b.locator("#messages li .body", { hasText: "hi bob" }).waitFor(WAIT);

    // Bob reloads while Ann keeps talking: nothing missed, nothing twice.
    const reloading = b.reload();
    await a.fill("#body", "sent while bob reloads");
    await a.press("#body", "Enter");
    await reloading;
    await b.locator("#connection", { hasText: "Live" }).waitFor(WAIT);
    await b.locator("#messages li .body", { hasText: "sent while bob reloads" }).waitFor(WAIT);
    const afterReload = await bodies(b);
    assert.deepEqual(afterReload, ["<b>hello</b> from bob", "hi bob", "sent while bob reloads"]);

    // Cat has no JavaScript: the form posts, the page reloads, Ann sees it live.
    const cat = `cat${run}`;
    const c = await (await browser.newContext({ javaScriptEnabled: false })).newPage();
    await register(c, cat);
    await c.goto(roomUrl);
    await c.fill("#body", "no script needed");
    await Promise.all([c.waitForURL(/#m\d+$/, WAIT), c.click("#send-form button[type=submit]")]);
    assert.ok((await bodies(c)).includes("no script needed"), "cat sees the message after the reload");
    await a.locator("#messages li .body", { hasText: "no script needed" }).waitFor(WAIT);
    await b.locator("#messages li .body", { hasText: "no script needed" }).waitFor(WAIT);
    assert.deepEqual(await bodies(a), await bodies(b), "both windows show the same conversation");

    // A chat instance stops (SIGTERM: its sockets close with 1001): its
    // clients reconnect through nginx to the other and recover every message.
    const chatPids = (process.env.PARLEY_TEST_CHAT_PIDS || "").split(" ").filter(Boolean);
    if (chatPids.length > 1) {
      process.kill(Number(chatPids[0]), "SIGTERM");
      await a.fill("#body", "after an instance stopped");
      await a.press("#body", "Enter");
      await b.fill("#body", "still here too");
      await b.press("#body", "Enter");
      for (const page of [a, b]) {
        await page.locator("#messages li .body", { hasText: "after an instance stopped" }).waitFor(WAIT);
        await page.locator("#messages li .body", { hasText: "still here too" }).waitFor(WAIT);
        await page.locator("#connection", { hasText: "Live" }).waitFor(WAIT);
      }
      assert.deepEqual(await bodies(a), await bodies(b), "the same conversation after the failover");
      assert.equal(await a.locator("#messages li.pending").count(), 0, "every send was acknowledged");
    }

    // Seqs on the page are strictly increasing: in order, no duplicates.
    const seqs = (await a.locator("#messages li").evaluateAll((lis) => lis.map((li) => Number(li.dataset.seq))));
    assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y));
    assert.equal(new Set(seqs).size, seqs.length);
    assert.deepEqual(errors, [], "no script errors");
  } finally {
    await browser.close();
  }
});

const SHOTS = process.env.PARLEY_SCREENSHOTS || new URL("./screenshots/", import.meta.url).pathname;
mkdirSync(SHOTS, { recursive: true });
const shot = (page, name) => page.screenshot({ path: join(SHOTS, `${name}.png`) });

/** The texts of the messages the server stored that are on the page (not those pending or not sent). */
const stored = (page) => page.locator("#messages li:not(.pending):not(.failed) .body").allTextContents();

/** Polls `read` until it gives `want` (deep-equal) or `ms` pass; returns what it gave last. */
async function eventually(read, want, ms) {
  const deadline = Date.now() + ms;
  let got;
  do {
    got = await read();
    try {
      assert.deepEqual(got, want);
      return got;
    } catch (_) {
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  } while (Date.now() < deadline);
  return got;
}

for (const [label, viewport] of [
  ["desktop", { width: 1280, height: 800 }],
  ["phone", { width: 360, height: 740 }],
]) {
  test(`rate-limited messages stay pending and all arrive; refused text is never lost (${label})`, async () => {
    const browser = await launch();
    try {
      const tag = `r${label[0]}${run}`;
      const [ann, bob] = [`ann${tag}`, `bob${tag}`];
      const a = await (await browser.newContext({ viewport })).newPage();
      const b = await (await browser.newContext({ viewport })).newPage();
      const errors = [];
      for (const page of [a, b]) page.on("pageerror", (e) => errors.push(String(e)));
      await register(a, ann);
      await register(b, bob);
      await a.fill("#name", `burst ${tag}`);
      await Promise.all([a.waitForURL(/\/rooms\/\d+$/, WAIT), a.click("aside button[type=submit]")]);
      await b.goto(a.url());
      for (const page of [a, b]) await page.locator("#connection", { hasText: "Live" }).waitFor(WAIT);

      // Forty messages typed quickly: the test stack keeps the default
      // SEND_LIMIT of 30 per 10 s, so ten of them are refused with
      // rate_limited at first. They wait, visibly, and go after retry_after.
      const want = Array.from({ length: 40 }, (_, i) => `burst ${i + 1}`);
      for (const text of want) {
        await a.fill("#body", text);
        await a.press("#body", "Enter");
      }
      const waiting = a.locator("#messages li.pending.waiting");
      const sawWaiting = await waiting
        .first()
        .waitFor({ timeout: 8_000 })
        .then(() => true, () => false);
      const waitingText = sawWaiting ? await waiting.first().locator(".stamp").textContent() : null;
      if (sawWaiting) await shot(a, `${label}-08-ann-waiting-to-send`);

      // All forty arrive, once each and in order, for the sender and for bob.
      assert.deepEqual(await eventually(() => stored(a), want, 25_000), want, "ann: every message once, in order");
      assert.deepEqual(await eventually(() => stored(b), want, 5_000), want, "bob: every message once, in order");
      assert.equal(await a.locator("#messages li.pending, #messages li.failed").count(), 0, "nothing left pending");
      assert.ok(sawWaiting, "messages held by the rate limit show that they wait");
      assert.equal(waitingText, "waiting to send…");
      assert.deepEqual(await eventually(() => stored(b), want, 1_000), want, "nothing arrived twice later");

      // A final refusal while the box holds other text: a "not sent" item
      // keeps the text, with Edit and Retry. (A control character: the
      // server refuses it for good.)
      const bad = "a bell \u0007 rings";
      await a.evaluate((text) => {
        const body = document.getElementById("body");
        body.value = text;
        document.getElementById("send-form").requestSubmit();
        body.value = "a draft in progress";
      }, bad);
      const failed = a.locator("#messages li.failed");
      await failed.waitFor(WAIT);
      assert.equal(await failed.locator(".body").textContent(), bad);
      assert.equal(await failed.locator(".stamp").textContent(), "not sent");
      assert.match(await failed.locator(".not-sent-reason").textContent(), /control characters/);
      assert.equal(await a.inputValue("#body"), "a draft in progress", "the draft stays");
      await shot(a, `${label}-09-ann-not-sent`);
      await a.emulateMedia({ colorScheme: "dark" });
      await shot(a, `${label}-09-ann-not-sent-dark`);
      await a.emulateMedia({ colorScheme: "light" });
      // Retry: refused again, it stays.
      await failed.locator('[data-not-sent="retry"]').click();
      await a.locator("#messages li.failed .not-sent").waitFor(WAIT);
      assert.equal(await a.locator("#messages li.failed").count(), 1);
      // Edit: the text joins the draft in the box.
      await a.locator('#messages li.failed [data-not-sent="edit"]').click();
      assert.equal(await a.locator("#messages li.failed").count(), 0);
      assert.equal(await a.inputValue("#body"), `a draft in progress\n\n${bad}`);

      // Refused while the box is empty: the text comes back into it.
      await a.evaluate((text) => {
        const body = document.getElementById("body");
        body.value = text;
        document.getElementById("send-form").requestSubmit();
      }, bad);
      await a.locator("#body-error", { hasText: "control characters" }).waitFor(WAIT);
      assert.equal(await a.inputValue("#body"), bad, "the text is back in the box");
      assert.equal(await a.locator("#messages li.pending, #messages li.failed").count(), 0);
      await shot(a, `${label}-10-ann-refused-text-back-in-the-box`);
      assert.deepEqual(await stored(b), want, "bob never saw a refused message");
      assert.deepEqual(errors, [], "no script errors");
    } finally {
      await browser.close();
    }
  });
}


/** Registers through the API (for people who only post) and returns a bearer token. */
async function apiUser(name) {
  const headers = { "content-type": "application/json" };
  const creds = { username: name, email: `${name}@example.com`, password: "correct horse battery" };
  let res = await fetch(`${BASE}/api/v1/auth/register`, { method: "POST", headers, body: JSON.stringify(creds) });
  assert.equal(res.status, 201, await res.text());
  res = await fetch(`${BASE}/api/v1/auth/login`, { method: "POST", headers, body: JSON.stringify({ login: name, password: creds.password }) });
  return (await res.json()).token;
}

/** A message sent through the API with a bearer token. */
async function post(token, room, body) {
  const res = await fetch(`${BASE}/api/v1/rooms/${room}/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ body, nonce: `seed-${Math.random().toString(36).slice(2)}` }),
  });
  assert.equal(res.status, 201, await res.text());
}

/** The messages whose text contains `text` (a string, or a RegExp for exact matches). */
const message = (page, text) => page.locator("#messages > li").filter({ has: page.locator(".body", { hasText: text }) });
const roomIdOf = (url) => Number(new URL(url).pathname.split("/")[2]);

/** Hovers a message and clicks one of its actions. */
async function act(page, text, action) {
  const li = message(page, text).last();
  await li.hover();
  await li.locator(`[data-action="${action}"]`).click();
}

/** A room of the sidebar: opens the sidebar first where it is folded (a phone). */
async function sidebarRoom(page, roomId) {
  const menu = page.locator("#my-rooms-menu");
  if (!(await page.locator("#my-rooms").isVisible()) && !(await menu.getAttribute("open"))) {
    await page.click("#my-rooms-menu > summary");
  }
  return page.locator(`#my-rooms li[data-room-id="${roomId}"]`);
}

for (const [label, viewport] of [
  ["desktop", { width: 1280, height: 800 }],
  ["phone", { width: 360, height: 740 }],
]) {
  test(`ann and bob use the whole room page (${label}, ${viewport.width}x${viewport.height})`, async () => {
    const browser = await launch();
    try {
      const tag = `${label[0]}${run}`;
      const [ann, bob] = [`ann${tag}`, `bob${tag}`];
      const a = await (await browser.newContext({ viewport })).newPage();
      const b = await (await browser.newContext({ viewport })).newPage();
      const errors = [];
      for (const page of [a, b]) page.on("pageerror", (e) => errors.push(String(e)));
      await register(a, ann);
      await register(b, bob);
      const name = (n) => `${n} ${tag}`;

      // Ann creates two rooms; fifty-two earlier messages fill the first.
      const rooms = {};
      for (const room of ["main", "side"]) {
        await a.goto(`${BASE}/rooms`);
        await a.fill("#name", name(room));
        await Promise.all([a.waitForURL(/\/rooms\/\d+$/, WAIT), a.click("aside button[type=submit]")]);
        rooms[room] = roomIdOf(a.url());
      }
      // Two posters, as one person may send 30 messages in 10 s.
      const annToken = await apiUser(`annapi${tag}`);
      const catToken = await apiUser(`catapi${tag}`);
      for (let i = 1; i <= 52; i++) await post(i <= 26 ? annToken : catToken, rooms.main, `history ${i}`);

      // Bob visits the side room and joins it: it is in his sidebar now.
      await b.goto(`${BASE}/rooms/${rooms.side}`);
      await Promise.all([b.waitForURL(`${BASE}/rooms/${rooms.side}`, WAIT), b.click("#join-room")]);
      await b.locator("#leave-room").waitFor(WAIT);
      assert.equal(await (await sidebarRoom(b, rooms.side)).count(), 1, "a joined room is in the sidebar");
      // And the main room, where he has read everything so far.
      await b.goto(`${BASE}/rooms/${rooms.main}`);
      await Promise.all([b.waitForURL(`${BASE}/rooms/${rooms.main}`, WAIT), b.click("#join-room")]);

      // While he is away, three new messages: the "new messages" line waits for him.
      await b.goto(`${BASE}/rooms`);
      for (let i = 1; i <= 3; i++) await post(annToken, rooms.main, `unread ${i}`);
      await b.goto(`${BASE}/rooms/${rooms.main}`);
      await b.locator("#unread-banner", { hasText: "3 new messages" }).waitFor(WAIT);
      assert.equal(await message(b, "unread 1").locator(".unread-line").count(), 1, "the line is above the first unread message");
      assert.equal(await b.locator(".unread-line").count(), 1);
      await shot(b, `${label}-01-bob-new-messages-line`);
      await b.click("#jump-unread");
      await b.locator("#unread").waitFor({ state: "visible", ...WAIT });

      // Scrolling up loads older messages, and the place on screen stays.
      assert.equal(await message(b, /^history 1$/).count(), 0, "the first page is the newest 50");
            await b.locator("#conversation").evaluate((el) => el.scrollTo({ top: -el.scrollHeight }));
      await message(b, /^history 1$/).waitFor({ state: "attached", ...WAIT });
      await b.locator("#conversation .older.start").waitFor({ state: "attached", ...WAIT });
      assert.equal(await b.locator("#messages > li").count(), 55, "every message once");
      await message(b, /^history 1$/).scrollIntoViewIfNeeded();
      await shot(b, `${label}-02-bob-scrolled-to-the-beginning`);
      await b.locator("#conversation").evaluate((el) => el.scrollTo({ top: 0 }));

      // Ann opens the room; both are live.
      await a.goto(`${BASE}/rooms/${rooms.main}`);
      for (const page of [a, b]) await page.locator("#connection", { hasText: "Live" }).waitFor(WAIT);

      // Markdown and a mention.
      await a.fill("#body", `**Bold news** for _you_, @${bob}: see \`the code\``);
      await a.press("#body", "Enter");
      for (const page of [a, b]) {
        const li = message(page, "Bold news");
        await li.waitFor(WAIT);
        assert.equal(await li.locator(".body strong").textContent(), "Bold news");
        assert.equal(await li.locator(".body em").textContent(), "you");
        assert.equal(await li.locator(".body code").textContent(), "the code");
        assert.equal(await li.locator(".body .mention").textContent(), `@${bob}`);
      }
      assert.equal(await message(b, "Bold news").locator(".body a.mention").getAttribute("href"), `/users/${bob}`);

      // Bob replies to it: a quote above his composer, then in his message.
      await act(b, "Bold news", "reply");
      await b.locator("#reply-preview", { hasText: `Replying to ${ann}` }).waitFor(WAIT);
      await b.fill("#body", "Thanks, got it");
      await b.press("#body", "Enter");
      for (const page of [a, b]) {
        const quote = message(page, "Thanks, got it").locator(".quote");
        await quote.waitFor(WAIT);
        assert.equal(await quote.locator(".quote-author").textContent(), ann);
        assert.match(await quote.locator(".quote-text").textContent(), /Bold news for you/);
        assert.equal(await quote.getAttribute("href"), await message(page, "Bold news").evaluate((li) => `#${li.id}`));
      }
      assert.ok(await b.locator("#reply-preview").isHidden(), "the reply is done");

      // Ann reacts with the picker; bob adds his, then takes it back; both see every step.
      await act(a, "Thanks, got it", "react");
      await a.locator("#emoji-picker").waitFor(WAIT);
      await a.click('#emoji-picker button[data-emoji="👍"]');
      const chip = (page) => message(page, "Thanks, got it").locator('.chip[data-emoji="👍"]');
      for (const page of [a, b]) await chip(page).locator(".count", { hasText: "1" }).waitFor(WAIT);
      assert.equal(await chip(a).getAttribute("aria-pressed"), "true", "ann's own reaction is highlighted");
      assert.equal(await chip(b).getAttribute("aria-pressed"), "false");
      await chip(b).click();
      for (const page of [a, b]) await chip(page).locator(".count", { hasText: "2" }).waitFor(WAIT);
      assert.equal(await chip(b).getAttribute("aria-pressed"), "true");
      await shot(a, `${label}-03-ann-markdown-mention-reply-reactions`);
      await chip(b).click();
      for (const page of [a, b]) await chip(page).locator(".count", { hasText: "1" }).waitFor(WAIT);
      assert.equal(await chip(b).getAttribute("aria-pressed"), "false", "bob took his back");

      // Ann edits her last message with the Up arrow.
      await a.fill("#body", "a message to fix");
      await a.press("#body", "Enter");
      await message(b, "a message to fix").waitFor(WAIT);
      await a.click("#body");
      await a.press("#body", "ArrowUp");
      await a.locator("#edit-preview").waitFor({ state: "visible", ...WAIT });
      assert.equal(await a.inputValue("#body"), "a message to fix", "the composer holds the message's text");
      await a.fill("#body", "a message, *fixed*");
      await a.press("#body", "Enter");
      for (const page of [a, b]) {
        const li = message(page, "a message, fixed");
        await li.locator(".edited").waitFor(WAIT);
        assert.equal(await li.locator(".body em").textContent(), "fixed");
        assert.match(await li.locator(".edited").getAttribute("title"), /^Edited /);
      }
      assert.equal(await message(b, "a message to fix").count(), 0, "the old text is gone");
      // Esc leaves editing without changing anything.
      await a.press("#body", "ArrowUp");
      await a.locator("#edit-preview").waitFor({ state: "visible", ...WAIT });
      await a.press("#body", "Escape");
      assert.ok(await a.locator("#edit-preview").isHidden());
      assert.equal(await a.inputValue("#body"), "");

      // Ann deletes her first message: both see it go, and bob's quote says so.
      a.once("dialog", (d) => d.accept());
      await act(a, "Bold news", "delete");
      for (const page of [a, b]) {
        await page.locator("#messages > li.is-deleted", { hasText: "This message was deleted." }).waitFor(WAIT);
        await message(page, "Thanks, got it").locator(".quote-text", { hasText: "deleted message" }).waitFor(WAIT);
        assert.equal(await message(page, "Bold news").count(), 0);
      }
      await shot(b, `${label}-04-bob-edited-and-deleted`);

      // Unread and mention badges for a room bob is not looking at.
      await a.goto(`${BASE}/rooms/${rooms.side}`);
      await a.locator("#connection", { hasText: "Live" }).waitFor(WAIT);
      await a.fill("#body", `@${bob} over here, please`);
      await a.press("#body", "Enter");
      const side = await sidebarRoom(b, rooms.side);
      await side.locator(".badge.unread", { hasText: "1" }).waitFor(WAIT);
      await side.locator(".badge.mention").waitFor(WAIT);
      assert.equal(await (await sidebarRoom(b, rooms.main)).locator(".badge").count(), 0, "the room on screen has no badge");
      await shot(b, `${label}-05-bob-sidebar-badges`);
      await Promise.all([b.waitForURL(`${BASE}/rooms/${rooms.side}`, WAIT), side.locator("a").click()]);
      await message(b, "over here, please").waitFor(WAIT);
      assert.equal(await (await sidebarRoom(b, rooms.side)).locator(".badge").count(), 0, "opening the room clears its badges");
      assert.equal(await b.locator("#my-rooms-total .badge").count(), 0, "nothing left unread");
      assert.equal(await b.locator("#my-rooms li.current").getAttribute("data-room-id"), String(rooms.side));

      // Other signed-in pages keep the sidebar live too.
      await b.goto(`${BASE}/rooms`);
      await a.goto(`${BASE}/rooms/${rooms.main}`);
      await a.locator("#connection", { hasText: "Live" }).waitFor(WAIT);
      await a.fill("#body", "news for the room list");
      await a.press("#body", "Enter");
      await message(a, "news for the room list").waitFor(WAIT);
      await (await sidebarRoom(b, rooms.main)).locator(".badge.unread", { hasText: "1" }).waitFor(WAIT);

      // Dark mode follows the system.
      await b.emulateMedia({ colorScheme: "dark" });
      await b.goto(`${BASE}/rooms/${rooms.main}`);
      await b.locator("#connection", { hasText: "Live" }).waitFor(WAIT);
      const background = await b.evaluate(() => getComputedStyle(document.body).backgroundColor);
      assert.notEqual(background, "rgb(244, 245, 248)", "a dark background");
      await shot(b, `${label}-06-bob-dark-mode`);
      await a.emulateMedia({ colorScheme: "dark" });
      await a.goto(`${BASE}/rooms/${rooms.main}`);
      await shot(a, `${label}-07-ann-dark-mode`);

      assert.deepEqual(errors, [], "no script errors");
    } finally {
      await browser.close();
    }
  });
}
