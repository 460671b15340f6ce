// The room's connection to /ws. It joins with `since` (the highest seq
// held) and applies the room's events in seq order: an event past a gap
// waits while the room is joined again with `since`, whose replay fills
// the gap (one join in flight at a time, a few tries at most). It keeps
// every change (send, edit, delete, react) until its echo or a final
// refusal, in order, resending it with the same nonce after a reconnect,
// after the rate limit's `retry_after` or after a backoff (sync.js's
// Outbox). It reconnects with backoff; a close with 1008 (the session was
// revoked, or only the connection's token expired) asks the website
// whether the session still holds before giving up.
import { Outbox, Sequencer, backoff } from "./sync.js";

/** A fresh nonce for one change. */
export function nonce() {
  return "w-" + (globalThis.crypto && crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(36).slice(2)}`);
}

/** A cheap authenticated read: 200 while the session holds (and renews its cookie), 401 once it ended. */
export const SESSION_CHECK = "/api/v1/users/me";
/** Re-joins for one gap before the page gives up on it and goes on. */
const GAP_TRIES = 3;
const ENDED = "Your session has ended. Reload the page to sign in again.";

export class Live {
  /**
   * @param {number} roomId
   * @param {number} lastSeq the highest seq the page holds
   * @param {{
   *   status: (text: string, offline: boolean) => void,
   *   joined: (frame: object) => void,
   *   event: (frame: object, mine: object | null) => void,
   *   settled: (mine: object) => void,
   *   pending: (entry: object) => void,
   *   refused: (entry: object, frame: object) => void,
   *   frame: (frame: object) => void,
   *   ended: () => void,
   * }} on what the page does: `event` gets each sequenced event once, in
   *   order, with the change of mine it acknowledges; `settled` a change
   *   whose echo was an event held already; `pending` a change whose status
   *   changed ("sending", "waiting", "retrying"); `refused` a change refused
   *   for good; `frame` every other frame
   */
  constructor(roomId, lastSeq, on) {
    this.roomId = roomId;
    this.on = on;
    this.sequencer = new Sequencer(lastSeq, (frame) => this.on.event(frame, this.outbox.settle(frame.nonce)));
    this.outbox = new Outbox((frame) => this.send(frame), { changed: (entry) => this.on.pending(entry) });
    this.socket = null;
    /** The room is joined on this socket (changes may go). */
    this.joined = false;
    /** A join is in flight on this socket (no other one is sent). */
    this.joining = false;
    /** A join waits to be sent again (refused for now, or a gap that stays). */
    this.joinTimer = null;
    this.joinFailures = 0;
    /** Re-joins that did not close the current gap. */
    this.gapTries = 0;
    this.attempt = 0;
    this.stopped = false;
    this.timer = null;
    /** When a 1008 close last reconnected at once. */
    this.lastPolicyRetry = -Infinity;
    window.addEventListener("online", () => {
      if (!this.stopped && this.timer) {
        clearTimeout(this.timer);
        this.timer = null;
        this.connect();
      }
    });
  }

  /** The highest seq applied. */
  get lastSeq() {
    return this.sequencer.lastSeq;
  }

  /** Sends a frame now if joined; false when it could not go. */
  send(frame) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN && this.joined) {
      this.socket.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }

  /** Sends a change and keeps it until it is acknowledged or refused for good. */
  change(frame, extra = {}) {
    return this.outbox.add(frame, extra);
  }

  /** Every change still waiting, given up (the page keeps their text). */
  abandon() {
    return this.outbox.abandon();
  }

  stop(text) {
    this.stopped = true;
    this.on.status(text, true);
    clearTimeout(this.timer);
    clearTimeout(this.joinTimer);
    if (this.socket) this.socket.close(1000);
  }

  /** Joins the room on the open socket with `since`, unless a join is in flight. */
  join() {
    clearTimeout(this.joinTimer);
    this.joinTimer = null;
    const socket = this.socket;
    if (this.stopped || !socket || socket.readyState !== WebSocket.OPEN) return;
    this.joining = true;
    socket.send(JSON.stringify({ type: "join", room: this.roomId, since: this.lastSeq }));
  }

  /** Joins again after `ms` (nothing else joins meanwhile). */
  joinLater(ms) {
    this.joining = true;
    clearTimeout(this.joinTimer);
    this.joinTimer = setTimeout(() => this.join(), ms);
  }

  /** Events are missing before one that came: the room's replay brings them. */
  gap() {
    if (this.joining || this.joinTimer || !this.joined) return; // the join under way replays them
    this.gapTries += 1;
    this.join();
  }

  onJoined(frame) {
    this.joined = true;
    this.joining = false;
    this.joinFailures = 0;
    clearTimeout(this.joinTimer);
    this.joinTimer = null;
    this.attempt = 0;
    if (frame.truncated) {
      this.sequencer.skipGap(); // the older events were left out: the page says so
      this.gapTries = 0;
    } else if (this.sequencer.gap) {
      if (this.gapTries >= GAP_TRIES) {
        this.sequencer.skipGap(); // not to stall the room for good
        this.gapTries = 0;
        frame = { ...frame, truncated: true };
      } else {
        this.gapTries += 1;
        this.joinLater(backoff(this.gapTries));
      }
    } else {
      this.gapTries = 0;
    }
    this.outbox.joined(); // resends what was not acknowledged, in order
    this.on.joined(frame);
  }

  /** An `error` frame: about a change of mine, about the join, or something else. */
  onError(frame) {
    const refusal = this.outbox.refuse(frame.ref, frame.code, frame.retry_after);
    if (refusal) {
      if (refusal.verdict === "rejoin" && !this.joining && !this.joinTimer) this.join();
      if (refusal.verdict === "final") this.on.refused(refusal.entry, frame);
      return; // else held: it goes again by itself
    }
    if (this.joining && frame.ref === String(this.roomId)) {
      if (frame.code === "rate_limited") {
        this.joinLater(frame.retry_after > 0 ? frame.retry_after * 1000 : 1000);
        return;
      }
      if (frame.code === "unavailable" || frame.code === "internal") {
        this.joinFailures += 1;
        this.joinLater(backoff(this.joinFailures));
        return;
      }
      if (frame.code === "banned") {
        this.stop("You are banned from this room.");
        for (const p of this.abandon()) this.on.refused(p, frame);
        return;
      }
      if (frame.code === "room_not_found") {
        this.stop("This room is not available any more.");
        for (const p of this.abandon()) this.on.refused(p, frame);
        return;
      }
    }
    this.on.frame(frame);
  }

  /** A close with 1008: the session was revoked, or only this connection's token expired. */
  async checkSession(socket) {
    this.on.status("Reconnecting…", true);
    let status = 0;
    try {
      status = (await fetch(SESSION_CHECK, { credentials: "same-origin", cache: "no-store" })).status;
    } catch (_) {
      status = 0; // offline: try again later, as after any drop
    }
    if (this.stopped || socket !== this.socket) return;
    if (status === 401) {
      this.stop(ENDED);
      this.on.ended();
      return;
    }
    const now = Date.now();
    if (status === 200 && now - this.lastPolicyRetry > 60000) {
      this.lastPolicyRetry = now; // the cookie holds a fresh token: at once, once a minute
      this.connect();
      return;
    }
    this.reconnectLater();
  }

  reconnectLater() {
    this.attempt += 1;
    const delay = Math.min(10000, 500 * 2 ** Math.min(this.attempt, 5)) * (0.5 + Math.random() / 2);
    this.on.status(`Offline. Reconnecting in ${Math.ceil(delay / 1000)} s…`, true);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connect();
    }, delay);
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}/ws`);
    this.socket = socket;
    this.joined = false;
    this.joining = false;
    this.on.status(this.attempt === 0 ? "Connecting…" : "Reconnecting…", this.attempt > 0);
    socket.addEventListener("open", () => {
      if (socket === this.socket) this.join();
    });
    socket.addEventListener("message", (event) => {
      if (socket !== this.socket) return;
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch (_) {
        return;
      }
      if (frame.type === "joined" && frame.room === this.roomId) {
        this.onJoined(frame);
      } else if (frame.room === this.roomId && typeof frame.seq === "number") {
        const verdict = this.sequencer.offer(frame);
        if (verdict === "old") {
          const mine = this.outbox.settle(frame.nonce); // the answer to a resend
          if (mine) this.on.settled(mine);
        } else if (verdict === "gap") {
          this.gap();
        }
      } else if (frame.type === "error") {
        this.onError(frame);
      } else {
        this.on.frame(frame);
      }
    });
    socket.addEventListener("close", (event) => {
      if (socket !== this.socket) return;
      this.joined = false;
      this.joining = false;
      clearTimeout(this.joinTimer);
      this.joinTimer = null;
      this.sequencer.reset();
      this.outbox.disconnected();
      if (this.stopped) return;
      if (event.code === 1008) {
        this.checkSession(socket);
        return;
      }
      this.reconnectLater();
    });
  }
}
