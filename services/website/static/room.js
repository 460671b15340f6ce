// The room page's live part. Without it the page works through its forms;
// with it the room is live over /ws: new, edited and deleted messages and
// reactions change the page in place (the server's echo is the truth: a
// change shows once the server has stored it), times show in the viewer's
// zone, older messages load when scrolling up, the sidebar's badges follow
// my other rooms, and the read mark follows what is on screen. The pieces
// are in static/room/: dom.js (messages), live.js (the connection), sync.js
// (its bookkeeping: event order, changes waiting, backoff), sidebar.js,
// picker.js, media.js (a message's files), player.js (the voice player),
// attachments.js (the composer's files) and recorder.js (voice messages).
import { applyDelete, applyEdit, excerpt, formatTime, formatUntil, localise, markNotSent, messageElement, pendingElement, regroup, decorate, setMood, setPending, setReaction, updateQuotes } from "./room/dom.js";
import { noticeElement, span } from "./room/moderation.js";
import { Live, nonce } from "./room/live.js";
import { Sidebar } from "./room/sidebar.js";
import { openPicker } from "./room/picker.js";
import { People } from "./room/people.js";
import * as notify from "./room/notify.js";
import { Assistant } from "./room/assistant.js";
import { TRANSCRIPT, attachmentSummary, setTranscript } from "./room/media.js";
import { enhancePlayers } from "./room/player.js";
import { ComposerFiles } from "./room/attachments.js";
import { Recorder, canRecord } from "./room/recorder.js";

document.documentElement.classList.add("js");
const root = document.getElementById("room");
if (root) start(root);

function start(root) {
  const roomId = Number(root.dataset.roomId);
  const ctx = {
    roomId,
    me: Number(root.dataset.me),
    /** Deletes anyone's message: the owner or a moderator. */
    moderates: root.dataset.moderates === "true",
    editWindowMs: Number(root.dataset.editWindow) * 1000,
    showEmotions: root.dataset.emotions !== "false",
    moodMin: Number(root.dataset.moodMin || 0),
    /** Display names by user id (frames carry usernames). */
    people: People.fromPage(root),
    /** The people I blocked: their messages come collapsed. */
    blocked: new Set((root.dataset.blocked || "").split(" ").filter(Boolean).map(Number)),
  };
  const meName = root.dataset.meName || "you";
  const meUsername = root.dataset.meUsername || "";
  const emojis = (root.dataset.emoji || "").split(" ").filter(Boolean);
  // "#general", or a DM's people ("Ann, Bob"): what notifications say.
  const roomName = root.dataset.roomLabel || "";
  /** Enter sends (else Ctrl/Cmd+Enter does, and Enter is a new line): the user's preference. */
  const enterSends = document.documentElement.dataset.enterSends !== "false";
  const readBefore = Number(root.dataset.readBefore);
  let member = root.dataset.member === "true";
  /** The highest sequenced seq held (live.js keeps it: `since` on (re)join). */
  let lastSeq = Number(root.dataset.lastSeq) || 0;
  /** The read mark sent (or set by the page load). */
  let readSent = member ? lastSeq : 0;
  const $ = (id) => document.getElementById(id);
  const list = $("messages");
  const assistant = new Assistant(list, { me: ctx.me, moderates: ctx.moderates, isDm: root.dataset.dm === "true", roomId });
  const scroller = $("conversation");
  const online = $("online");
  const typingLine = $("typing");
  const status = $("connection");
  const form = $("send-form");
  const body = $("body");
  const bodyError = $("body-error");
  const count = $("message-count");
  const announce = $("announce");
  const sidebar = new Sidebar(roomId);
  /** Markdown sources of messages seen live, by id (for editing). */
  const sources = new Map();

  for (const li of list.children) localise(li);
  regroup(list, readBefore, ctx.me);
  enhancePlayers(list);
  if (location.hash === "#unread") jumpToUnread();

  // Forms that ask first (deleting the room).
  for (const f of document.querySelectorAll("form[data-confirm]")) {
    f.addEventListener("submit", (event) => {
      if (!window.confirm(f.dataset.confirm)) event.preventDefault();
    });
  }

  // --- what the server says -------------------------------------------------

  function setStatus(text, offline) {
    status.textContent = text;
    status.classList.toggle("offline", Boolean(offline));
  }

  function byId(id) {
    return list.querySelector(`li[data-id="${id}"]`);
  }

  function atBottom() {
    // column-reverse: 0 is the bottom, scrolling up goes negative.
    return Math.abs(scroller.scrollTop) < 60;
  }

  function setCount(delta) {
    if (!count) return;
    const n = Math.max(0, (parseInt(count.textContent, 10) || 0) + delta);
    count.textContent = `${n} message${n === 1 ? "" : "s"}`;
  }

  function appendMessage(m, mine) {
    const li = messageElement(m, ctx);
    const firstPending = list.querySelector("li.pending, li.failed");
    list.insertBefore(li, firstPending); // before sends still waiting (or not sent)
    enhancePlayers(li);
    decorate(li, li.previousElementSibling, false);
    if (li.nextElementSibling) decorate(li.nextElementSibling, li, false);
    const empty = $("no-messages");
    if (empty) empty.remove();
    if (m.body) sources.set(m.id, m.body);
    if (!m.deleted) setCount(1);
    if (mine) {
      scroller.scrollTop = 0;
    } else if (ctx.blocked.has(m.user.id)) {
      announce.textContent = "A message from someone you blocked.";
    } else if (!m.deleted) {
      const text = excerpt(li.querySelector(".body").textContent, 200) || `sent ${attachmentSummary(m.attachments)}`;
      announce.textContent = `${ctx.people.name(m.user)}: ${text}`;
      if (m.user.id !== ctx.me) {
        notify.message(roomId, root.dataset.notifyLevel, roomName, ctx.people.name(m.user), text, (m.mentions || []).includes(ctx.me));
      }
    }
  }

  /** Sending made me a member: the Join button becomes Leave. */
  function becameMember() {
    if (member) return;
    member = true;
    const join = $("join-room");
    if (join) {
      join.form.action = `/rooms/${roomId}/leave`;
      join.textContent = "Leave";
      join.className = "secondary";
      join.id = "leave-room";
    }
  }

  /** A change of mine is acknowledged: its stand-in goes. */
  function settled(mine) {
    if (mine.element) mine.element.remove();
    if (mine.li) mine.li.classList.remove("pending");
  }

  /** The room's next event (live.js gives each once, in seq order). */
  function sequenced(frame, mine) {
    if (mine) settled(mine);
    lastSeq = frame.seq;
    const li = frame.type === "message" ? null : byId(frame.id);
    switch (frame.type) {
      case "message":
        if (frame.user.id === ctx.me) becameMember(); // an author is a member
        appendMessage(frame, Boolean(mine));
        clearTyping(frame.user.id);
        assistant.answered(frame);
        break;
      case "edited":
        if (frame.body) sources.set(frame.id, frame.body);
        if (li) {
          applyEdit(li, frame);
          const text = li.querySelector(".body");
          updateQuotes(list, frame.id, frame.deleted ? { deleted: true } : { excerpt: excerpt(text ? text.textContent : "") });
        }
        break;
      case "deleted":
        sources.delete(frame.id);
        if (li) {
          if (!li.classList.contains("is-deleted")) setCount(-1);
          applyDelete(li);
        }
        updateQuotes(list, frame.id, { deleted: true });
        if (editing && editing.id === frame.id) stopEditing();
        break;
      case "reaction":
        if (li) setReaction(li, frame.emoji, frame.count, frame.user.id === ctx.me ? frame.on : undefined);
        break;
      case "moderation":
        moderated(frame);
        break;
      case "annotation":
        if (li && frame.kind === "emotion" && ctx.showEmotions) setMood(li, frame.labels, ctx.moodMin);
        if (li && frame.kind === TRANSCRIPT) setTranscript(li, frame.text);
        // Nothing to read: unread counts messages, so no read mark moves
        // for the server's notes (every open page would write one).
        return;
    }
    scheduleRead();
  }

  /** An act of moderation: its line in the conversation, and what it changes here. */
  function moderated(m) {
    const li = noticeElement(m, (u) => ctx.people.name(u), formatUntil, formatTime);
    list.insertBefore(li, list.querySelector("li.pending, li.failed"));
    decorate(li, li.previousElementSibling, false);
    if (li.nextElementSibling) decorate(li.nextElementSibling, li, false);
    announce.textContent = li.querySelector(".notice-text").textContent;
    const aboutMe = m.target && m.target.id === ctx.me;
    if (m.action === "mute" && aboutMe) setMuted(m.until ? formatUntil(new Date(m.until)) : "");
    if (m.action === "unmute" && aboutMe) setMuted(null);
    if (m.action === "topic") {
      let topic = root.querySelector(".room-title .topic");
      if (!topic && m.topic) {
        topic = document.createElement("p");
        topic.className = "topic";
        root.querySelector(".room-title h1").after(topic);
      }
      if (topic) topic.textContent = m.topic || "";
    }
    if (m.action === "slow_mode" && !ctx.moderates) {
      let hint = $("slow-mode");
      if (!hint && m.slow_mode_secs > 0 && form) {
        hint = document.createElement("p");
        hint.className = "hint slow-mode";
        hint.id = "slow-mode";
        form.before(hint);
      }
      if (hint) {
        if (m.slow_mode_secs > 0) hint.textContent = `Slow mode: one message every ${span(m.slow_mode_secs)} per member.`;
        else hint.remove();
      }
    }
  }

  /** Out of the room for good (removed, banned, the room deleted): says so above the composer, without the room's actions. */
  function gone(why) {
    const muted = $("muted-banner");
    if (muted) muted.remove();
    const banner = document.createElement("p");
    banner.className = "notice-banner gone";
    banner.id = "gone-banner";
    banner.setAttribute("role", "alert");
    const back = document.createElement("a");
    back.href = "/rooms";
    back.textContent = "Find other rooms";
    banner.append(`${why} `, back);
    if (form) form.before(banner);
    else root.append(banner);
    const actions = root.querySelector(".room-actions");
    if (actions) actions.hidden = true;
    setStatus("", false); // the banner says it
  }

  /** Muted until `until` (a date in words; "" until lifted; null: not muted). */
  function setMuted(until) {
    let banner = $("muted-banner");
    if (until === null) {
      if (banner) banner.remove();
    } else if (form) {
      if (!banner) {
        banner = document.createElement("p");
        banner.className = "notice-banner";
        banner.id = "muted-banner";
        banner.setAttribute("role", "status");
        form.before(banner);
      }
      banner.textContent = `You are muted here${until ? ` until ${until}` : ""}: you can read, not post or react.`;
    }
    if (form) for (const c of form.querySelectorAll("textarea, button[type=submit], #file-input, #record")) c.disabled = until !== null;
  }

  // --- changes waiting, and changes refused for good ------------------------
  // A change waits, in order, while the rate limit or an outage holds it
  // (live.js sends it again with the same nonce). Refused for good, typed
  // text is never dropped: it goes back into an empty composer, or stays on
  // screen as "not sent" with Edit and Retry.

  /** The changes behind "not sent" items, by their element. */
  const notSent = new WeakMap();
  const quiet = () => !editing && !body.value.trim();

  /** Puts text into the composer, after what is there already. */
  function intoComposer(text, replyTo) {
    body.value = body.value.trim() ? `${body.value.replace(/\s+$/, "")}\n\n${text}` : text;
    if (replyTo && !reply) {
      const quoted = byId(replyTo);
      if (quoted) setReply(quoted);
    }
    autosize();
    body.focus();
    body.setSelectionRange(body.value.length, body.value.length);
  }

  /** A change refused for good (or given up when the session or room ended). */
  function refused(p, frame) {
    const message = (frame && frame.message) || "This could not be sent.";
    const type = p.frame.type;
    if (type === "send" || type === "edit") {
      if (p.li) p.li.classList.remove("pending");
      // An edit goes back into editing (what the box held comes back after).
      // A send with files stays on screen as "not sent": Retry sends them again.
      const withFiles = type === "send" && (p.frame.attachments || []).length > 0;
      const back = form && !withFiles && (type === "send" ? quiet() : !editing && p.li && p.li.isConnected && !p.li.classList.contains("is-deleted"));
      if (back) {
        if (p.element) p.element.remove();
        bodyError.textContent = message;
        if (type === "send") intoComposer(p.frame.body, p.frame.reply_to);
        else startEditing(p.li, p.frame.body);
        return;
      }
      const li = p.element || pendingElement(meName, meUsername, p.frame.body, p.files || []);
      if (!li.isConnected) list.append(li);
      markNotSent(li, message, type === "edit" ? "edit not saved" : "not sent");
      notSent.set(li, p);
      return;
    }
    if (p.li) p.li.classList.remove("pending");
    bodyError.textContent = message;
  }

  /** Edit or Retry on a "not sent" item. */
  function notSentAction(li, action) {
    const p = notSent.get(li);
    if (!p) return;
    const frame = p.frame;
    const target = frame.type === "edit" ? byId(frame.id) : null;
    const editable = target && !target.classList.contains("is-deleted");
    if (action === "edit") {
      if (editing) {
        bodyError.textContent = "Finish or cancel the edit under way first.";
        return;
      }
      notSent.delete(li);
      li.remove();
      bodyError.textContent = "";
      if (editable) startEditing(target, frame.body);
      else intoComposer(frame.body, frame.reply_to);
      return;
    }
    if (live.stopped) {
      bodyError.textContent = "Not connected any more: Edit puts the text into the box.";
      return;
    }
    if (frame.type === "edit" && !editable) {
      bodyError.textContent = "That message is gone: Edit puts the text into the box.";
      return;
    }
    notSent.delete(li);
    bodyError.textContent = "";
    const again = { ...frame, nonce: nonce() }; // a new try (the refused one stored nothing)
    if (frame.type === "edit") {
      li.remove();
      target.classList.add("pending");
      live.change(again, { li: target });
      return;
    }
    setPending(li, "sending");
    list.append(li); // behind what is pending already: the order it will go in
    live.change(again, { element: li });
  }

  /** Everything still waiting stays on screen as "not sent". */
  function giveUp(message) {
    for (const p of live.abandon()) refused(p, { message });
  }

  const live = new Live(roomId, lastSeq, {
    status: setStatus,
    ended: () => giveUp("Not sent: your session has ended."),
    event: sequenced,
    settled,
    pending(p) {
      if (p.element) setPending(p.element, p.status);
    },
    refused,
    joined(frame) {
      renderOnline(frame.online);
      setStatus(frame.truncated ? "Live. Some older messages were skipped: reload to see them." : "Live", false);
      sidebar.refresh(); // unread frames are not sent at connect
      scheduleRead();
    },
    frame(frame) {
      if (frame.room !== undefined && frame.room !== roomId && frame.type !== "unread") return;
      switch (frame.type) {
        case "unread":
          if (frame.room !== roomId) sidebar.unread(frame);
          break;
        case "presence":
          setPresence(frame.user, frame.online);
          break;
        case "typing":
          typing(frame.user);
          break;
        case "assistant_status":
          assistant.status(frame);
          break;
        case "assistant_delta":
          assistant.delta(frame);
          break;
        case "left": {
          const why = {
            kicked: "A moderator removed you from this room.",
            banned: "A moderator banned you from this room.",
            removed: "This room is for its members only now.",
          }[frame.reason] || "This room was deleted.";
          live.stop(why);
          giveUp(`Not sent: ${why.charAt(0).toLowerCase()}${why.slice(1)}`);
          if (form) for (const c of form.querySelectorAll("textarea, button[type=submit], #file-input, #record")) c.disabled = true;
          gone(why);
          // No longer here: nobody shows online, and the room leaves my rooms.
          online.replaceChildren();
          for (const item of document.querySelectorAll(`#my-rooms li[data-room-id="${roomId}"]`)) item.remove();
          break;
        }
        case "error":
          break; // about the room (a read mark already further): nothing to undo
      }
    },
  });

  // --- presence and typing --------------------------------------------------

  const typers = new Map();
  function onlineItem(u) {
    const li = document.createElement("li");
    li.dataset.userId = String(u.id);
    li.textContent = ctx.people.name(u);
    li.title = `@${u.name}`;
    return li;
  }
  function renderOnline(users) {
    online.replaceChildren(...users.map(onlineItem));
  }
  function setPresence(user, isOnline) {
    const existing = online.querySelector(`li[data-user-id="${user.id}"]`);
    if (isOnline && !existing) online.append(onlineItem(user));
    if (!isOnline && existing) {
      existing.remove();
      clearTyping(user.id);
    }
  }
  function showTyping() {
    const names = [...typers.values()].map((t) => t.name);
    typingLine.textContent = names.length === 0 ? "" : names.length === 1 ? `${names[0]} is typing…` : `${names.join(", ")} are typing…`;
  }
  function clearTyping(userId) {
    const t = typers.get(userId);
    if (t) clearTimeout(t.timer);
    typers.delete(userId);
    showTyping();
  }
  function typing(user) {
    const previous = typers.get(user.id);
    if (previous) clearTimeout(previous.timer);
    typers.set(user.id, { name: ctx.people.name(user), timer: setTimeout(() => clearTyping(user.id), 3000) });
    showTyping();
  }

  // A name learnt late (someone not on the page when it was rendered):
  // every place showing their username shows their display name now.
  ctx.people.onLearn((id, p) => {
    for (const e of document.querySelectorAll(`[data-user-id="${id}"]`)) {
      if (e.matches(".author, .quote-author, #online li")) e.textContent = p.name;
    }
    const t = typers.get(id);
    if (t) {
      t.name = p.name;
      showTyping();
    }
  });

  // --- the read mark --------------------------------------------------------

  let readTimer = null;
  function scheduleRead() {
    if (!member || readTimer) return;
    readTimer = setTimeout(() => {
      readTimer = null;
      if (lastSeq > readSent && document.visibilityState === "visible" && atBottom() && live.send({ type: "read", room: roomId, seq: lastSeq })) {
        readSent = lastSeq;
      }
    }, 800);
  }
  document.addEventListener("visibilitychange", scheduleRead);
  window.addEventListener("focus", scheduleRead);

  // --- history: older pages when scrolled to the top ------------------------

  let older = $("older");
  let loadingOlder = null;
  function loadOlder() {
    if (!older || loadingOlder) return loadingOlder || Promise.resolve(false);
    const first = list.querySelector("li[data-seq]");
    const before = first ? Number(first.dataset.seq) : lastSeq + 1;
    older.classList.add("loading");
    loadingOlder = fetch(`/api/v1/rooms/${roomId}/messages?before_seq=${before}&limit=50`, { credentials: "same-origin" })
      .then((res) => (res.ok ? res.json() : Promise.reject(new Error(String(res.status)))))
      .then(({ messages }) => {
        const items = messages.reverse().map((m) => messageElement(m, ctx));
        for (const m of messages) if (m.body) sources.set(m.id, m.body);
        list.prepend(...items);
        for (const li of items) enhancePlayers(li);
        regroup(list, readBefore, ctx.me);
        if (messages.length < 50 || (items[0] && Number(items[0].dataset.seq) <= 1)) {
          older.textContent = "This is the beginning of the room.";
          older.className = "older start";
          older = null;
        }
        return items.length > 0;
      })
      .catch(() => false)
      .finally(() => {
        if (older) older.classList.remove("loading");
        loadingOlder = null;
      });
    return loadingOlder;
  }
  scroller.addEventListener("scroll", () => {
    if (scroller.scrollHeight - scroller.clientHeight - Math.abs(scroller.scrollTop) < 300) loadOlder();
    if (atBottom()) scheduleRead();
  }, { passive: true });
  if (older) {
    older.querySelector("a").addEventListener("click", (event) => {
      event.preventDefault();
      loadOlder();
    });
  }

  // --- the "new messages" line ----------------------------------------------

  async function jumpToUnread() {
    for (let i = 0; i < 20 && !$("unread") && older; i++) {
      if (!(await loadOlder())) break;
    }
    const line = $("unread");
    if (!line) return false;
    const li = line.closest("li");
    li.scrollIntoView({ block: "center" });
    li.classList.add("flash");
    setTimeout(() => li.classList.remove("flash"), 2000);
    const banner = $("unread-banner");
    if (banner) banner.hidden = true;
    return true;
  }
  const jump = $("jump-unread");
  if (jump) {
    jump.addEventListener("click", async (event) => {
      event.preventDefault();
      if (!(await jumpToUnread())) location.href = jump.href;
    });
  }

  // --- the composer: send, reply, edit --------------------------------------

  let reply = null; // {id, author, text}
  let editing = null; // {id, li, draft}
  const replyPreview = $("reply-preview");
  const editPreview = $("edit-preview");
  const replyField = $("reply-to");
  if (replyField && replyField.value) {
    reply = { id: Number(replyField.value), author: $("reply-author").textContent };
  }

  function setReply(li) {
    if (!form) return;
    stopEditing();
    const id = Number(li.dataset.id);
    const shown = li.querySelector(".author");
    reply = { id, author: li.dataset.author };
    replyField.value = String(id);
    $("reply-author").textContent = shown ? shown.textContent : li.dataset.author;
    $("reply-author").title = `@${li.dataset.author}`;
    const text = li.querySelector(".body");
    $("reply-excerpt").textContent = excerpt(text ? text.textContent : "");
    replyPreview.hidden = false;
    body.focus();
  }
  function clearReply() {
    reply = null;
    if (replyField) replyField.value = "";
    if (replyPreview) replyPreview.hidden = true;
  }

  async function sourceOf(li) {
    const id = Number(li.dataset.id);
    if (sources.has(id)) return sources.get(id);
    const seq = Number(li.dataset.seq);
    const res = await fetch(`/api/v1/rooms/${roomId}/messages?before_seq=${seq + 1}&limit=1`, { credentials: "same-origin" });
    if (!res.ok) throw new Error(`the message could not be read (${res.status})`);
    const { messages } = await res.json();
    const m = messages.find((x) => x.id === id);
    if (!m || m.deleted) throw new Error("the message was deleted");
    sources.set(id, m.body);
    return m.body;
  }

  async function startEditing(li, text) {
    if (!form || !li) return;
    let source = text;
    if (source === undefined) {
      try {
        source = await sourceOf(li);
      } catch (e) {
        bodyError.textContent = String(e.message || e);
        return;
      }
    }
    clearReply();
    editing = { id: Number(li.dataset.id), li, draft: editing ? editing.draft : body.value };
    body.value = source;
    editPreview.hidden = false;
    form.classList.add("is-editing");
    body.focus();
    body.setSelectionRange(body.value.length, body.value.length);
    autosize();
  }
  function stopEditing() {
    if (!editing) return;
    body.value = editing.draft;
    editing = null;
    editPreview.hidden = true;
    form.classList.remove("is-editing");
    autosize();
  }

  function lastEditable() {
    const mine = [...list.querySelectorAll("li.mine:not(.is-deleted):not(.pending):not(.failed)")];
    const last = mine[mine.length - 1];
    return last && last.querySelector('[data-action="edit"]') ? last : null;
  }

  function autosize() {
    if (!body.value) {
      body.style.height = ""; // an empty box is one line, whatever its placeholder
      return;
    }
    body.style.height = "auto";
    body.style.height = `${Math.min(body.scrollHeight + 2, 192)}px`;
  }

  // Historic pages (?before=) are not live: their links and forms work as they are.
  if (root.dataset.live !== "true" || !("WebSocket" in window)) return;

  let lastTypingSent = 0;
  /** The composer's files (attachments.js), and whether an upload is under way. */
  const files = form ? new ComposerFiles(form, { maxFiles: Number(form.dataset.maxFiles), maxBytes: Number(form.dataset.maxBytes), error: (text) => (bodyError.textContent = text) }) : null;
  let uploading = false;

  /**
   * Uploads `chosen` (with progress beside the composer), then sends them
   * with `text` over the socket like any message: true once on its way.
   * Refused, the text and the files stay where they were, with why.
   */
  async function sendFiles(chosen, text) {
    if (uploading) return false;
    uploading = true;
    bodyError.textContent = "";
    form.querySelector("button[type=submit]").disabled = true;
    let uploaded;
    try {
      uploaded = await files.upload(roomId, chosen);
    } catch (e) {
      bodyError.textContent = String(e.message || e);
      return false;
    } finally {
      uploading = false;
      form.querySelector("button[type=submit]").disabled = Boolean($("muted-banner"));
    }
    const frame = { type: "send", room: roomId, body: text, nonce: nonce(), attachments: uploaded.map((a) => a.id) };
    if (reply) frame.reply_to = reply.id;
    const element = pendingElement(meName, meUsername, text, uploaded);
    list.append(element);
    scroller.scrollTop = 0;
    live.change(frame, { element, files: uploaded });
    clearReply();
    const banner = $("unread-banner");
    if (banner) banner.hidden = true;
    return true;
  }

  if (form) {
    files.listen([scroller, form], body);
    if (canRecord()) {
      new Recorder(form, {
        maxSecs: Number(form.dataset.voiceMaxSecs),
        error: (text) => (bodyError.textContent = text),
        send: (file) => sendFiles([file], ""),
      });
    }
    form.addEventListener("submit", async (event) => {
      const text = body.value.trim();
      if (files.count > 0 && !editing) {
        event.preventDefault();
        const typed = body.value;
        body.readOnly = true; // what goes is what was typed
        const sent = await sendFiles(files.files.map((f) => f.file), text);
        body.readOnly = false;
        if (sent) {
          files.clear();
          if (body.value === typed) body.value = "";
          autosize();
          lastTypingSent = 0;
        }
        return;
      }
      if (!text) return; // let the server say it is empty
      event.preventDefault();
      bodyError.textContent = "";
      const n = nonce();
      if (editing) {
        const { id, li } = editing;
        li.classList.add("pending");
        live.change({ type: "edit", room: roomId, id, body: text, nonce: n }, { li });
        editing.draft = "";
        stopEditing();
        return;
      }
      const frame = { type: "send", room: roomId, body: text, nonce: n };
      if (reply) frame.reply_to = reply.id;
      const element = pendingElement(meName, meUsername, text);
      list.append(element);
      scroller.scrollTop = 0;
      live.change(frame, { element });
      body.value = "";
      clearReply();
      autosize();
      const banner = $("unread-banner");
      if (banner) banner.hidden = true; // answering is reading
      lastTypingSent = 0; // the next keystroke starts a new message: say so at once
    });
    body.addEventListener("keydown", (event) => {
      if (event.isComposing) return;
      const modified = event.ctrlKey || event.metaKey;
      if (event.key === "Enter" && (modified || (enterSends && !event.shiftKey))) {
        event.preventDefault();
        form.requestSubmit();
      } else if (event.key === "Escape" && (editing || reply)) {
        event.preventDefault();
        if (editing) stopEditing();
        else clearReply();
      } else if (event.key === "ArrowUp" && !body.value && !editing) {
        const li = lastEditable();
        if (li) {
          event.preventDefault();
          startEditing(li);
        }
      }
    });
    body.addEventListener("input", () => {
      autosize();
      const now = Date.now();
      if (!editing && now - lastTypingSent > 2000 && body.value.trim() && live.send({ type: "typing", room: roomId })) {
        lastTypingSent = now;
      }
    });
    $("reply-cancel").addEventListener("click", (event) => {
      event.preventDefault();
      clearReply();
      body.focus();
    });
    $("edit-cancel").addEventListener("click", () => {
      stopEditing();
      body.focus();
    });
  }

  // --- per-message actions: reply, react, edit, delete ----------------------

  function react(li, emoji) {
    const chip = [...li.querySelectorAll(".chip")].find((c) => c.dataset.emoji === emoji);
    const on = !(chip && chip.classList.contains("me"));
    live.change({ type: "react", room: roomId, id: Number(li.dataset.id), emoji, on, nonce: nonce() });
  }

  list.addEventListener("click", (event) => {
    const li = event.target.closest("li.msg");
    if (!li) return;
    const failed = event.target.closest("[data-not-sent]");
    if (failed) {
      event.preventDefault();
      notSentAction(li, failed.dataset.notSent);
      return;
    }
    if (li.classList.contains("pending") || li.classList.contains("failed")) return;
    const chip = event.target.closest(".chip");
    if (chip) {
      event.preventDefault();
      react(li, chip.dataset.emoji);
      return;
    }
    const action = event.target.closest("[data-action]");
    if (!action) {
      // A tap on a touch screen shows the message's actions.
      if (!event.target.closest("a, button, .player, audio") && matchMedia("(hover: none)").matches) {
        for (const other of list.querySelectorAll("li.show-actions")) if (other !== li) other.classList.remove("show-actions");
        li.classList.toggle("show-actions");
      }
      return;
    }
    event.preventDefault();
    switch (action.dataset.action) {
      case "reply":
        setReply(li);
        break;
      case "react":
        openPicker(action, emojis, (emoji) => react(li, emoji));
        break;
      case "edit":
        startEditing(li);
        break;
      case "delete":
        if (window.confirm("Delete this message for everyone? This cannot be undone.")) {
          li.classList.add("pending");
          live.change({ type: "delete", room: roomId, id: Number(li.dataset.id), nonce: nonce() }, { li });
        }
        break;
    }
  });

  live.connect();
}
