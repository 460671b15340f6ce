// Desktop notifications (the Notification API), as the user's preferences
// say: on only when they turned them on (`data-notify` on <html>, asked
// for on a click in the settings) and this browser allows them; a room
// notifies per its level (`data-notify-rooms`, else `data-notify-default`):
// every new message, mentions of me, or nothing. Only while the page is
// hidden: a visible page shows the news itself.

const prefs = document.documentElement.dataset;

/** Room id -> level, for the rooms with a level of their own. */
const levels = new Map(
  (prefs.notifyRooms || "")
    .split(" ")
    .filter(Boolean)
    .map((pair) => {
      const [room, level] = pair.split(":");
      return [Number(room), level];
    }),
);

/** Whether notifications may show at all here and now. */
function allowed() {
  return prefs.notify === "true" && "Notification" in window && Notification.permission === "granted" && document.visibilityState === "hidden";
}

/** The level of a room: its own, else the user's default. */
export function levelOf(roomId, own) {
  return own || levels.get(roomId) || prefs.notifyDefault || "mentions";
}

function show(title, body, roomId) {
  try {
    const n = new Notification(title, { body, tag: `parley-room-${roomId}`, icon: "/static/favicon.svg" });
    n.addEventListener("click", () => {
      window.focus();
      if (!location.pathname.startsWith(`/rooms/${roomId}`)) location.href = `/rooms/${roomId}`;
      n.close();
    });
  } catch (_) {
    // Some browsers only notify from a service worker: nothing to do.
  }
}

/**
 * A new message of someone else in the room on screen (`level`: the room's
 * own level from the page); `mentionsMe`: it names me.
 */
export function message(roomId, level, roomName, author, text, mentionsMe) {
  if (!allowed()) return;
  const l = levelOf(roomId, level);
  if (l === "all" || (l === "mentions" && mentionsMe)) {
    show(mentionsMe ? `${author} mentioned you in ${roomName}` : `${author} in ${roomName}`, text, roomId);
  }
}

/**
 * Unread news in another room of mine (an `unread` frame): more unread
 * messages (`more`) or more mentions (`moreMentions`) than before.
 */
export function unread(roomId, roomName, more, moreMentions) {
  if (!allowed()) return;
  const l = levelOf(roomId);
  if (moreMentions && l !== "nothing") {
    show(`You were mentioned in ${roomName}`, "Open the room to read it.", roomId);
  } else if (more && l === "all") {
    show(`New messages in ${roomName}`, "Open the room to read them.", roomId);
  }
}

/**
 * Asks this browser for permission (only ever from a click) and, once
 * allowed, stores `notifications.browser = true`. Answers what happened:
 * "granted", "denied", "default" (dismissed), "unsupported" or "failed".
 */
export async function enable() {
  if (!("Notification" in window)) return "unsupported";
  const permission = await Notification.requestPermission();
  if (permission !== "granted") return permission;
  try {
    const res = await fetch("/api/v1/me/preferences", {
      method: "PUT",
      credentials: "same-origin",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({ notifications: { browser: true } }),
    });
    if (!res.ok) return "failed";
  } catch (_) {
    return "failed";
  }
  prefs.notify = "true";
  return "granted";
}
