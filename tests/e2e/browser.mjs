// What the browser tests share: the stack's address, how long to wait,
// Debian's Chromium launched without anything that talks to the network
// on its own, and signing up through the register form.
import { chromium } from "playwright-core";

export const BASE = process.env.PARLEY_TEST_URL;
export const WAIT = { timeout: 15_000 };

/** Debian's Chromium, headless (playwright-core never downloads one), with any `extra` flags. */
export async function launch(extra = []) {
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
      ...extra,
    ],
  });
}

/** Registers `name` on `page` through the form; the page ends on /rooms. */
export async function register(page, name) {
  await page.goto(`${BASE}/register`);
  await page.fill("#username", name);
  await page.fill("#email", `${name}@example.com`);
  await page.fill("#password", "correct horse battery");
  await Promise.all([page.waitForURL(`${BASE}/rooms`, WAIT), page.click("button[type=submit]")]);
}
