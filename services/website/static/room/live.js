// The room's connection to /ws: joins with `since` (the highest sequenced
// seq held), reconnects with backoff, and keeps every change sent (send,
// edit, delete, react) until its echo or error arrives, resending it with
// the same nonce after a reconnect (the server stores it once).

/** A fresh nonce for one change. */
export function nonce() {
  return "w-" + (crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(36).slice(2)}`);
}

export class Live {
  /**
   * @param {number} roomId
   * @param {() => number} since the highest sequenced seq held
   * @param {{frame: (f: object) => void, status: (text: string, offline: boolean) => void, joined: (f: object) => void, ended: () => void}} on
   */
  constructor(roomId, since, on) {
    this.roomId = roomId;
    this.since = since;
    this.on = on;
    /** Changes not yet acknowledged, by nonce, in order. */
    this.pending = new Map();
    this.socket = null;
    this.joined = false;
    this.attempt = 0;
    this.stopped = false;
    this.timer = null;
    window.addEventListener("online", () => {
      if (!this.stopped && this.timer) {
        clearTimeout(this.timer);
        this.timer = null;
        this.connect();
      }
    });
  }

  /** Sends a frame now if joined; false when it could not go. */
  send(frame) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN && this.joined) {
      this.socket.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }

  /** Sends a change and keeps it until it is acknowledged. */
  change(frame, extra = {}) {
    this.pending.set(frame.nonce, { frame, ...extra });
    this.send(frame);
  }

  /** The pending change with this nonce, now settled (echoed or refused). */
  settle(nonce) {
    const p = nonce && this.pending.get(nonce);
    if (p) this.pending.delete(nonce);
    return p || null;
  }

  /** Tries a change again later with the same nonce (the server was unavailable). */
  retry(nonce) {
    setTimeout(() => {
      const p = this.pending.get(nonce);
      if (p) this.send(p.frame);
    }, 1000);
  }

  stop(text) {
    this.stopped = true;
    this.on.status(text, true);
    if (this.socket) this.socket.close(1000);
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}/ws`);
    this.socket = socket;
    this.joined = false;
    this.on.status(this.attempt === 0 ? "Connecting…" : "Reconnecting…", this.attempt > 0);
    socket.addEventListener("open", () => {
      socket.send(JSON.stringify({ type: "join", room: this.roomId, since: this.since() }));
    });
    socket.addEventListener("message", (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch (_) {
        return;
      }
      if (frame.type === "joined" && frame.room === this.roomId) {
        this.joined = true;
        this.attempt = 0;
        for (const p of this.pending.values()) this.send(p.frame); // resend what was not acknowledged
        this.on.joined(frame);
        return;
      }
      this.on.frame(frame);
    });
    socket.addEventListener("close", (event) => {
      this.joined = false;
      if (this.stopped || socket !== this.socket) return;
      if (event.code === 1008) {
        this.stop("Your session has ended. Reload the page to sign in again.");
        this.on.ended();
        return;
      }
      this.attempt += 1;
      const delay = Math.min(10000, 500 * 2 ** Math.min(this.attempt, 5)) * (0.5 + Math.random() / 2);
      this.on.status(`Offline. Reconnecting in ${Math.ceil(delay / 1000)} s…`, true);
      this.timer = setTimeout(() => {
        this.timer = null;
        this.connect();
      }, delay);
    });
  }
}
