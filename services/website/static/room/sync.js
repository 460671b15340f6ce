// The live room's bookkeeping, with no DOM and no network in it, so that
// node tests it as the page runs it (tests/e2e/live.test.mjs):
//   - backoff: the delay before a try again;
//   - Sequencer: a room's events applied in `seq` order, once each; an event
//     past a gap waits for the ones before it (a re-join replays them);
//   - Outbox: the changes (send, edit, delete, react) not yet answered, sent
//     in the order they were made and held, in that order, after a refusal
//     that may pass (`rate_limited`, `unavailable`, `not_joined`).

/**
 * The delay in ms before try number `attempt` (1, 2, ...): 1 s doubling up
 * to 30 s, with jitter (between half of it and all of it), so that pages
 * that failed together do not come back together.
 */
export function backoff(attempt, random = Math.random, first = 1000, cap = 30000) {
  const full = Math.min(cap, first * 2 ** Math.max(0, attempt - 1));
  return Math.round(full / 2 + (random() * full) / 2);
}

/** Events held back past a gap, at most (a re-join replays any beyond). */
const EARLY_MAX = 2000;

/**
 * A room's sequenced events (every frame with a `seq`: messages, edits,
 * deletions, reactions, annotations, ...) in order.
 */
export class Sequencer {
  /**
   * @param {number} lastSeq the highest seq held already
   * @param {(frame: object) => void} apply called once per event, in seq order
   */
  constructor(lastSeq, apply) {
    this.lastSeq = lastSeq;
    this.apply = apply;
    /** Events past a gap, by seq, until the gap closes. */
    this.early = new Map();
  }

  /**
   * Takes an event: "old" (held already: not applied), "applied" (with any
   * that waited behind it), or "gap" (events before it are missing: it
   * waits for them).
   */
  offer(frame) {
    if (frame.seq <= this.lastSeq) return "old";
    if (frame.seq > this.lastSeq + 1) {
      if (this.early.size < EARLY_MAX) this.early.set(frame.seq, frame);
      return "gap";
    }
    this.take(frame);
    this.drain();
    return "applied";
  }

  /** Whether events wait behind a gap. */
  get gap() {
    return this.early.size > 0;
  }

  /**
   * Gives up on the gap (a truncated replay left those events out on
   * purpose): applies what waits, in order, past the missing ones.
   */
  skipGap() {
    const seqs = [...this.early.keys()].sort((a, b) => a - b);
    const frames = seqs.map((s) => this.early.get(s));
    this.early.clear();
    for (const frame of frames) if (frame.seq > this.lastSeq) this.take(frame);
  }

  /** Forgets what waits (a new connection replays it). */
  reset() {
    this.early.clear();
  }

  take(frame) {
    this.lastSeq = frame.seq;
    this.apply(frame);
  }

  drain() {
    for (const seq of [...this.early.keys()]) if (seq <= this.lastSeq) this.early.delete(seq);
    let next;
    while ((next = this.early.get(this.lastSeq + 1))) {
      this.early.delete(next.seq);
      this.take(next);
    }
  }
}

/**
 * The changes not answered yet, by nonce, in the order they were made.
 * Each goes out once per connection; its echo or a final refusal settles
 * it. A refusal that may pass holds the queue: nothing after it goes out
 * before it does, so the room gets them in the order typed:
 *   - `rate_limited`: again after the frame's `retry_after` seconds (1 s
 *     when absent);
 *   - `unavailable`: again after a backoff (1 s doubling to 30 s, jittered);
 *   - `not_joined`: again once the room is joined again (a second
 *     `not_joined` for the same change is final).
 * While held, one change is in flight at a time: the first one through
 * (its echo) lifts the hold and the rest follow together.
 *
 * An entry: {frame, ...extra, sent, status, failures, notJoined}, where
 * status is "sending" (out, or going out now), "waiting" (held by the rate
 * limit, or behind a held one) or "retrying" (held after `unavailable`).
 */
export class Outbox {
  /**
   * @param {(frame: object) => boolean} send sends a frame now; false when it cannot go (not joined)
   * @param {{changed?: (entry: object) => void, setTimeout?: Function, clearTimeout?: Function, now?: () => number, random?: () => number}} options
   */
  constructor(send, options = {}) {
    this.send = send;
    this.changed = options.changed || (() => {});
    this.setTimeout = options.setTimeout || ((f, ms) => setTimeout(f, ms));
    this.clearTimeout = options.clearTimeout || ((t) => clearTimeout(t));
    this.now = options.now || (() => Date.now());
    this.random = options.random || Math.random;
    /** The entries, by nonce, in order. */
    this.entries = new Map();
    /** After a refusal that may pass: one change in flight at a time. */
    this.held = false;
    /** Until when nothing goes out (ms since the epoch), and its timer. */
    this.until = 0;
    this.timer = null;
    /** Nothing goes out before the room is joined again (`not_joined`). */
    this.awaitingJoin = false;
  }

  get size() {
    return this.entries.size;
  }

  /** Queues a change and sends what may go. */
  add(frame, extra = {}) {
    const entry = { ...extra, frame, sent: false, status: "sending", failures: 0, notJoined: 0 };
    this.entries.set(frame.nonce, entry);
    this.pump();
    return entry;
  }

  /** The change with this nonce, now acknowledged (its echo came), or null. */
  settle(nonce) {
    const entry = (nonce && this.entries.get(nonce)) || null;
    if (!entry) return null;
    this.entries.delete(nonce);
    this.held = false; // one went through: the rest may follow together
    this.pump();
    return entry;
  }

  /**
   * A refusal of the change with this nonce: null when no change has it,
   * else `{entry, verdict}` where verdict is "wait" (rate limited), "retry"
   * (unavailable), "rejoin" (not joined: join the room, then it goes
   * again) or "final" (settled: it will not go through as it is).
   */
  refuse(nonce, code, retryAfter) {
    const entry = (nonce && this.entries.get(nonce)) || null;
    if (!entry) return null;
    entry.sent = false;
    if (code === "rate_limited") {
      this.hold(retryAfter > 0 ? retryAfter * 1000 : 1000, entry, "waiting");
      return { entry, verdict: "wait" };
    }
    if (code === "unavailable") {
      entry.failures += 1;
      this.hold(backoff(entry.failures, this.random), entry, "retrying");
      return { entry, verdict: "retry" };
    }
    if (code === "not_joined" && entry.notJoined === 0) {
      entry.notJoined += 1;
      this.held = true;
      this.awaitingJoin = true;
      this.mark(entry, "waiting");
      this.show();
      return { entry, verdict: "rejoin" };
    }
    this.entries.delete(nonce);
    this.pump();
    return { entry, verdict: "final" };
  }

  /** The connection dropped: whatever was out goes again on the next. */
  disconnected() {
    for (const entry of this.entries.values()) entry.sent = false;
    this.awaitingJoin = false;
  }

  /** The room is joined (again): sends what may go. */
  joined() {
    this.awaitingJoin = false;
    this.pump();
  }

  /** Every entry, settled at once (the session or the room ended). */
  abandon() {
    const all = [...this.entries.values()];
    this.entries.clear();
    if (this.timer) this.clearTimeout(this.timer);
    this.timer = null;
    this.held = false;
    return all;
  }

  /** Sends, in order, what may go now. */
  pump() {
    if (!this.timer && !this.awaitingJoin) {
      for (const entry of this.entries.values()) {
        if (entry.sent) {
          if (this.held) break; // one in flight while held
          continue;
        }
        if (!this.send(entry.frame)) break;
        entry.sent = true;
        this.mark(entry, "sending");
        if (this.held) break;
      }
    }
    this.show();
  }

  hold(ms, entry, status) {
    this.held = true;
    this.mark(entry, status);
    const until = this.now() + ms;
    if (!this.timer || until > this.until) {
      this.until = this.timer ? Math.max(this.until, until) : until;
      if (this.timer) this.clearTimeout(this.timer);
      this.timer = this.setTimeout(() => {
        this.timer = null;
        this.pump();
      }, Math.max(0, this.until - this.now()));
    }
    this.show();
  }

  /** Changes that cannot go out yet say they wait. */
  show() {
    if (!this.timer && !this.awaitingJoin && !this.held) return;
    for (const entry of this.entries.values()) {
      if (!entry.sent && entry.status === "sending") this.mark(entry, "waiting");
    }
  }

  mark(entry, status) {
    if (entry.status === status) return;
    entry.status = status;
    this.changed(entry);
  }
}
