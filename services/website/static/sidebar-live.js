// Keeps the sidebar of my rooms live on pages other than a room's (the
// room page does it itself): a socket that joins no room still gets the
// `unread` frames of every room of mine, and after each (re)connect the
// list is read again, since those frames are not sent at connect.

import { Sidebar } from "./room/sidebar.js";

const sidebar = new Sidebar(null);
let attempt = 0;

function connect() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(`${scheme}//${location.host}/ws`);
  socket.addEventListener("open", () => {
    attempt = 0;
    sidebar.refresh();
  });
  socket.addEventListener("message", (event) => {
    let frame;
    try {
      frame = JSON.parse(event.data);
    } catch (_) {
      return;
    }
    if (frame.type === "unread") sidebar.unread(frame);
  });
  socket.addEventListener("close", async (event) => {
    attempt += 1;
    const wait = Math.min(30000, 500 * 2 ** Math.min(attempt, 6)) * (0.5 + Math.random() / 2);
    // 1008: the token expired or the session ended. A request renews the
    // cookie if the session still holds (another tab may have kept it
    // alive); only a 401 means signed out for good.
    if (event.code === 1008) {
      try {
        const me = await fetch("/api/v1/users/me", { credentials: "same-origin" });
        if (me.status === 401) return;
      } catch (_) {
        // Offline: try again like any other drop.
      }
    }
    setTimeout(connect, wait);
  });
}

if (document.getElementById("my-rooms")) connect();
