// The conversation's DOM: building a message like the server renders it
// (templates/_message.html), updating one in place (edited, deleted,
// reactions), and grouping by author and day in the user's time zone
// (their preference, as the server groups them).
// Only a frame's or the API's `html` field (sanitized by the server) is ever
// set as HTML; everything else is text. A message's files are media.js's.
import { attachmentsElement } from "./media.js";

/** Consecutive messages of one author within this long share one header. */
const GROUP_MS = 5 * 60 * 1000;

// Times in the user's zone and clock (their preferences, which the server
// renders with too): `data-time-zone` and `data-clock` on <html>.
const prefs = document.documentElement.dataset;
const zone = { timeZone: zoneOrUtc(prefs.timeZone), hour12: prefs.clock === "12h" };
const timeFormat = new Intl.DateTimeFormat(undefined, { ...zone, hour: "numeric", minute: "2-digit" });
const longFormat = new Intl.DateTimeFormat(undefined, { ...zone, dateStyle: "full", timeStyle: "short" });
const shortFormat = new Intl.DateTimeFormat(undefined, { ...zone, weekday: "short", day: "numeric", month: "short", hour: "numeric", minute: "2-digit" });
const dayFormat = new Intl.DateTimeFormat(undefined, { timeZone: zone.timeZone, weekday: "long", day: "numeric", month: "long", year: "numeric" });
const dayKey = new Intl.DateTimeFormat("en-CA", { timeZone: zone.timeZone, year: "numeric", month: "2-digit", day: "2-digit" });

/** The zone if this browser knows it, else UTC (as the server falls back). */
function zoneOrUtc(name) {
  try {
    new Intl.DateTimeFormat(undefined, { timeZone: name || "UTC" });
    return name || "UTC";
  } catch (_) {
    return "UTC";
  }
}

/** An element with a class and text. */
export function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

/** The avatar of a username, as the server renders it (templates/_message.html). */
export function avatarElement(username) {
  const img = el("img", "avatar");
  img.src = `/avatars/${encodeURIComponent(username)}.svg`;
  img.alt = "";
  img.width = 40;
  img.height = 40;
  img.loading = "lazy";
  return img;
}

/** A person's name as pages show it: the display name, the username on hover. */
function nameElement(tag, className, user, people) {
  const e = el(tag, className, people ? people.name(user) : user.name);
  e.title = `@${user.name}`;
  e.dataset.userId = String(user.id);
  return e;
}

/** The day of `d` in the user's zone, `YYYY-MM-DD`. */
function localDay(d) {
  return dayKey.format(d);
}

function dayLabel(d) {
  const now = Date.now();
  if (localDay(d) === localDay(new Date(now))) return "Today";
  // The day of 24 hours ago: wrong only within an hour of midnight on a daylight-saving change.
  if (localDay(d) === localDay(new Date(now - 24 * 3600 * 1000))) return "Yesterday";
  return dayFormat.format(d);
}

/** A time of day in the user's zone and clock. */
export function formatTime(d) {
  return timeFormat.format(d);
}

/** A date and time in the user's zone and clock. */
export function formatLong(d) {
  return longFormat.format(d);
}

/** A moment to come, as short as it can be read: the time alone today ("14:05"), else the date too. */
export function formatUntil(d) {
  return localDay(d) === localDay(new Date()) ? timeFormat.format(d) : shortFormat.format(d);
}

/** Shows a message's (or a notice's) time, and its edit time, in the user's zone and clock. */
export function localise(li) {
  const time = li.querySelector(li.classList.contains("notice") ? ":scope > time" : ".stamp time");
  if (time && time.dateTime) {
    const d = new Date(time.dateTime);
    time.textContent = timeFormat.format(d);
    time.title = longFormat.format(d);
  }
  const edited = li.querySelector(".edited");
  if (edited && edited.dataset.edited) edited.title = `Edited ${longFormat.format(new Date(edited.dataset.edited))}`;
}

function sentAt(li) {
  return li && li.dataset.sent ? new Date(li.dataset.sent) : null;
}

/**
 * Sets the day divider, the "new messages" line and the grouping of `li`
 * after `prev` (the message above it, or null), in the viewer's zone.
 * `unreadHere`: whether the "new messages" line belongs above this one.
 */
export function decorate(li, prev, unreadHere) {
  const at = sentAt(li);
  const before = sentAt(prev);
  let divider = li.querySelector(":scope > .day-divider");
  const newDay = at && (!before || localDay(at) !== localDay(before));
  if (newDay) {
    if (!divider) {
      divider = el("div", "day-divider");
      divider.setAttribute("role", "separator");
      divider.append(el("time"));
      li.prepend(divider);
    }
    const time = divider.querySelector("time");
    time.dateTime = localDay(at);
    time.textContent = dayLabel(at);
  } else if (divider) {
    divider.remove();
  }
  let line = li.querySelector(":scope > .unread-line");
  if (unreadHere && !line) {
    line = document.getElementById("unread") || el("div", "unread-line");
    line.id = "unread";
    line.setAttribute("role", "separator");
    if (!line.firstChild) line.append(el("span", "", "New messages"));
    li.querySelector(":scope > .msg-grid").before(line);
  } else if (!unreadHere && line) {
    line.remove();
  }
  const continued =
    !newDay &&
    !unreadHere &&
    prev !== null &&
    !prev.classList.contains("pending") &&
    !li.classList.contains("pending") &&
    prev.dataset.author === li.dataset.author &&
    at - before <= GROUP_MS;
  li.classList.toggle("continued", Boolean(continued));
}

/** Regroups the whole list: days, headers and the "new messages" line. */
export function regroup(list, readBefore, me) {
  const items = [...list.children];
  const firstUnread =
    readBefore >= 0
      ? items.find((li) => li.classList.contains("msg") && Number(li.dataset.seq) > readBefore && li.dataset.authorId !== String(me) && !li.classList.contains("mine") && !li.classList.contains("is-deleted"))
      : undefined;
  let prev = null;
  for (const li of items) {
    decorate(li, prev, li === firstUnread);
    prev = li;
  }
}

/** The quote of the message a reply answers. */
export function quoteElement(reply, people) {
  const a = el("a", reply.deleted ? "quote quote-deleted" : "quote");
  a.href = `#m${reply.seq}`;
  a.dataset.replyId = String(reply.id);
  a.append(nameElement("span", "quote-author", reply.user, people), " ", el("span", "quote-text", reply.deleted ? "deleted message" : reply.excerpt || ""));
  return a;
}

function foot(li) {
  let f = li.querySelector(".msg-foot");
  if (!f) {
    f = el("div", "msg-foot");
    const reactions = el("div", "reactions");
    reactions.setAttribute("role", "group");
    reactions.setAttribute("aria-label", "Reactions");
    f.append(reactions);
    (li.querySelector(".blocked-message") || li.querySelector(".msg-main")).append(f);
  }
  return f;
}

function markEdited(li, iso) {
  const f = foot(li);
  let mark = f.querySelector(".edited");
  if (!mark) {
    mark = el("span", "edited", "(edited)");
    f.prepend(mark);
  }
  mark.dataset.edited = iso;
  mark.title = `Edited ${longFormat.format(new Date(iso))}`;
}

function chipButton(emoji, count, me) {
  const b = el("button", me ? "chip me" : "chip");
  b.type = "button";
  b.dataset.emoji = emoji;
  b.setAttribute("aria-pressed", String(me));
  b.title = me ? `Take back your ${emoji}` : `React with ${emoji}`;
  b.append(el("span", "emoji", emoji), el("span", "count", String(count)));
  return b;
}

/**
 * Sets one emoji's chip under a message: `count` in all, and whether the
 * viewer is one of them (`me` undefined: unchanged). Count 0 removes it.
 */
export function setReaction(li, emoji, count, me) {
  const reactions = foot(li).querySelector(".reactions");
  const existing = [...reactions.querySelectorAll(".chip")].find((c) => c.dataset.emoji === emoji);
  const holder = existing && existing.closest(".chip-form") ? existing.closest(".chip-form") : existing;
  const mine = me === undefined ? Boolean(existing && existing.classList.contains("me")) : me;
  if (count <= 0) {
    if (holder) holder.remove();
  } else if (existing) {
    const chip = chipButton(emoji, count, mine);
    holder.replaceWith(chip);
  } else {
    reactions.append(chipButton(emoji, count, mine));
  }
  dropEmptyFoot(li);
}

/** Removes a message's foot once nothing is left in it. */
function dropEmptyFoot(li) {
  const f = li.querySelector(".msg-foot");
  if (f && !f.querySelector(".chip, .edited")) f.remove();
}

/** The marker of each emotion (common::emotion keeps the same table); neutral has none. */
const MOOD_EMOJI = { anger: "😠", disgust: "🤢", fear: "😨", joy: "😊", sadness: "😢", surprise: "😮" };
const MOOD_TITLE = { anger: "Anger", disgust: "Disgust", fear: "Fear", joy: "Joy", neutral: "Neutral", sadness: "Sadness", surprise: "Surprise" };

/**
 * Sets a message's emotion marker from its tag's labels (strongest first):
 * the strongest emotion's emoji at the row's right edge, every score on
 * hover and focus; none for neutral, a score under `minScore`
 * (common::emotion::MARKER_MIN_SCORE, from the page), no labels (a tag
 * taken back), a deleted message or one from someone the reader blocked.
 */
export function setMood(li, labels, minScore = 0) {
  const old = li.querySelector(".mood");
  if (old) old.remove();
  const top = labels && labels[0];
  if (!top || !MOOD_EMOJI[top.label] || top.score < minScore) return;
  if (li.classList.contains("is-deleted") || li.classList.contains("is-blocked")) return;
  const scores = labels.map((l) => `${MOOD_TITLE[l.label] || l.label} ${Math.round(l.score * 100)}%`).join(" · ");
  const mark = el("span", "mood", MOOD_EMOJI[top.label]);
  mark.tabIndex = 0;
  mark.setAttribute("role", "img");
  mark.dataset.emotion = top.label;
  mark.dataset.scores = scores;
  mark.title = scores;
  mark.setAttribute("aria-label", `Emotion: ${scores}`);
  li.querySelector(".msg-main").prepend(mark);
}

function actionLink(action, href, label) {
  const a = el("a", action === "delete" ? "act danger" : "act", label);
  a.dataset.action = action;
  a.href = href;
  return a;
}

/** The hover/focus actions of a message, as the server renders them. */
export function actionsElement(m, ctx) {
  const base = `/rooms/${ctx.roomId}`;
  const bar = el("div", "msg-actions");
  bar.setAttribute("role", "group");
  bar.setAttribute("aria-label", `Message by ${ctx.people ? ctx.people.name(m.user) : m.user.name}`);
  bar.append(actionLink("reply", `${base}?reply_to=${m.id}#body`, "Reply"), actionLink("react", `${base}/messages/${m.id}/react`, "React"));
  const mine = m.user.id === ctx.me;
  if (mine && Date.now() - new Date(m.sent_at).getTime() < ctx.editWindowMs) {
    bar.append(actionLink("edit", `${base}/messages/${m.id}/edit`, "Edit"));
  }
  if (mine || ctx.moderates) bar.append(actionLink("delete", `${base}/messages/${m.id}/delete`, "Delete"));
  return bar;
}

/** A message from a frame or the API, built as the server renders it. */
export function messageElement(m, ctx) {
  const blocked = Boolean(ctx.blocked && ctx.blocked.has(m.user.id));
  const li = el("li", m.user.id === ctx.me ? "msg mine" : "msg");
  if (blocked) li.classList.add("is-blocked");
  li.id = `m${m.seq}`;
  li.dataset.seq = String(m.seq);
  li.dataset.id = String(m.id);
  li.dataset.author = m.user.name;
  li.dataset.authorId = String(m.user.id);
  li.dataset.sent = m.sent_at;
  const grid = el("div", "msg-grid");
  let avatar;
  if (blocked) {
    avatar = el("span", "avatar avatar-blocked");
    avatar.setAttribute("aria-hidden", "true");
  } else {
    avatar = avatarElement(m.user.name);
  }
  const main = el("div", "msg-main");
  // A blocked person's message is collapsed: everything in a <details>.
  let holder = main;
  if (blocked) {
    holder = el("details", "blocked-message");
    holder.append(el("summary", "", "Message from someone you blocked"));
    main.append(holder);
  }
  const head = el("div", "msg-head");
  const author = nameElement("a", "author", m.user, ctx.people);
  author.href = `/users/${encodeURIComponent(m.user.name)}`;
  const stamp = el("a", "stamp");
  stamp.href = `#m${m.seq}`;
  const time = el("time");
  time.dateTime = m.sent_at;
  stamp.append(time);
  head.append(author, " ", stamp);
  holder.append(head);
  if (m.reply_to) holder.append(quoteElement(m.reply_to, ctx.people));
  if (m.deleted) {
    holder.append(el("p", "body deleted", "This message was deleted."));
  } else {
    const body = el("div", "body");
    body.innerHTML = m.html || ""; // sanitized by the server: the only HTML ever set
    holder.append(body);
    const files = attachmentsElement(m.attachments, m.annotations);
    if (files) holder.append(files);
  }
  grid.append(avatar, main);
  li.append(grid);
  if (m.deleted) {
    li.classList.add("is-deleted");
  } else {
    if (m.edited_at) markEdited(li, m.edited_at);
    for (const r of m.reactions || []) setReaction(li, r.emoji, r.count, r.me);
    const tag = (m.annotations || []).find((a) => a.kind === "emotion");
    if (tag && ctx.showEmotions) setMood(li, tag.labels, ctx.moodMin);
    li.append(actionsElement(m, ctx));
  }
  localise(li);
  return li;
}

/** A message sent but not yet acknowledged: its text (and the names of its files), greyed out. */
export function pendingElement(name, username, text, attachments = []) {
  const li = el("li", "msg mine pending");
  const grid = el("div", "msg-grid");
  const avatar = username ? avatarElement(username) : el("span", "avatar");
  const main = el("div", "msg-main");
  const head = el("div", "msg-head");
  head.append(el("span", "author", name), " ", el("span", "stamp", "sending…"));
  main.append(head, el("p", "body", text));
  if (attachments.length) main.append(el("p", "attachments-pending", `📎 ${attachments.map((a) => a.name).join(", ")}`));
  grid.append(avatar, main);
  li.append(grid);
  return li;
}

const PENDING = {
  sending: ["sending…", ""],
  waiting: ["waiting to send…", "Too many messages at once: this one goes as soon as the server takes more."],
  retrying: ["not sent yet, trying again…", "The server could not store it just now: it tries again by itself."],
};

/** Shows where a pending message stands: "sending", "waiting" or "retrying". */
export function setPending(li, status) {
  const [text, title] = PENDING[status] || PENDING.sending;
  li.classList.remove("failed");
  li.classList.add("pending");
  li.classList.toggle("waiting", status !== "sending");
  const note = li.querySelector(".not-sent");
  if (note) note.remove();
  const stamp = li.querySelector(".stamp");
  if (stamp) {
    stamp.textContent = text;
    stamp.title = title;
  }
}

function notSentButton(action, label, hint) {
  const b = el("button", "secondary", label);
  b.type = "button";
  b.dataset.notSent = action;
  b.title = hint;
  return b;
}

/**
 * Turns a pending message into one the server refused for good: its text
 * stays, with why (`message`) and the Edit and Retry buttons.
 */
export function markNotSent(li, message, label = "not sent") {
  li.classList.remove("pending", "waiting");
  li.classList.add("failed");
  const stamp = li.querySelector(".stamp");
  if (stamp) {
    stamp.textContent = label;
    stamp.title = "";
  }
  const old = li.querySelector(".not-sent");
  if (old) old.remove();
  const note = el("div", "not-sent");
  note.setAttribute("role", "alert");
  note.append(
    el("span", "not-sent-reason", message),
    notSentButton("edit", "Edit", "Put the text back in the box"),
    notSentButton("retry", "Retry", "Send it again"),
  );
  li.querySelector(".msg-main").append(note);
}

/** Applies an `edited` frame to a message on the page. */
export function applyEdit(li, frame) {
  if (frame.deleted) return applyDelete(li);
  const body = li.querySelector(".body");
  if (!body || body.classList.contains("deleted")) return;
  body.innerHTML = frame.html || ""; // sanitized by the server
  markEdited(li, frame.edited_at);
}

/** Applies a `deleted` frame: the text goes, the place stays. */
export function applyDelete(li) {
  li.classList.add("is-deleted");
  const body = li.querySelector(".body");
  if (body) body.replaceWith(el("p", "body deleted", "This message was deleted."));
  for (const audio of li.querySelectorAll("audio")) audio.pause();
  for (const gone of li.querySelectorAll(".msg-foot, .msg-actions, .attachments")) gone.remove();
}

/** Updates the quotes of message `id` in replies after it changed. */
export function updateQuotes(list, id, change) {
  for (const q of list.querySelectorAll(`.quote[data-reply-id="${id}"]`)) {
    const text = q.querySelector(".quote-text");
    if (change.deleted) {
      q.classList.add("quote-deleted");
      text.textContent = "deleted message";
    } else if (change.excerpt !== undefined) {
      text.textContent = change.excerpt;
    }
  }
}

/** A one-line, plain-text excerpt of some rendered HTML or text. */
export function excerpt(text, max = 140) {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}
