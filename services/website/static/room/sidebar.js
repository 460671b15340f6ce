// The sidebar of my rooms, direct messages and assistant chats, kept live: `unread` frames
// (for my other rooms) set a room's badges; after every (re)connect the list is read again from
// GET /api/v1/me/rooms, since unread frames are not sent at connect. The room
// on screen never shows a badge. News in another room may notify (notify.js).

import { el } from "./dom.js";
import * as notify from "./notify.js";

const CAP = 1000; // the store counts at most this many unread messages

function label(n) {
  return n >= CAP ? "999+" : String(n);
}

export class Sidebar {
  constructor(currentRoom) {
    this.current = currentRoom;
    this.list = document.getElementById("my-rooms");
    this.dms = document.getElementById("my-dms");
    this.chats = document.getElementById("my-chats");
    this.total = document.getElementById("my-rooms-total");
    const nav = this.list ? this.list.closest(".sidebar") : null;
    /** My id: a DM is named after the others. */
    this.me = nav ? Number(nav.dataset.me) : 0;
    /** Unread state by room id, as last heard. */
    this.state = new Map();
    if (!this.list) return;
    for (const li of [...this.list.children, ...this.others().flatMap((l) => [...l.children])]) {
      const unread = li.querySelector(".badge.unread");
      const mention = li.querySelector(".badge.mention");
      this.state.set(Number(li.dataset.roomId), {
        unread: unread ? parseInt(unread.textContent, 10) || 0 : 0,
        mentions: mention ? 1 : 0,
      });
    }
  }

  /** Applies an `unread` frame; an unknown room means the list changed. */
  unread(frame) {
    if (!this.list) return;
    const li = this.item(frame.room);
    if (!li) {
      this.refresh();
      return;
    }
    const before = this.state.get(frame.room) || { unread: 0, mentions: 0 };
    this.set(li, frame.room, frame.unread, frame.mentions);
    if (frame.room !== this.current) {
      const name = li.querySelector(".label");
      const text = name ? name.textContent : "";
      const label = this.list.contains(li) ? `#${text}` : text;
      notify.unread(frame.room, label, frame.unread > before.unread, frame.mentions > before.mentions);
    }
    this.summarise();
  }

  /** The lists besides the rooms': the DMs and the assistant chats. */
  others() {
    return [this.dms, this.chats].filter(Boolean);
  }

  /** The room's entry, among the rooms, the DMs or the chats. */
  item(roomId) {
    const sel = `li[data-room-id="${roomId}"]`;
    for (const list of [this.list, ...this.others()]) {
      const li = list.querySelector(sel);
      if (li) return li;
    }
    return null;
  }

  set(li, roomId, unread, mentions) {
    const current = roomId === this.current;
    this.state.set(roomId, { unread: current ? 0 : unread, mentions: current ? 0 : mentions });
    const badges = li.querySelector(".badges");
    badges.replaceChildren();
    li.classList.toggle("has-unread", !current && unread > 0);
    if (current) return;
    if (unread > 0) {
      const b = el("span", "badge unread", label(unread));
      b.title = `${unread} unread`;
      b.append(el("span", "visually-hidden", " unread"));
      badges.append(b);
    }
    if (mentions > 0) {
      const m = el("span", "badge mention", "@");
      m.title = `${mentions} mention${mentions === 1 ? "" : "s"}`;
      m.append(el("span", "visually-hidden", " mentioned"));
      badges.append(m);
    }
  }

  /** The collapsed sidebar's summary (on a phone): totals of the other rooms. */
  summarise() {
    if (!this.total) return;
    let unread = 0;
    let mentions = 0;
    for (const [id, s] of this.state) {
      if (id === this.current) continue;
      unread += s.unread;
      mentions += s.mentions;
    }
    this.total.replaceChildren();
    if (unread > 0) this.total.append(el("span", "badge unread", label(unread)));
    if (mentions > 0) this.total.append(el("span", "badge mention", "@"));
  }

  /** Reads my rooms again and redraws the list. */
  async refresh() {
    if (!this.list) return;
    let body;
    try {
      const res = await fetch("/api/v1/me/rooms", { credentials: "same-origin", headers: { accept: "application/json" } });
      if (!res.ok) return;
      body = await res.json();
    } catch (_) {
      return; // offline: the next reconnect tries again
    }
    const entry = (r) => {
      const li = el("li");
      li.dataset.roomId = String(r.room.id);
      const a = el("a");
      a.href = `/rooms/${r.room.id}`;
      if (r.room.kind === "dm") {
        const others = (r.room.people || []).filter((p) => p.id !== this.me);
        if (others.length > 0) {
          const img = el("img", "avatar avatar-tiny");
          img.src = others[0].avatar_url;
          img.alt = "";
          img.width = 20;
          img.height = 20;
          a.append(img);
        }
        const name = others.map((p) => p.display_name || p.username).join(", ") || "Just you";
        a.append(el("span", "label", name));
      } else if (r.room.kind === "assistant") {
        const mark = el("span", "chat-mark", "✦");
        mark.setAttribute("aria-hidden", "true");
        a.append(mark, el("span", "label", r.room.name));
      } else {
        const hash = el("span", "hash", "#");
        hash.setAttribute("aria-hidden", "true");
        a.append(hash, el("span", "label", r.room.name));
      }
      a.append(el("span", "badges"));
      if (r.room.id === this.current) {
        li.classList.add("current");
        a.setAttribute("aria-current", "page");
      }
      li.append(a);
      return li;
    };
    const rooms = body.rooms.filter((r) => r.room.kind === "room");
    const dms = body.rooms.filter((r) => r.room.kind === "dm");
    const chats = body.rooms.filter((r) => r.room.kind === "assistant");
    chats.sort((x, y) => y.room.id - x.room.id);
    const roomItems = rooms.map(entry);
    const dmItems = dms.map(entry);
    const chatItems = chats.map(entry);
    dmItems.sort((x, y) => x.textContent.localeCompare(y.textContent));
    this.list.replaceChildren(...roomItems);
    if (this.dms) this.dms.replaceChildren(...dmItems);
    if (this.chats) this.chats.replaceChildren(...chatItems);
    this.state.clear();
    rooms.forEach((r, i) => this.set(roomItems[i], r.room.id, r.unread, r.mentions));
    chats.forEach((r, i) => this.set(chatItems[i], r.room.id, r.unread, 0));
    for (const r of dms) {
      const li = dmItems.find((x) => x.dataset.roomId === String(r.room.id));
      if (li) this.set(li, r.room.id, r.unread, r.mentions);
    }
    const empty = document.getElementById("my-rooms-empty");
    if (empty) empty.hidden = roomItems.length > 0;
    const dmsEmpty = document.getElementById("my-dms-empty");
    if (dmsEmpty) dmsEmpty.hidden = dmItems.length > 0;
    const chatsEmpty = document.getElementById("my-chats-empty");
    if (chatsEmpty) chatsEmpty.hidden = chatItems.length > 0;
    this.summarise();
  }
}
