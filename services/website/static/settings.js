// The settings page's preferences card, with JavaScript: offers this
// browser's time zone in one click, and asks for desktop notifications
// only when the button is clicked (then stores notifications.browser).
// Without it the card's forms work as they are.

import { enable } from "./room/notify.js";

const zoneField = document.getElementById("time_zone");
const useZone = document.getElementById("use-browser-zone");
const here = Intl.DateTimeFormat().resolvedOptions().timeZone;
if (zoneField && useZone && here && here !== zoneField.value) {
  useZone.textContent = `Use this device's: ${here}`;
  useZone.hidden = false;
  useZone.addEventListener("click", () => {
    zoneField.value = here;
    useZone.hidden = true;
    zoneField.focus();
  });
}

const box = document.getElementById("desktop-notify");
const button = document.getElementById("enable-notifications");
const problem = document.getElementById("notify-error");
const permission = document.getElementById("notify-permission");
const supported = "Notification" in window;

if (box && button) {
  const on = box.dataset.enabled === "true";
  if (!supported) {
    problem.textContent = "This browser cannot show desktop notifications.";
  } else if (!on) {
    button.hidden = false;
  } else if (Notification.permission !== "granted" && permission) {
    // On for the account, but this browser has not allowed them yet.
    permission.textContent = "This browser has not allowed them yet.";
    permission.hidden = false;
    button.textContent = "Allow in this browser";
    button.hidden = false;
  }
  button.addEventListener("click", async () => {
    button.disabled = true;
    problem.textContent = "";
    const outcome = await enable();
    button.disabled = false;
    const said = {
      denied: "Your browser blocks notifications from this site: allow them in its site settings, then try again.",
      default: "Notifications were not allowed. Click again when you want them.",
      failed: "Your choice could not be saved. Try again in a moment.",
      unsupported: "This browser cannot show desktop notifications.",
    };
    if (outcome === "granted") {
      location.reload();
    } else {
      problem.textContent = said[outcome] || said.failed;
    }
  });
}
