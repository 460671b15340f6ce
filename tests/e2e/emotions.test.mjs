// Emotion tags in real browsers through nginx, with the real worker and
// models of the test stack. Ann and bob talk in a room: each message gets
// its marker live on both pages (the worker tags it from the vector search
// stores), the scores show on focus, the room's mood panel sums them up,
// and the mood page draws the chart of the room they just seeded. Then bob
// hides the markers in Settings and sees none. Photographed at 1280x800
// and 360x740 into $PARLEY_SCREENSHOTS.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { WAIT, launch, register } from "./browser.mjs";

const run = Date.now().toString(36);
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 360, height: 740 };
const SHOTS = process.env.PARLEY_SCREENSHOTS || new URL("./screenshots/", import.meta.url).pathname;
mkdirSync(SHOTS, { recursive: true });
// Tagging waits for the sentence vector: allow the worker a while.
const TAGGED = { timeout: 60_000 };

async function shots(page, name, { fullPage = false } = {}) {
  for (const [label, viewport] of [["desktop", DESKTOP], ["phone", PHONE]]) {
    await page.setViewportSize(viewport);
    await page.screenshot({ path: join(SHOTS, `emotions-${label}-${name}.png`), fullPage });
  }
  await page.setViewportSize(DESKTOP);
}

test("tags appear live on both pages and the mood page charts them", { timeout: 240_000 }, async () => {
  const browser = await launch();
  try {
    const [ann, bob] = [`ann${run}`, `bob${run}`];
    const a = await (await browser.newContext({ viewport: DESKTOP })).newPage();
    const b = await (await browser.newContext({ viewport: DESKTOP })).newPage();
    const errors = [];
    for (const page of [a, b]) page.on("pageerror", (e) => errors.push(String(e)));
    await register(a, ann);
    await register(b, bob);
    await a.fill("#name", `Feelings ${run}`);
    await Promise.all([a.waitForURL(/\/rooms\/\d+$/, WAIT), a.locator("aside form[action='/rooms'] button[type=submit]").click()]);
    const roomUrl = a.url();
    await b.goto(roomUrl);
    for (const page of [a, b]) await page.locator("#connection", { hasText: "Live" }).waitFor(WAIT);

    const lines = [
      [a, "I am so happy today, this is wonderful news!", "joy"],
      [b, "This is disgusting and I am furious about it", /anger|disgust/],
      [b, "lol", "joy"],
      [a, "I miss my grandmother so much, I cried all night", "sadness"],
    ];
    for (const [page, text] of lines) {
      await page.fill("#body", text);
      await page.press("#body", "Enter");
    }
    // Each message gets its marker, live, on both pages.
    for (const page of [a, b]) {
      for (const [, text, emotion] of lines) {
        const mark = page.locator("#messages li.msg", { hasText: text }).locator(".mood");
        await mark.waitFor(TAGGED);
        const got = await mark.getAttribute("data-emotion");
        assert.match(got, emotion instanceof RegExp ? emotion : new RegExp(`^${emotion}$`), text);
      }
    }
    // The scores on focus, as a tooltip and for screen readers.
    const joy = a.locator("#messages li.msg", { hasText: "wonderful news" }).locator(".mood");
    assert.match(await joy.getAttribute("aria-label"), /^Emotion: Joy \d+%/);
    await joy.focus();
    await shots(a, "01-markers");

    // The mood panel in the room's header.
    await a.reload();
    await a.locator("#room-mood > summary").click();
    await a.locator(".mood-panel .mood-share").first().waitFor(WAIT);
    assert.match(await a.locator(".mood-panel").textContent(), /The last \d+ tagged messages/);
    await shots(a, "02-panel");

    // The mood page: the chart of what they just said, by hour.
    await Promise.all([a.waitForURL(/\/mood$/, WAIT), a.locator("#mood-link").click()]);
    await a.goto(`${roomUrl}/mood?by=hour`);
    const bars = await a.locator("svg.mood-chart rect").count();
    assert.ok(bars >= 3, `${bars} segments`);
    assert.ok(await a.locator(".mood-movers .excerpt-link").count() >= 3);
    await shots(a, "03-mood-page", { fullPage: true });
    const moved = a.locator(".mood-movers .excerpt-link").first();
    await Promise.all([a.waitForURL(/\?at=\d+#m\d+$/, WAIT), moved.click()]);

    // Bob hides the markers: none on his page, live or reloaded.
    await b.goto(new URL("/settings", roomUrl).href);
    await b.locator("input[name=show_emotions]").uncheck();
    // The page is at /settings already: wait for the save's answer itself,
    // or the next navigation would abort the one still under way.
    const saved = b.waitForResponse((r) => r.url().endsWith("/settings/preferences") && r.request().method() === "POST", WAIT);
    await b.locator("input[name=show_emotions]").evaluate((box) => box.form.requestSubmit());
    await saved;
    await b.getByText("Your preferences are saved.").waitFor(WAIT);
    await b.goto(roomUrl);
    await b.locator("#connection", { hasText: "Live" }).waitFor(WAIT);
    assert.equal(await b.locator("#messages .mood").count(), 0);
    assert.equal(await b.locator("#room-mood").count(), 0);
    await a.goto(roomUrl);
    await a.fill("#body", "What a fantastic surprise, thank you all!");
    await a.press("#body", "Enter");
    await a.locator("#messages li.msg", { hasText: "fantastic surprise" }).locator(".mood").waitFor(TAGGED);
    await b.locator("#messages li.msg", { hasText: "fantastic surprise" }).waitFor(WAIT);
    await b.waitForTimeout(500);
    assert.equal(await b.locator("#messages .mood").count(), 0, "hidden live too");
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});
