// Two people chat live through nginx in real Chromium: they see each other's
// messages, presence and typing; a reload misses nothing; a message sent by
// a third person through the no-JavaScript form appears live.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const BASE = process.env.PARLEY_TEST_URL;
const WAIT = { timeout: 15_000 };
const run = Date.now().toString(36);

async function launch() {
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

async function register(page, name) {
  await page.goto(`${BASE}/register`);
  await page.fill("#username", name);
  await page.fill("#email", `${name}@example.com`);
  await page.fill("#password", "correct horse battery");
  await Promise.all([page.waitForURL(`${BASE}/rooms`, WAIT), page.click("button[type=submit]")]);
}

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
