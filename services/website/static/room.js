// The room page's live part: joins the room over /ws with `since` = the last
// message on the page, appends new messages as text (never as HTML), shows
// who is online and who is typing, sends with Enter (Shift+Enter: new line)
// and a nonce, reconnects with backoff, resends unacknowledged messages with
// their nonces, and says plainly when it is offline. Without this script the
// page still works: the form posts and the page reloads.
"use strict";
(function () {
  const root = document.getElementById("room");
  if (!root || root.dataset.live !== "true" || !("WebSocket" in window)) return;

  const roomId = Number(root.dataset.roomId);
  let lastSeq = Number(root.dataset.lastSeq) || 0;
  const list = document.getElementById("messages");
  const online = document.getElementById("online");
  const typingLine = document.getElementById("typing");
  const status = document.getElementById("connection");
  const form = document.getElementById("send-form");
  const body = document.getElementById("body");
  const bodyError = document.getElementById("body-error");
  const empty = document.getElementById("no-messages");
  const count = document.getElementById("message-count");

  /** Sends not yet acknowledged by their echo, by nonce, in order. */
  const pending = new Map();
  const typers = new Map();
  let socket = null;
  let joined = false;
  let attempt = 0;
  let stopped = false;
  let lastTypingSent = 0;
  let reconnectTimer = null;

  function setStatus(text, offline) {
    status.textContent = text;
    status.classList.toggle("offline", Boolean(offline));
  }

  function formatTime(iso) {
    const d = new Date(iso);
    const pad = (n) => String(n).padStart(2, "0");
    return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())} UTC`;
  }

  function messageItem(author, text, iso) {
    const li = document.createElement("li");
    const who = document.createElement("span");
    who.className = "author";
    who.textContent = author;
    const time = document.createElement("time");
    if (iso) {
      time.dateTime = iso;
      time.textContent = formatTime(iso);
    } else {
      time.textContent = "sending…";
    }
    const p = document.createElement("p");
    p.className = "body";
    p.textContent = text;
    li.append(who, " ", time, p);
    return li;
  }

  function atBottom() {
    return window.innerHeight + window.scrollY >= document.body.scrollHeight - 80;
  }

  function appendMessage(m) {
    if (m.seq <= lastSeq) return; // already on the page
    const follow = atBottom();
    const mine = pending.get(m.nonce);
    if (mine && mine.element) mine.element.remove();
    pending.delete(m.nonce);
    const li = messageItem(m.user.name, m.body, m.sent_at);
    li.id = "m" + m.seq;
    li.dataset.seq = String(m.seq);
    list.append(li);
    lastSeq = m.seq;
    // seq counts the room's messages: the newest one's is the count.
    if (count) count.textContent = `${m.seq} message${m.seq === 1 ? "" : "s"}`;
    if (empty) empty.remove();
    clearTyping(m.user.id);
    if (follow || mine) li.scrollIntoView({ block: "end" });
  }

  function renderOnline(users) {
    online.replaceChildren(
      ...users.map((u) => {
        const li = document.createElement("li");
        li.dataset.userId = String(u.id);
        li.textContent = u.name;
        return li;
      })
    );
  }

  function setPresence(user, isOnline) {
    const existing = online.querySelector(`li[data-user-id="${user.id}"]`);
    if (isOnline && !existing) {
      const li = document.createElement("li");
      li.dataset.userId = String(user.id);
      li.textContent = user.name;
      online.append(li);
    } else if (!isOnline && existing) {
      existing.remove();
      clearTyping(user.id);
    }
  }

  function showTyping() {
    const names = [...typers.values()].map((t) => t.name);
    typingLine.textContent =
      names.length === 0 ? "" : names.length === 1 ? `${names[0]} is typing…` : `${names.join(", ")} are typing…`;
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
    typers.set(user.id, { name: user.name, timer: setTimeout(() => clearTyping(user.id), 3000) });
    showTyping();
  }

  function transmit(nonce) {
    const p = pending.get(nonce);
    if (p && socket && socket.readyState === WebSocket.OPEN && joined) {
      socket.send(JSON.stringify({ type: "send", room: roomId, body: p.body, nonce }));
    }
  }

  function onFrame(frame) {
    switch (frame.type) {
      case "message":
        if (frame.room === roomId) appendMessage(frame);
        break;
      case "joined":
        joined = true;
        attempt = 0;
        renderOnline(frame.online);
        setStatus(frame.truncated ? "Live. Some older messages were skipped: reload to see them." : "Live", false);
        for (const nonce of pending.keys()) transmit(nonce); // resend what was not acknowledged
        break;
      case "presence":
        setPresence(frame.user, frame.online);
        break;
      case "typing":
        typing(frame.user);
        break;
      case "left":
        stopped = true;
        setStatus("This room was deleted.", true);
        if (form) form.querySelector("button").disabled = true;
        socket.close(1000);
        break;
      case "error": {
        const p = frame.ref && pending.get(frame.ref);
        if (!p) break;
        if (frame.code === "unavailable") {
          setTimeout(() => transmit(frame.ref), 1000); // not stored: same nonce again later
        } else {
          p.element.remove();
          pending.delete(frame.ref);
          bodyError.textContent = frame.message;
          if (!body.value) body.value = p.body;
        }
        break;
      }
    }
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(`${scheme}//${location.host}/ws`);
    joined = false;
    setStatus(attempt === 0 ? "Connecting…" : "Reconnecting…", attempt > 0);
    socket.addEventListener("open", () => {
      socket.send(JSON.stringify({ type: "join", room: roomId, since: lastSeq }));
    });
    socket.addEventListener("message", (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch (_) {
        return;
      }
      onFrame(frame);
    });
    socket.addEventListener("close", (event) => {
      joined = false;
      if (stopped) return;
      if (event.code === 1008) {
        stopped = true;
        setStatus("Your session has ended. Reload the page to sign in again.", true);
        return;
      }
      attempt += 1;
      const delay = Math.min(10000, 500 * 2 ** Math.min(attempt, 5)) * (0.5 + Math.random() / 2);
      setStatus(`Offline. Reconnecting in ${Math.ceil(delay / 1000)} s…`, true);
      reconnectTimer = setTimeout(() => {
        reconnectTimer = null;
        connect();
      }, delay);
    });
  }

  if (form) {
    form.addEventListener("submit", (event) => {
      const text = body.value.trim();
      if (!text) return; // let the server say it is empty
      event.preventDefault();
      bodyError.textContent = "";
      const nonce = "w-" + (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random());
      const element = messageItem("you", text, null);
      element.className = "pending";
      list.append(element);
      element.scrollIntoView({ block: "end" });
      pending.set(nonce, { body: text, element });
      body.value = "";
      lastTypingSent = 0; // the next keystroke starts a new message: say so at once
      transmit(nonce);
    });
    body.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    body.addEventListener("input", () => {
      const now = Date.now();
      if (joined && now - lastTypingSent > 2000 && body.value.trim()) {
        lastTypingSent = now;
        socket.send(JSON.stringify({ type: "typing", room: roomId }));
      }
    });
  }

  // Back online: do not wait for the backoff.
  window.addEventListener("online", () => {
    if (!stopped && reconnectTimer) {
      clearTimeout(reconnectTimer);
      reconnectTimer = null;
      connect();
    }
  });
  connect();
})();
