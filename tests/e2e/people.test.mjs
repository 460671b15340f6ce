// People and rooms in three real browsers through nginx: ann makes a
// private room on the /rooms form, makes an invite link on the members page
// and bob joins through it; she makes him a moderator and invites cyd by
// name, who accepts from the sidebar and posts. Bob mutes cyd for ten
// minutes with a reason (cyd's open page shows it live and locks the
// composer), then bans cyd (cyd's page says so and stops; the room is a 404
// for cyd now). Ann and bob see both acts between the messages, and ann
// finds them, with the reason, in the moderation log. Every page on the way
// is photographed at 1280x800 and at 360x740 into $PARLEY_SCREENSHOTS
// (default tests/e2e/screenshots/), the room and members pages also in the
// dark theme.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { BASE, WAIT, launch, register } from "./browser.mjs";

const run = Date.now().toString(36);
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 360, height: 740 };

const SHOTS = process.env.PARLEY_SCREENSHOTS || new URL("./screenshots/", import.meta.url).pathname;
mkdirSync(SHOTS, { recursive: true });

/**
 * Photographs the page at the desktop width, then at the phone width (the
 * whole page for ordinary pages, the screen for the room, which scrolls
 * inside), and gives the page its desktop size back. `before(label)` runs
 * before each shot (to open a folded sidebar on the phone, say).
 */
async function shots(page, name, { fullPage = true, before } = {}) {
  for (const [label, viewport] of [["desktop", DESKTOP], ["phone", PHONE]]) {
    await page.setViewportSize(viewport);
    if (before) await before(label);
    await page.screenshot({ path: join(SHOTS, `people-${label}-${name}.png`), fullPage });
  }
  await page.setViewportSize(DESKTOP);
}

/** Submits a form by clicking `button` and waits for the page it leads to. */
async function submit(page, button, url) {
  await Promise.all([page.waitForURL(url, WAIT), page.locator(button).click()]);
}

const roomIdOf = (url) => Number(new URL(url).pathname.split("/")[2]);
const memberRow = (page, username) => page.locator(".member-row", { hasText: `@${username}` });
const notices = (page) => page.locator("#messages li.notice .notice-text").allTextContents();

/** Opens a member's "Manage" disclosure on the members page. */
async function manage(page, username) {
  const row = memberRow(page, username);
  if ((await row.locator("details.member-tools").getAttribute("open")) === null) {
    await row.locator("details.member-tools > summary").click();
  }
  return row;
}

/** Sets the signed-in person's theme through the API, as the settings page does. */
async function setTheme(page, theme) {
  const status = await page.evaluate(async (theme) => {
    const res = await fetch("/api/v1/me/preferences", {
      method: "PUT",
      credentials: "same-origin",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({ theme }),
    });
    return res.status;
  }, theme);
  assert.equal(status, 200, `theme ${theme} saved`);
}

test("an owner runs a private room: a link, a moderator, an invitation, a mute and a ban", async () => {
  const browser = await launch();
  try {
    const [ann, bob, cyd] = [`ann${run}`, `bob${run}`, `cyd${run}`];
    const a = await (await browser.newContext({ viewport: DESKTOP })).newPage();
    const b = await (await browser.newContext({ viewport: DESKTOP })).newPage();
    const c = await (await browser.newContext({ viewport: DESKTOP })).newPage();
    const errors = [];
    for (const page of [a, b, c]) page.on("pageerror", (e) => errors.push(String(e)));
    await register(a, ann);
    await register(b, bob);
    await register(c, cyd);

    // Ann creates a private room on the /rooms form.
    const roomName = `Plans ${run}`;
    await a.fill("#name", roomName);
    await a.fill("#topic", "For the three of us");
    await a.check('input[name=visibility][value=private]');
    await shots(a, "01-ann-creates-a-private-room");
    await submit(a, "aside form[action='/rooms'] button[type=submit]", /\/rooms\/\d+$/);
    const roomUrl = a.url();
    const roomId = roomIdOf(roomUrl);
    await a.locator(".room-head .badge.lock", { hasText: "Private" }).waitFor(WAIT);
    // Nobody else sees it, not even by its address.
    assert.equal((await b.goto(roomUrl)).status(), 404, "a private room is a 404 to others");
    await b.goto(`${BASE}/rooms?q=${encodeURIComponent(roomName)}`);
    assert.equal(await b.locator(".room-list a", { hasText: roomName }).count(), 0, "not listed");

    // Ann makes an invite link on the members page and reads it there.
    await a.click("#members-link");
    await a.waitForURL(`${BASE}/rooms/${roomId}/members`, WAIT);
    await submit(a, "form[action$='/invite-links'] button[type=submit]", `${BASE}/rooms/${roomId}/invite-links`);
    const link = await a.inputValue("#new-link-url");
    assert.match(link, /^http:\/\/[^/]+\/invites\/[^/]+$/, "a link to /invites/{token}");
    assert.equal(await a.locator(".invite-list li", { hasText: "link" }).count(), 1, "the link is listed, to revoke");

    // Bob opens it: the room's name, Private, and Join.
    await b.goto(link.replace(/^http:\/\/[^/]+/, BASE));
    await b.locator(".invite-page h1", { hasText: roomName }).waitFor(WAIT);
    assert.equal(await b.locator(".invite-page .badge.lock").count(), 1);
    await shots(b, "02-bob-opens-the-invite-link");
    await submit(b, "#accept-invite", roomUrl);
    await b.locator("#connection", { hasText: "Live" }).waitFor(WAIT);
    await b.fill("#body", "Thanks for the link!");
    await b.press("#body", "Enter");
    await b.locator("#messages li .body", { hasText: "Thanks for the link!" }).waitFor(WAIT);

    // Ann makes a second link (for later), opens bob's tools: the page as the owner sees it.
    await a.goto(`${BASE}/rooms/${roomId}/members`);
    await memberRow(a, bob).waitFor(WAIT);
    await a.fill("#link-uses", "5");
    await submit(a, "form[action$='/invite-links'] button[type=submit]", `${BASE}/rooms/${roomId}/invite-links`);
    assert.notEqual(await a.inputValue("#new-link-url"), link, "a new link each time");
    assert.equal(await a.locator(".invite-list li").count(), 2, "both links are listed");
    const bobRow = await manage(a, bob);
    assert.equal(await bobRow.locator(".badge.role-moderator").count(), 0, "bob is a member");
    await shots(a, "03-ann-members-page-new-link-and-manage");

    // Ann makes bob a moderator.
    await submit(a, `#${await bobRow.getAttribute("id")} button:has-text("Make moderator")`, `${BASE}/rooms/${roomId}/members`);
    await memberRow(a, bob).locator(".badge.role-moderator", { hasText: "moderator" }).waitFor(WAIT);
    assert.equal(await memberRow(a, ann).locator(".badge.role-owner").count(), 1, "ann is the owner");

    // Ann invites cyd by name; cyd finds the invitation in the sidebar.
    await a.fill("#invite-username", cyd);
    await submit(a, "form[action$='/invites'] button[type=submit]", `${BASE}/rooms/${roomId}/members`);
    await a.locator("main > .notice", { hasText: "Invitation sent" }).waitFor(WAIT);
    await c.goto(`${BASE}/rooms`);
    const invitation = c.locator("#my-invites .invite-card", { hasText: roomName });
    await invitation.waitFor({ state: "attached", ...WAIT });
    assert.match(await invitation.textContent(), new RegExp(`from @${ann}`));
    await shots(c, "04-cyd-sidebar-invitation", {
      fullPage: false,
      before: async (label) => {
        if (label === "phone" && (await c.locator("#my-rooms-menu").getAttribute("open")) === null) {
          await c.click("#my-rooms-menu > summary");
        }
      },
    });
    if ((await c.locator("#my-rooms-menu").getAttribute("open")) === null) await c.click("#my-rooms-menu > summary");
    await submit(c, `#my-invites form[action='/invitations/${roomId}/accept'] button`, roomUrl);
    assert.equal(await c.locator("#my-invites").count(), 0, "the invitation is gone once accepted");

    // All three in the room, live; cyd posts.
    await a.goto(roomUrl);
    await b.goto(roomUrl);
    for (const page of [a, b, c]) await page.locator("#connection", { hasText: "Live" }).waitFor(WAIT);
    await c.fill("#body", "hello, I am cyd");
    await c.press("#body", "Enter");
    for (const page of [a, b]) await page.locator("#messages li .body", { hasText: "hello, I am cyd" }).waitFor(WAIT);
    await a.fill("#body", "Welcome, both of you");
    await a.press("#body", "Enter");
    await c.locator("#messages li .body", { hasText: "Welcome, both of you" }).waitFor(WAIT);

    // Bob, a moderator now, mutes cyd for 10 minutes with a reason.
    await b.goto(`${BASE}/rooms/${roomId}/members`);
    let cydRow = await manage(b, cyd);
    assert.equal(await b.locator(".member-row", { hasText: `@${ann}` }).locator("details.member-tools").count(), 0,
      "a moderator has no tools for the owner");
    await cydRow.locator("input[name=reason]").fill("Cooling off after the argument");
    await cydRow.locator("select[name=mute_secs]").selectOption("600");
    await submit(b, `#${await cydRow.getAttribute("id")} button[value=mute]`, `${BASE}/rooms/${roomId}/members`);
    await memberRow(b, cyd).locator(".badge.muted", { hasText: "muted until" }).waitFor(WAIT);
    await shots(b, "05-bob-members-cyd-muted");

    // Cyd's open page: the notice, the banner, and a composer that is off.
    const muteLine = new RegExp(`^${bob} muted ${cyd} for 10 minutes \\(until .+\\)$`);
    await c.locator("#messages li.notice .notice-text", { hasText: muteLine }).waitFor(WAIT);
    await c.locator("#muted-banner", { hasText: "You are muted here until" }).waitFor(WAIT);
    assert.ok(await c.locator("#body").isDisabled(), "the composer is off");
    assert.ok(await c.locator("#send-form button.send").isDisabled());
    await a.locator("#messages li.notice .notice-text", { hasText: muteLine }).waitFor(WAIT);
    await shots(c, "06-cyd-muted", { fullPage: false });

    // Bob bans cyd (a day, the default): cyd's page says so and stops.
    cydRow = await manage(b, cyd);
    await cydRow.locator("input[name=reason]").fill("Kept going in private messages");
    await submit(b, `#${await cydRow.getAttribute("id")} button[value=ban]`, `${BASE}/rooms/${roomId}/members`);
    await b.locator(".member-row", { hasText: `@${cyd}` }).waitFor({ state: "detached", ...WAIT });
    await b.locator("section[aria-labelledby=bans-heading] li", { hasText: `@${cyd}` }).waitFor(WAIT);
    await c.locator("#gone-banner", { hasText: "A moderator banned you from this room." }).waitFor(WAIT);
    assert.equal(await c.locator("#muted-banner").count(), 0, "being muted is beside the point now");
    assert.ok(await c.locator(".room-actions").isHidden(), "no Members or Leave for a room one is out of");
    assert.ok(await c.locator("#body").isDisabled(), "no composer after the ban");
    await shots(c, "07-cyd-banned", { fullPage: false });
    assert.equal((await c.reload()).status(), 404, "the private room is a 404 to cyd now");

    // Ann (live) and bob (a fresh page) see both acts between the messages.
    const banLine = new RegExp(`^${bob} banned ${cyd} for 1 day \\(until .+\\)$`);
    await a.locator("#messages li.notice .notice-text", { hasText: banLine }).waitFor(WAIT);
    await b.goto(roomUrl);
    for (const page of [a, b]) {
      const texts = await notices(page);
      assert.equal(texts.filter((t) => muteLine.test(t)).length, 1, "the mute, once");
      assert.equal(texts.filter((t) => banLine.test(t)).length, 1, "the ban, once");
      const order = await page.locator("#messages > li").evaluateAll((lis) =>
        lis.map((li) => (li.classList.contains("notice") ? "notice" : li.querySelector(".body")?.textContent ?? "")));
      assert.deepEqual(order.slice(-4), ["hello, I am cyd", "Welcome, both of you", "notice", "notice"],
        "the acts come after the messages before them");
    }
    assert.ok((await notices(b)).some((t) => t === `${ann} made ${bob} a moderator`), "the promotion too");
    await shots(b, "08-bob-room-with-notices", { fullPage: false });

    // The moderation log, with the reasons.
    await a.goto(`${BASE}/rooms/${roomId}/members`);
    await submit(a, ".back a[href$='/moderation']", `${BASE}/rooms/${roomId}/moderation`);
    const log = a.locator(".mod-log li");
    await log.first().waitFor(WAIT);
    const ban = log.filter({ hasText: `${bob} banned ${cyd} until` });
    const mute = log.filter({ hasText: `${bob} muted ${cyd} until` });
    assert.equal(await ban.locator(".reason").textContent(), "“Kept going in private messages”");
    assert.equal(await mute.locator(".reason").textContent(), "“Cooling off after the argument”");
    assert.equal(await log.filter({ hasText: `${ann} made ${bob} a moderator` }).count(), 1);
    await shots(a, "09-ann-moderation-log");

    // The room and the members page in the dark theme.
    await setTheme(a, "dark");
    await a.goto(roomUrl);
    assert.equal(await a.locator("html").getAttribute("data-theme"), "dark");
    await a.locator("#connection", { hasText: "Live" }).waitFor(WAIT);
    await shots(a, "10-ann-room-dark", { fullPage: false });
    await a.goto(`${BASE}/rooms/${roomId}/members`);
    await manage(a, bob);
    await shots(a, "11-ann-members-dark");
    await setTheme(a, "system");

    assert.deepEqual(errors, [], "no script errors");
  } finally {
    await browser.close();
  }
});
