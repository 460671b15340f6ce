// Files and voice messages in real browsers through nginx. Ann attaches a
// picture and a PDF (chips above the box), sends them with a line of text,
// and bob sees the thumbnail and the file row live; the picture is served
// to him and to nobody signed out. A file whose content is not what its
// name says is refused beside the composer, the text kept. Cat, without
// JavaScript, sends a file through the plain form. Then ann records a
// voice message (Chromium's fake microphone plays speech made by
// espeak-ng), previews and sends it; bob sees the player with its length,
// plays it, and reads the transcript the worker makes. Photographed at
// 1280x800 and 360x740, light and dark, into $PARLEY_SCREENSHOTS.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deflateSync } from "node:zlib";
import { BASE, WAIT, launch, register } from "./browser.mjs";

const run = Date.now().toString(36);
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 360, height: 740 };
const SHOTS = process.env.PARLEY_SCREENSHOTS || new URL("./screenshots/", import.meta.url).pathname;
mkdirSync(SHOTS, { recursive: true });
/** The worker transcribes off the send path: allow it a while. */
const TRANSCRIBED = { timeout: 90_000 };

async function shots(page, name, { dark = true } = {}) {
  for (const [label, viewport] of [["desktop", DESKTOP], ["phone", PHONE]]) {
    await page.setViewportSize(viewport);
    await page.screenshot({ path: join(SHOTS, `attachments-${label}-${name}.png`) });
  }
  if (dark) {
    await page.emulateMedia({ colorScheme: "dark" });
    await page.screenshot({ path: join(SHOTS, `attachments-phone-${name}-dark.png`) });
    await page.setViewportSize(DESKTOP);
    await page.screenshot({ path: join(SHOTS, `attachments-desktop-${name}-dark.png`) });
    await page.emulateMedia({ colorScheme: "light" });
  }
  await page.setViewportSize(DESKTOP);
}

// --- media made here ---------------------------------------------------------

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, "ascii");
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** A `width`x`height` RGB PNG: a sky, a sun and a sea (bigger than a thumbnail). */
export function png(width = 960, height = 600) {
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1);
    raw[row] = 0;
    for (let x = 0; x < width; x++) {
      const sea = y > height * 0.62;
      const sun = (x - width * 0.66) ** 2 + (y - height * 0.45) ** 2 < (height * 0.14) ** 2;
      const band = Math.floor((y / height) * 8);
      const [r, g, b] = sun ? [255, 196, 64] : sea ? [24, 70 + band * 6, 120 + band * 8] : [250 - band * 12, 140 + band * 10, 90 + band * 18];
      raw[row + 1 + x * 3] = r;
      raw[row + 2 + x * 3] = g;
      raw[row + 3 + x * 3] = b;
    }
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8 bits, RGB
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", header), chunk("IDAT", deflateSync(raw, { level: 9 })), chunk("IEND", Buffer.alloc(0))]);
}

/** A small, valid PDF. */
function pdf() {
  const text = "%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";
  return Buffer.from(text.padEnd(2400, "%"));
}

/** Speech for the fake microphone (16-bit PCM WAV; Chromium loops it). */
function speech(dir) {
  const wav = join(dir, "speech.wav");
  execFileSync("espeak-ng", ["-v", "en-us", "-s", "150", "-w", wav, "The meeting is moved to Thursday at ten in the morning."]);
  return wav;
}

const message = (page, text) => page.locator("#messages li.msg", { hasText: text });

test("files go with and without JavaScript; a voice message is heard and read", { timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "parley-e2e-"));
  const browser = await launch(["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream", `--use-file-for-fake-audio-capture=${speech(dir)}`]);
  try {
    const [ann, bob, cat] = [`ann${run}`, `bob${run}`, `cat${run}`];
    const aContext = await browser.newContext({ viewport: DESKTOP });
    const bContext = await browser.newContext({ viewport: DESKTOP });
    const a = await aContext.newPage();
    const b = await bContext.newPage();
    const errors = [];
    for (const page of [a, b]) page.on("pageerror", (e) => errors.push(String(e)));
    await register(a, ann);
    await register(b, bob);
    // A private room (its files are for its members), bob and cat come by a link.
    await a.fill("#name", `Files ${run}`);
    await a.check("input[name=visibility][value=private]");
    await Promise.all([a.waitForURL(/\/rooms\/\d+$/, WAIT), a.locator("aside form[action='/rooms'] button[type=submit]").click()]);
    const roomUrl = a.url();
    await Promise.all([a.waitForURL(/\/members$/, WAIT), a.click("#members-link")]);
    await Promise.all([a.waitForURL(/\/invite-links$/, WAIT), a.click("form[action$='/invite-links'] button[type=submit]")]);
    const link = (await a.inputValue("#new-link-url")).replace(/^http:\/\/[^/]+/, BASE);
    await a.goto(roomUrl);
    await b.goto(link);
    await Promise.all([b.waitForURL(roomUrl, WAIT), b.click("#accept-invite")]);
    for (const page of [a, b]) await page.locator("#connection", { hasText: "Live" }).waitFor(WAIT);

    // --- a picture and a PDF, with JavaScript ---------------------------------
    await a.setInputFiles("#file-input", [
      { name: "sunset.png", mimeType: "image/png", buffer: png() },
      { name: "report.pdf", mimeType: "application/pdf", buffer: pdf() },
    ]);
    await a.locator("#file-chips .file-chip").nth(1).waitFor(WAIT);
    assert.equal(await a.locator("#file-chips .file-chip").count(), 2);
    assert.equal(await a.locator("#file-chips .file-chip img").count(), 1, "the picture shows a preview");
    await a.fill("#body", "Photos from the trip, and the report");
    await shots(a, "01-composer-chips");
    // A chip can be taken away again.
    await a.setInputFiles("#file-input", [{ name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("notes\n") }]);
    await a.locator("#file-chips .file-chip", { hasText: "notes.txt" }).locator(".chip-remove").click();
    assert.equal(await a.locator("#file-chips .file-chip").count(), 2);
    await a.press("#body", "Enter");

    for (const page of [a, b]) {
      const m = message(page, "Photos from the trip");
      await m.locator(".att-image img").waitFor(WAIT);
      await m.locator(".att-file", { hasText: "report.pdf" }).waitFor(WAIT);
    }
    assert.equal(await a.inputValue("#body"), "", "the box is empty once sent");
    assert.equal(await a.locator("#file-chips .file-chip").count(), 0, "and the chips are gone");
    // A file dropped on the composer and a picture pasted into the box wait
    // as chips too (the events a browser fires, with the files they carry).
    await a.evaluate(() => {
      const files = (name, type) => {
        const data = new DataTransfer();
        data.items.add(new File(["x"], name, { type }));
        return data;
      };
      const form = document.querySelector("#body").form;
      form.dispatchEvent(new DragEvent("drop", { dataTransfer: files("dropped.txt", "text/plain"), bubbles: true, cancelable: true }));
      const box = document.querySelector("#body");
      box.dispatchEvent(new ClipboardEvent("paste", { clipboardData: files("image.png", "image/png"), bubbles: true, cancelable: true }));
    });
    await a.locator("#file-chips .file-chip", { hasText: "dropped.txt" }).waitFor(WAIT);
    await a.locator("#file-chips .file-chip", { hasText: /pasted-/ }).waitFor(WAIT);
    for (let n = 2; n > 0; n--) await a.locator("#file-chips .file-chip .chip-remove").first().click();
    assert.equal(await a.locator("#file-chips .file-chip").count(), 0);
    const img = message(b, "Photos from the trip").locator(".att-image img");
    assert.ok(Number(await img.getAttribute("width")) > 0 && Number(await img.getAttribute("height")) > 0, "the thumbnail has its size");
    await b.waitForFunction((el) => el.complete && el.naturalWidth > 0, await img.elementHandle(), WAIT);
    assert.match(await message(b, "Photos from the trip").locator(".att-file .att-size").textContent(), /^\d+(\.\d)? (B|KB)$/);
    // The picture is served to a reader, and to nobody signed out.
    const href = await message(b, "Photos from the trip").locator(".att-image").getAttribute("href");
    const served = await bContext.request.get(new URL(href, BASE).href);
    assert.equal(served.status(), 200);
    assert.equal(served.headers()["content-type"], "image/png");
    const stranger = await browser.newContext();
    assert.equal((await stranger.request.get(new URL(href, BASE).href)).status(), 404);
    await stranger.close();
    // The same after a reload (rendered by the server).
    await b.reload();
    await message(b, "Photos from the trip").locator(".att-image img").waitFor(WAIT);
    await shots(b, "02-image-and-file");

    // A file that lies about itself: refused beside the composer, the text kept.
    await a.setInputFiles("#file-input", [{ name: "holiday.png", mimeType: "image/png", buffer: Buffer.from("this is not a picture at all\n".repeat(20)) }]);
    await a.fill("#body", "one more picture");
    await a.press("#body", "Enter");
    await a.locator("#body-error", { hasText: /./ }).waitFor(WAIT);
    assert.equal(await a.inputValue("#body"), "one more picture", "the text is kept");
    assert.equal(await a.locator("#file-chips .file-chip").count(), 1, "and the file, to remove it");
    await a.locator("#file-chips .chip-remove").click();
    await a.fill("#body", "");

    // --- without JavaScript: the plain form uploads -----------------------------
    const c = await (await browser.newContext({ viewport: DESKTOP, javaScriptEnabled: false })).newPage();
    await register(c, cat);
    await c.goto(link);
    await Promise.all([c.waitForURL(roomUrl, WAIT), c.click("#accept-invite")]);
    assert.ok(await c.locator("#file-input").isVisible(), "the file input shows without the script");
    assert.ok(!(await c.locator("#record").isVisible()), "no recorder without the script");
    await c.setInputFiles("#file-input", [{ name: "minutes.pdf", mimeType: "application/pdf", buffer: pdf() }]);
    await c.fill("#body", "the minutes, without a script");
    await Promise.all([c.waitForURL(/#m\d+$/, WAIT), c.click("#send-form button[type=submit]")]);
    await message(c, "the minutes, without a script").locator(".att-file", { hasText: "minutes.pdf" }).waitFor(WAIT);
    await message(c, "Photos from the trip").locator(".att-image img").waitFor(WAIT);
    await message(b, "the minutes, without a script").locator(".att-file", { hasText: "minutes.pdf" }).waitFor(WAIT);
    await shots(c, "03-no-script", { dark: false });

    // --- a voice message ------------------------------------------------------
    await a.locator("#record").waitFor({ state: "visible", ...WAIT });
    await a.locator("#record").click();
    await a.locator("#recorder-live").waitFor({ state: "visible", ...WAIT });
    await a.locator("#rec-time", { hasText: "0:02" }).waitFor(WAIT);
    await shots(a, "04-recording", { dark: false });
    await a.locator("#rec-time", { hasText: "0:05" }).waitFor(WAIT);
    await a.locator("#rec-stop").click();
    await a.locator("#recorder-preview").waitFor({ state: "visible", ...WAIT });
    assert.match(await a.locator("#recorder-preview .player-time").textContent(), /^0:0[56]$/);
    await shots(a, "05-preview", { dark: false });
    await a.locator("#rec-send").click();
    await a.locator("#recorder").waitFor({ state: "hidden", ...WAIT });

    const voice = b.locator("#messages li.msg .att-audio").last();
    await voice.waitFor(WAIT);
    assert.match(await voice.locator(".player-time").textContent(), /^0:0[4-7]$/, "the player shows the length");
    assert.ok((await voice.locator(".wave rect").count()) > 10, "and the waveform");
    await voice.locator(".player-play").click();
    const audio = voice.locator("audio");
    await b.waitForFunction((el) => el.currentTime > 0.5, await audio.elementHandle(), WAIT);
    const duration = await audio.evaluate((el) => el.duration);
    assert.ok(Number.isFinite(duration) && duration > 3 && duration < 8, `duration ${duration}`);
    assert.match(await voice.locator(".player-time").textContent(), /^0:0\d \/ 0:0\d$/);
    await shots(b, "06-playing");
    await voice.locator(".player-play").click();
    // Seeking: a click at the waveform's middle moves there.
    const wave = voice.locator(".wave");
    const box = await wave.boundingBox();
    await b.mouse.click(box.x + box.width * 0.5, box.y + box.height / 2);
    const at = await audio.evaluate((el) => el.currentTime / el.duration);
    assert.ok(at > 0.35 && at < 0.65, `seeked to ${at}`);

    // The transcript, live, then from history.
    const transcript = b.locator("#messages li.msg").filter({ has: b.locator(".att-audio") }).last().locator(".transcript");
    await transcript.waitFor(TRANSCRIBED);
    assert.match((await transcript.textContent()).toLowerCase(), /thursday/);
    await b.reload();
    assert.match((await b.locator("#messages li.msg .transcript").last().textContent()).toLowerCase(), /thursday/);
    await shots(b, "07-transcript");
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});
