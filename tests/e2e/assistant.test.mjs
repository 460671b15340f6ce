// The assistant and search in real browsers through nginx, against the
// test stack's language-model stand-in (a token every 150 ms). Ann writes
// in a room, then asks "@assistant when is the launch?": her page and
// bob's show the answer streaming under the question, then the stored
// answer, a reply of the assistant citing the message it used, whose link
// opens the room at that message. Cyd, without JavaScript, sees the
// stored answer after a reload. Ann finds the message on the search page.
// Then dan starts a private assistant chat from the sidebar, asks without
// a mention, gets the streamed answer citing his room, renames the chat
// and deletes it. Photographed at 1280x800 and 360x740 into
// $PARLEY_SCREENSHOTS.
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

async function shots(page, name, { fullPage = false } = {}) {
  for (const [label, viewport] of [["desktop", DESKTOP], ["phone", PHONE]]) {
    await page.setViewportSize(viewport);
    await page.screenshot({ path: join(SHOTS, `assistant-${label}-${name}.png`), fullPage });
  }
  await page.setViewportSize(DESKTOP);
}

test("a question to the assistant streams, then one cited answer stays", { timeout: 120_000 }, async () => {
  const browser = await launch();
  try {
    const [ann, bob, cyd] = [`ann${run}`, `bob${run}`, `cyd${run}`];
    const a = await (await browser.newContext({ viewport: DESKTOP })).newPage();
    const b = await (await browser.newContext({ viewport: DESKTOP })).newPage();
    const c = await (await browser.newContext({ viewport: DESKTOP, javaScriptEnabled: false })).newPage();
    const errors = [];
    for (const page of [a, b]) page.on("pageerror", (e) => errors.push(String(e)));
    await register(a, ann);
    await register(b, bob);
    await register(c, cyd);

    await a.fill("#name", `Launch ${run}`);
    await Promise.all([a.waitForURL(/\/rooms\/\d+$/, WAIT), a.locator("aside form[action='/rooms'] button[type=submit]").click()]);
    const roomUrl = a.url();
    await b.goto(roomUrl);
    for (const page of [a, b]) await page.locator("#connection", { hasText: "Live" }).waitFor(WAIT);

    const say = async (text) => {
      await a.fill("#body", text);
      await a.press("#body", "Enter");
      await b.locator("#messages li .body", { hasText: text }).waitFor(WAIT);
    };
    await say("Coffee machine is fixed");
    await say(`The launch moves to Monday ${run}`);
    await say("@assistant when is the launch?");

    // The answer streams under the question on both pages...
    for (const page of [a, b]) {
      await page.locator(".assistant-status.pending", { hasText: "answering" }).waitFor(WAIT);
      await page.locator(".assistant-stream").filter({ hasText: /\S/ }).waitFor(WAIT);
    }
    const partial = await a.locator(".assistant-stream").textContent();
    await shots(a, "01-answer-streaming");
    // ...then the stored answer replaces it: a reply of the assistant that
    // cites the launch message.
    const answer = (page) => page.locator('#messages li.msg[data-author="assistant"]');
    for (const page of [a, b]) await answer(page).waitFor(WAIT);
    assert.equal(await a.locator(".assistant-stream").count(), 0, "the stream gives way to the stored answer");
    assert.ok((await answer(a).locator(".body").textContent()).length >= partial.length);
    const cite = answer(a).locator(".body a[href*='?at=']").first();
    const href = await cite.getAttribute("href");
    assert.match(href, /^\/rooms\/\d+\?at=\d+#m\d+$/);
    assert.equal(await answer(a).count(), 1);
    await shots(a, "02-answer-stored");

    // The citation opens the room at the message it cites.
    await Promise.all([a.waitForURL(/\?at=\d+#m\d+$/, WAIT), cite.click()]);
    const seq = href.split("#m")[1];
    await a.locator(`#m${seq} .body`, { hasText: `Monday ${run}` }).waitFor(WAIT);

    // Without JavaScript: the stored answer, after a reload.
    await c.goto(roomUrl);
    assert.equal(await answer(c).count(), 1);
    assert.equal(await c.locator(".assistant-status").count(), 0, "nothing pending once answered");
    await shots(c, "03-no-script-reload", { fullPage: true });

    // Search finds the message and links to it.
    await a.goto(`${BASE}/search?q=${encodeURIComponent(`monday ${run}`)}`);
    await a.locator(".search-hit mark", { hasText: /monday/i }).first().waitFor(WAIT);
    await shots(a, "04-search", { fullPage: true });
    await a.goto(`${BASE}/search`);
    await shots(a, "05-search-empty", { fullPage: true });

    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test("an assistant chat answers from my rooms, and is renamed and deleted", { timeout: 120_000 }, async () => {
  const browser = await launch();
  try {
    const dan = `dan${run}`;
    const page = await (await browser.newContext({ viewport: DESKTOP })).newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("dialog", (d) => d.accept());
    await register(page, dan);

    // What the chat will be asked about, said in a room of dan's.
    await page.fill("#name", `Billing ${run}`);
    await Promise.all([page.waitForURL(/\/rooms\/\d+$/, WAIT), page.locator("aside form[action='/rooms'] button[type=submit]").click()]);
    const billing = new URL(page.url()).pathname;
    await page.locator("#connection", { hasText: "Live" }).waitFor(WAIT);
    await page.fill("#body", `Invoices are due on the 15th ${run}`);
    await page.press("#body", "Enter");
    await page.locator("#messages li .body", { hasText: `15th ${run}` }).waitFor(WAIT);

    // The sidebar's "New chat" leads to the chats page; a named chat opens.
    await Promise.all([page.waitForURL(/\/assistant/, WAIT), page.locator("#new-chat-link").click()]);
    assert.equal(await page.locator("#no-chats").count(), 1);
    await shots(page, "06-chats-empty", { fullPage: true });
    await page.fill("#new-chat #name", "Money questions");
    await Promise.all([page.waitForURL(/\/rooms\/\d+$/, WAIT), page.locator("#new-chat-button").click()]);
    const chatPath = new URL(page.url()).pathname;
    await page.locator("#my-chats li.current", { hasText: "Money questions" }).waitFor(WAIT);
    await page.locator("#connection", { hasText: "Live" }).waitFor(WAIT);

    // Every message of the chat is a question: no mention needed.
    await page.fill("#body", "when are invoices due?");
    await page.press("#body", "Enter");
    await page.locator(".assistant-stream").filter({ hasText: /\S/ }).waitFor(WAIT);
    const answer = page.locator('#messages li.msg[data-author="assistant"]');
    await answer.waitFor(WAIT);
    assert.equal(await page.locator(".assistant-stream").count(), 0, "the stream gives way to the stored answer");
    const cite = answer.locator(`.body a[href^='${billing}?at=']`).first();
    await cite.waitFor(WAIT);
    assert.equal(await answer.count(), 1);
    await shots(page, "07-chat-answer");

    // Renamed: the header and the sidebar say the new name.
    await page.locator("#chat-rename summary").click();
    await page.fill("#chat-name", "Invoices");
    await Promise.all([page.waitForURL(new RegExp(`${chatPath}$`), WAIT), page.locator("#chat-rename button[type=submit]").click()]);
    await page.locator("#my-chats li.current", { hasText: "Invoices" }).waitFor(WAIT);
    assert.equal(await page.locator("#my-chats", { hasText: "Money questions" }).count(), 0);

    // The citation opens dan's room at the message.
    const href = await answer.locator(`.body a[href^='${billing}?at=']`).first().getAttribute("href");
    await Promise.all([page.waitForURL(/\?at=\d+#m\d+$/, WAIT), answer.locator(`.body a[href^='${billing}?at=']`).first().click()]);
    await page.locator(`#m${href.split("#m")[1]} .body`, { hasText: `15th ${run}` }).waitFor(WAIT);

    // Deleted (after the confirmation): back to the list, gone everywhere.
    await page.goto(`${BASE}${chatPath}`);
    await Promise.all([page.waitForURL(/\/assistant$/, WAIT), page.locator("#delete-chat").click()]);
    assert.equal(await page.locator("#no-chats").count(), 1);
    assert.equal(await page.locator("#my-chats li").count(), 0);
    assert.equal((await page.goto(`${BASE}${chatPath}`)).status(), 404);

    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});
