// The room page's connection logic (static/room/live.js and sync.js) in
// node, without a browser or a server: a stub WebSocket, fetch, window and
// location. Gaps in a room's seqs wait for a re-join with `since` (one at a
// time, a few tries at most); changes wait in order after `rate_limited`
// (for `retry_after`) or `unavailable` (a backoff), keep their nonce, and a
// final refusal hands the text back; a close with 1008 asks the website
// whether the session holds before giving up.
import { test, mock, beforeEach, afterEach } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

// The page's modules are plain ES modules in a directory without a
// package.json: load a copy marked as ES modules, whatever node's version.
const source = new URL("../../services/website/static/room/", import.meta.url);
const dir = mkdtempSync(join(tmpdir(), "parley-room-js-"));
for (const file of readdirSync(source)) if (file.endsWith(".js")) copyFileSync(new URL(file, source), join(dir, file));
writeFileSync(join(dir, "package.json"), '{"type":"module"}\n');
process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
const { Live, SESSION_CHECK } = await import(pathToFileURL(join(dir, "live.js")).href);
const { backoff, Outbox, Sequencer } = await import(pathToFileURL(join(dir, "sync.js")).href);

const ROOM = 7;

/** A WebSocket that records what the page sends and lets the test speak for the server. */
class FakeSocket extends EventTarget {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSING = 2;
  static CLOSED = 3;
  static all = [];
  constructor(url) {
    super();
    this.url = url;
    this.readyState = FakeSocket.CONNECTING;
    this.sent = [];
    FakeSocket.all.push(this);
  }
  send(data) {
    assert.equal(this.readyState, FakeSocket.OPEN, "sent on an open socket only");
    this.sent.push(JSON.parse(data));
  }
  close() {
    this.readyState = FakeSocket.CLOSED;
  }
  // The server's side:
  open() {
    this.readyState = FakeSocket.OPEN;
    this.dispatchEvent(new Event("open"));
  }
  receive(...frames) {
    for (const frame of frames) this.dispatchEvent(Object.assign(new Event("message"), { data: JSON.stringify(frame) }));
  }
  drop(code) {
    this.readyState = FakeSocket.CLOSED;
    this.dispatchEvent(Object.assign(new Event("close"), { code }));
  }
  joins() {
    return this.sent.filter((f) => f.type === "join");
  }
  changes() {
    return this.sent.filter((f) => f.type !== "join").map((f) => f.nonce);
  }
}

let fetches;
let fetchAnswer;
beforeEach(() => {
  FakeSocket.all = [];
  fetches = [];
  fetchAnswer = async () => ({ status: 200, ok: true });
  globalThis.WebSocket = FakeSocket;
  globalThis.window = new EventTarget();
  globalThis.location = { protocol: "http:", host: "parley.test" };
  globalThis.fetch = (url, init) => {
    fetches.push({ url, init });
    return fetchAnswer();
  };
  mock.timers.enable({ apis: ["setTimeout", "Date"], now: 1_000_000 });
});
afterEach(() => mock.timers.reset());

/** A Live on room 7 holding seq `lastSeq`, recording what it tells the page. */
function page(lastSeq = 40) {
  const seen = { events: [], mine: [], settled: [], refused: [], status: [], pending: [], joined: 0, ended: 0, other: [] };
  const live = new Live(ROOM, lastSeq, {
    status: (text, offline) => seen.status.push({ text, offline }),
    joined: () => (seen.joined += 1),
    event: (frame, mine) => {
      seen.events.push(frame.seq);
      if (mine) seen.mine.push(mine.frame.nonce);
    },
    settled: (mine) => seen.settled.push(mine.frame.nonce),
    pending: (entry) => seen.pending.push([entry.frame.nonce, entry.status]),
    refused: (entry, frame) => seen.refused.push({ nonce: entry.frame.nonce, body: entry.frame.body, code: frame.code }),
    frame: (frame) => seen.other.push(frame),
    ended: () => (seen.ended += 1),
  });
  return { live, seen };
}

/** Connects and joins: the socket, the join answered. */
function connected(live) {
  live.connect();
  const socket = FakeSocket.all.at(-1);
  socket.open();
  socket.receive({ type: "joined", room: ROOM, last_seq: live.lastSeq, online: [], truncated: false });
  return socket;
}

const message = (seq, extra = {}) => ({ type: "message", room: ROOM, seq, id: 1000 + seq, user: { id: 3, name: "ann" }, body: `m${seq}`, sent_at: "2026-01-01T00:00:00Z", mentions: [], ...extra });
const send = (n, body = n) => ({ type: "send", room: ROOM, body, nonce: n });
const error = (ref, code, extra = {}) => ({ type: "error", code, message: `${code}!`, ref, ...extra });
/** Lets pending promises (fetch) settle. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

// --- M10: gaps ---------------------------------------------------------------

test("N+1 before N: N+1 waits, a re-join with since=N-1 goes out, then both apply in order, once", () => {
  const { live, seen } = page(40);
  const socket = connected(live);
  assert.deepEqual(socket.joins(), [{ type: "join", room: ROOM, since: 40 }]);

  socket.receive(message(42)); // N+1 (N = 41)
  assert.deepEqual(seen.events, [], "not applied past a gap");
  assert.deepEqual(socket.joins().at(-1), { type: "join", room: ROOM, since: 40 }, "re-join with since = N-1");
  socket.receive(message(43));
  assert.equal(socket.joins().length, 2, "one re-join in flight at a time");

  socket.receive(message(41)); // N, late
  assert.deepEqual(seen.events, [41, 42, 43], "N, then what waited behind it");

  // The re-join's replay and answer: nothing twice, no further join.
  socket.receive(message(41), message(42), message(43), { type: "joined", room: ROOM, last_seq: 43, online: [], truncated: false });
  socket.receive(message(44));
  assert.deepEqual(seen.events, [41, 42, 43, 44]);
  assert.equal(live.lastSeq, 44);
  assert.equal(socket.joins().length, 2);
  mock.timers.tick(120_000);
  assert.equal(socket.joins().length, 2, "no re-join once the gap is closed");
});

test("a gap is filled by the re-join's replay", () => {
  const { live, seen } = page(10);
  const socket = connected(live);
  socket.receive(message(13));
  assert.deepEqual(socket.joins().at(-1), { type: "join", room: ROOM, since: 10 });
  socket.receive(message(11), message(12), message(13), { type: "joined", room: ROOM, last_seq: 13, online: [], truncated: false });
  assert.deepEqual(seen.events, [11, 12, 13]);
  assert.equal(seen.joined, 2);
});

test("a gap that a re-join does not fill cannot loop: a few spaced tries, then the room goes on", () => {
  const { live, seen } = page(10);
  const socket = connected(live);
  socket.receive(message(12));
  const answer = () => socket.receive({ type: "joined", room: ROOM, last_seq: 12, online: [], truncated: false });
  for (let i = 0; i < 10; i++) {
    answer(); // the replay never brings 11
    mock.timers.tick(60_000);
  }
  assert.ok(socket.joins().length <= 4, `at most 1 + 3 re-joins, not ${socket.joins().length}`);
  assert.deepEqual(seen.events, [12], "after the tries, what waited is applied");
  socket.receive(message(13));
  assert.deepEqual(seen.events, [12, 13]);
});

test("a truncated replay jumps: its events apply without another join", () => {
  const { live, seen } = page(10);
  live.connect();
  const socket = FakeSocket.all[0];
  socket.open();
  socket.receive(message(500), message(501), { type: "joined", room: ROOM, last_seq: 501, online: [], truncated: true });
  assert.deepEqual(seen.events, [500, 501]);
  assert.equal(socket.joins().length, 1);
});

test("every event with a seq counts (an annotation too): no false gap", () => {
  const { live, seen } = page(10);
  const socket = connected(live);
  socket.receive({ type: "annotation", room: ROOM, seq: 11, id: 1, kind: "emotion", labels: [] }, message(12));
  assert.deepEqual(seen.events, [11, 12]);
  assert.equal(socket.joins().length, 1);
});

test("my echo past a gap acknowledges the change only when it applies", () => {
  const { live, seen } = page(10);
  const socket = connected(live);
  live.change(send("w-a"));
  socket.receive(message(12, { nonce: "w-a" }));
  assert.deepEqual(seen.mine, []);
  socket.receive(message(11));
  assert.deepEqual(seen.events, [11, 12]);
  assert.deepEqual(seen.mine, ["w-a"]);
});

test("the Sequencer alone: old, applied, gap", () => {
  const applied = [];
  const s = new Sequencer(5, (f) => applied.push(f.seq));
  assert.equal(s.offer({ seq: 5 }), "old");
  assert.equal(s.offer({ seq: 7 }), "gap");
  assert.equal(s.gap, true);
  assert.equal(s.offer({ seq: 6 }), "applied");
  assert.deepEqual(applied, [6, 7]);
  assert.equal(s.gap, false);
});

// --- M9: changes wait, in order, and are never dropped ------------------------

test("rate_limited: the change waits retry_after seconds, then goes again with its nonce, before the ones behind it", () => {
  const { live, seen } = page(0);
  const socket = connected(live);
  for (const n of ["n1", "n2", "n3"]) live.change(send(n));
  assert.deepEqual(socket.changes(), ["n1", "n2", "n3"], "pipelined");
  socket.receive(message(1, { nonce: "n1" }));
  socket.receive(error("n2", "rate_limited", { retry_after: 3 }), error("n3", "rate_limited", { retry_after: 3 }));
  assert.deepEqual(seen.refused, [], "not refused for good");
  assert.deepEqual(seen.pending.filter(([, s]) => s === "waiting").map(([n]) => n).sort(), ["n2", "n3"], "both say they wait");
  live.change(send("n4"));
  assert.deepEqual(socket.changes(), ["n1", "n2", "n3"], "a new one waits behind them");

  mock.timers.tick(2_900);
  assert.deepEqual(socket.changes(), ["n1", "n2", "n3"], "not before retry_after");
  mock.timers.tick(100);
  assert.deepEqual(socket.changes(), ["n1", "n2", "n3", "n2"], "the first held one goes first, alone");
  socket.receive(message(2, { nonce: "n2" }));
  assert.deepEqual(socket.changes(), ["n1", "n2", "n3", "n2", "n3", "n4"], "then the rest, in order");
  socket.receive(message(3, { nonce: "n3" }), message(4, { nonce: "n4" }));
  assert.deepEqual(seen.mine, ["n1", "n2", "n3", "n4"]);
  assert.equal(live.outbox.size, 0);
});

test("rate_limited without retry_after waits 1 s; refused again, it waits again", () => {
  const { live } = page(0);
  const socket = connected(live);
  live.change(send("a"));
  socket.receive(error("a", "rate_limited"));
  mock.timers.tick(999);
  assert.deepEqual(socket.changes(), ["a"]);
  mock.timers.tick(1);
  assert.deepEqual(socket.changes(), ["a", "a"]);
  socket.receive(error("a", "rate_limited", { retry_after: 5 }));
  mock.timers.tick(4_999);
  assert.deepEqual(socket.changes(), ["a", "a"]);
  mock.timers.tick(1);
  assert.deepEqual(socket.changes(), ["a", "a", "a"]);
});

test("backoff: 1 s doubling to 30 s, with jitter", () => {
  const low = () => 0;
  const high = () => 0.999999;
  const expected = [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000];
  expected.forEach((full, i) => {
    assert.equal(backoff(i + 1, low), full / 2, `attempt ${i + 1}, least`);
    assert.equal(backoff(i + 1, high), full, `attempt ${i + 1}, most`);
  });
});

test("unavailable: the same nonce again after a growing, jittered delay", () => {
  const sent = [];
  const box = new Outbox((f) => sent.push(f.nonce) > 0, { random: () => 1 });
  box.add(send("u"));
  const gaps = [];
  let last = Date.now();
  for (let i = 0; i < 7; i++) {
    box.refuse("u", "unavailable");
    const before = sent.length;
    while (sent.length === before) mock.timers.tick(100);
    gaps.push(Date.now() - last);
    last = Date.now();
  }
  assert.deepEqual(gaps, [1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  assert.ok(sent.every((n) => n === "u"));
});

test("a final refusal hands the change back (text and all); the ones behind go on", () => {
  const { live, seen } = page(0);
  const socket = connected(live);
  live.change(send("big", "x".repeat(5000)));
  live.change(send("ok"));
  socket.receive(error("big", "too_long"));
  assert.deepEqual(seen.refused, [{ nonce: "big", body: "x".repeat(5000), code: "too_long" }]);
  socket.receive(message(1, { nonce: "ok" }));
  assert.deepEqual(seen.mine, ["ok"]);
  assert.equal(live.outbox.size, 0);
});

test("not_joined: join again and resend; refused again after the re-join, it is final", () => {
  const { live, seen } = page(5);
  const socket = connected(live);
  live.change(send("j"));
  socket.receive(error("j", "not_joined"));
  assert.deepEqual(socket.joins().at(-1), { type: "join", room: ROOM, since: 5 });
  assert.deepEqual(socket.changes(), ["j"], "not before the join is answered");
  socket.receive({ type: "joined", room: ROOM, last_seq: 5, online: [], truncated: false });
  assert.deepEqual(socket.changes(), ["j", "j"]);
  socket.receive(error("j", "not_joined"));
  assert.deepEqual(seen.refused.map((r) => r.nonce), ["j"]);
});

test("a reconnect resends what was not acknowledged, same nonces, in order", () => {
  const { live, seen } = page(0);
  let socket = connected(live);
  for (const n of ["r1", "r2", "r3"]) live.change(send(n));
  socket.receive(message(1, { nonce: "r1" }));
  socket.drop(1006);
  mock.timers.tick(10_000);
  socket = FakeSocket.all.at(-1);
  assert.equal(FakeSocket.all.length, 2);
  socket.open();
  assert.deepEqual(socket.joins(), [{ type: "join", room: ROOM, since: 1 }]);
  socket.receive(message(2, { nonce: "r2" }), { type: "joined", room: ROOM, last_seq: 2, online: [], truncated: false });
  assert.deepEqual(socket.changes(), ["r3"], "r2 came back in the replay: only r3 goes again");
  assert.deepEqual(seen.mine, ["r1", "r2"]);
});

test("a join refused by the join limit is sent again after retry_after", () => {
  const { live } = page(3);
  live.connect();
  const socket = FakeSocket.all[0];
  socket.open();
  socket.receive(error(String(ROOM), "rate_limited", { retry_after: 2 }));
  assert.equal(socket.joins().length, 1);
  mock.timers.tick(2_000);
  assert.equal(socket.joins().length, 2);
});

// --- L15: 1008 at token expiry ---------------------------------------------

test("close 1008 while the session holds (200): a new socket, joined with since", async () => {
  const { live, seen } = page(42);
  const first = connected(live);
  first.drop(1008);
  await settle();
  assert.deepEqual(fetches, [{ url: SESSION_CHECK, init: { credentials: "same-origin", cache: "no-store" } }]);
  assert.equal(SESSION_CHECK, "/api/v1/users/me");
  assert.equal(FakeSocket.all.length, 2, "a new socket is opened");
  const second = FakeSocket.all[1];
  assert.equal(second.url, "ws://parley.test/ws");
  second.open();
  assert.deepEqual(second.joins(), [{ type: "join", room: ROOM, since: 42 }]);
  assert.equal(seen.ended, 0);
  assert.ok(!seen.status.some((s) => /session has ended/.test(s.text)));
});

test("close 1008 once the session ended (401): stop and say so", async () => {
  fetchAnswer = async () => ({ status: 401, ok: false });
  const { live, seen } = page(42);
  live.change(send("late", "typed before the end"));
  const first = connected(live);
  first.drop(1008);
  await settle();
  mock.timers.tick(120_000);
  assert.equal(FakeSocket.all.length, 1, "no new socket");
  assert.match(seen.status.at(-1).text, /session has ended/i);
  assert.equal(seen.status.at(-1).offline, true);
  assert.equal(seen.ended, 1);
  assert.deepEqual(live.abandon().map((p) => p.frame.body), ["typed before the end"], "what waited is the page's to give back");
});

test("close 1008 with the website unreachable: try again later, as after any drop", async () => {
  fetchAnswer = async () => {
    throw new TypeError("network");
  };
  const { live, seen } = page(1);
  connected(live).drop(1008);
  await settle();
  assert.equal(FakeSocket.all.length, 1);
  mock.timers.tick(10_000);
  assert.equal(FakeSocket.all.length, 2);
  assert.equal(seen.ended, 0);
});
