#!/usr/bin/env python3
"""A bounded WebSocket frame fuzzer for the chat service (scripts/fuzz).

Sends random and mutated frames of every client frame type of
docs/protocol.md (join, leave, send, edit, delete, react, read, typing) and
of every WebSocket frame type (text, fragmented text, ping, pong, binary),
then checks what protocol.md promises:

- a text frame that is a JSON object (of at most 64 KiB) never closes the
  connection, however wrong: missing or mistyped fields, huge or negative
  numbers, unknown types and fields, deep nesting, numbers out of range,
  unicode junk, sizes at and near the limit, sent whole or in fragments
  cut anywhere; one the protocol cannot take (a missing or unknown `type`,
  a missing or mistyped field) gets its `error` frame before the answer to
  anything sent after it, echoing its nonce (or room) as `ref`;
- every change (send, edit, delete, react) gets exactly one answer, its
  echo or an `error` with its nonce (none needed once its connection left
  the room or closed), and no answer is `internal` or `unavailable` (the
  socket's 5xx: the stack is up, so the request broke something);
- pings are answered with pongs;
- only what protocol.md says closes does: a text frame that is not a JSON
  object or not UTF-8 (1007), a binary frame (1003), a frame over 64 KiB
  (1009), each with its code;
- after the barrage the server still answers: a valid `join` gets
  `joined`, a valid `send` its echo, on the barraged connection and on a
  fresh one to every instance.

`rate_limited` answers (joins: JOIN_PER_SEC/JOIN_BURST per connection,
changes: SEND_LIMIT per user) are fine. Deterministic for a seed (printed;
--seed repeats a run). Needs the `websockets` package; the token comes from
the environment (FUZZ_TOKEN), never the command line.
"""

import argparse
import asyncio
import json
import os
import random
import sys
import time
import urllib.error
import urllib.request

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

MAX_FRAME = 64 * 1024
TYPES = ["join", "leave", "send", "edit", "delete", "react", "read", "typing"]
# Each type's fields: name -> (JSON kind, required). protocol.md's frames.
FIELDS = {
    "join": {"room": ("int", True), "since": ("int", False)},
    "leave": {"room": ("int", True)},
    "send": {"room": ("int", True), "body": ("str", True), "nonce": ("str", True), "reply_to": ("int", False)},
    "edit": {"room": ("int", True), "id": ("int", True), "body": ("str", True), "nonce": ("str", True)},
    "delete": {"room": ("int", True), "id": ("int", True), "nonce": ("str", True)},
    "react": {"room": ("int", True), "id": ("int", True), "emoji": ("str", True), "on": ("bool", True), "nonce": ("str", True)},
    "read": {"room": ("int", True), "seq": ("int", True)},
    "typing": {"room": ("int", True)},
}
CHANGES = {"send", "edit", "delete", "react"}
SEQUENCED = {"message", "edited", "deleted", "reaction"}
I64_MIN, I64_MAX = -(2**63), 2**63 - 1
JUNK = [
    "", " ", "\n\t", "\u0000", "\u0007bell", "\u200b\u200d\u2060", "\u202eRTL override\u202c",
    "\ufeffBOM", "e\u0301\u0301\u0301", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "\U0001f600" * 40, "ℌ𝔢𝔩𝔩𝔬",
    "中文字符", "עברית", "<script>alert(1)</script>", "**bold** @nobody [x](javascript:alert(1))",
    "' OR 1=1 --", "%s%n%x", "../../etc/passwd", "\\u0000", "\ud7ff\ue000\uffff", "\U0010ffff",
    "null", "[]", "{}", "x" * 4000, "x" * 4001, " " * 5000, "ö" * 4000,
]
EMOJI = ["👍", "❤", "❤️", "🏳️‍🌈", "👨‍👩‍👧‍👦", "x", "", " 👍", "👍👍", "🇺🇳", "\u0000", "👍🏽" * 3]


class Failure(Exception):
    pass


def dumps(value):
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def short(text, n=160):
    text = text if isinstance(text, str) else repr(text)
    return text if len(text) <= n else f"{text[:n]}... ({len(text)} chars)"


def api(base, method, path, token, body=None, xff=None):
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if xff:
        headers["X-Real-IP"] = xff
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


class Fuzzer:
    def __init__(self, args, token, rng):
        self.args, self.token, self.rng = args, token, rng
        self.urls = args.url
        self.ws = None
        self.conn_index = 0
        self.counter = 0
        self.sent = 0
        self.stats = {"text": 0, "fragmented": 0, "ping": 0, "pong": 0,
                      "closing": 0, "error_frames": 0, "rate_limited": 0, "checked_errors": 0,
                      "reconnects": 0, "stored": 0}
        self.codes = {}
        self.answers = {}  # a tracked change's nonce -> its answers, room, excused
        self.history = []  # the last frames sent, for a failure's report

    # --- the connection -----------------------------------------------------

    async def open(self, url=None):
        url = url or self.urls[self.conn_index % len(self.urls)]
        self.conn_index += 1
        for attempt in range(20):
            try:
                return await connect(
                    url, additional_headers={"Authorization": f"Bearer {self.token}"},
                    proxy=None, compression=None, max_size=None, ping_interval=None,
                    open_timeout=10, close_timeout=5)
            except InvalidStatus as e:
                # A connection slot is released just after its socket closes.
                if e.response.status_code != 429 or attempt == 19:
                    raise
                await asyncio.sleep(0.25)
        raise AssertionError("unreachable")

    async def recv(self, timeout):
        try:
            raw = await asyncio.wait_for(self.ws.recv(), timeout)
        except ConnectionClosed as e:
            code = e.rcvd.code if e.rcvd else None
            raise Failure(f"the server closed the connection (code {code}) after a frame that must not close it")
        return self.note(raw)

    def note(self, raw):
        """Counts what came and checks it: no fault of the server, and at
        most one answer per change."""
        frame = json.loads(raw)
        if frame.get("type") == "error" and frame.get("code") in ("internal", "unavailable"):
            # The socket's 5xx: a fault of the server, or a dependency that
            # failed on a request (it is up: the request broke it).
            raise Failure(f"a server-side failure: {short(raw)}")
        if frame.get("type") == "error" and not str(frame.get("ref")).startswith("probe-"):
            self.stats["error_frames"] += 1
            self.codes[frame.get("code")] = self.codes.get(frame.get("code"), 0) + 1
            if frame.get("code") == "rate_limited":
                self.stats["rate_limited"] += 1
                if not isinstance(frame.get("retry_after"), int) or frame["retry_after"] < 1:
                    raise Failure(f"a rate_limited error without retry_after: {short(raw)}")
        # A change's answer is an error or its event; a replay (join with
        # `since`) sends the same event (same seq) again, which is fine.
        if frame.get("type") == "error" and frame.get("ref") in self.answers:
            answer = self.answers[frame["ref"]]
            answer["errors"] += 1
        elif frame.get("type") in SEQUENCED and frame.get("nonce") in self.answers:
            answer = self.answers[frame["nonce"]]
            self.stats["stored"] += not answer["seqs"]
            answer["seqs"].add(frame.get("seq"))
        else:
            return frame
        if answer["errors"] + len(answer["seqs"]) > 1:
            raise Failure(f"a second answer for a change: {short(raw)} (answers before: {answer})")
        return frame

    # --- what to send -------------------------------------------------------

    def nonce(self):
        self.counter += 1
        return f"fz-{self.args.seed}-{self.counter}"

    def room(self):
        r = self.rng
        return r.choice([self.own_room, self.own_room, self.own_room, self.general, self.other_room,
                         r.randint(1, 1000), r.randint(10**9, 2**62), 0, -1])

    def message_id(self):
        r = self.rng
        return r.choice(self.messages + [r.randint(1, 10**6), 0, -5, I64_MAX])

    def text(self):
        r = self.rng
        roll = r.random()
        if roll < 0.5:
            return f"fuzz {self.counter} " + "".join(r.choice("abc xyz*_`@\n") for _ in range(r.randint(0, 40)))
        if roll < 0.8:
            return r.choice(JUNK)
        return "".join(chr(r.choice([r.randint(0x20, 0x7e), r.randint(0xa0, 0xd7ff), r.randint(0xe000, 0x10ffff)]))
                       for _ in range(r.randint(1, 300)))

    def valid(self, kind):
        r = self.rng
        frame = {"type": kind, "room": self.room()}
        if kind == "leave" and frame["room"] in (self.own_room, self.general) and r.random() < 0.85:
            # Mostly out of other rooms: most changes need the connection in theirs.
            frame["room"] = r.choice([self.other_room, r.randint(1, 1000)])
        if kind == "join" and r.random() < 0.5:
            frame["since"] = r.choice([0, 1, 5, r.randint(0, 10**6)])
        if kind in ("edit", "delete", "react"):
            frame["id"] = self.message_id()
        if kind in ("send", "edit"):
            frame["body"] = self.text()
        if kind == "send" and r.random() < 0.3:
            frame["reply_to"] = self.message_id()
        if kind == "react":
            frame["emoji"] = r.choice(EMOJI)
            frame["on"] = r.random() < 0.7
        if kind == "read":
            frame["seq"] = r.choice([0, 1, 3, 10**6, -1])
        if kind in CHANGES:
            frame["nonce"] = self.nonce()
        return frame

    def wrong_value(self, kind_of_field):
        r = self.rng
        choices = {
            "int": ["7", True, 1.5, 7.0, [], {}, {"a": 1}, 2**63, -(2**63) - 1, 2**64, 10**30, -(10**30)],
            "str": [0, -1, True, [], ["x"], {}, 1.5],
            "bool": [0, 1, "true", "yes", [], {}],
        }[kind_of_field]
        return r.choice(choices + [None])

    def number_edge(self):
        r = self.rng
        return r.choice([0, -1, 1, I64_MIN, I64_MAX, 2**31, -(2**31), 2**53 + 1, r.randint(I64_MIN, I64_MAX)])

    def mutate(self, frame):
        r = self.rng
        kind = frame["type"]
        for _ in range(r.choice([0, 1, 1, 1, 2, 3])):
            op = r.randrange(12)
            fields = FIELDS.get(kind, {})
            if op == 0 and fields:  # a field removed
                frame.pop(r.choice(list(fields)), None)
            elif op == 1 and fields:  # a field of the wrong type
                name = r.choice(list(fields))
                frame[name] = self.wrong_value(fields[name][0])
            elif op == 2 and fields:  # a huge, negative or edge number
                ints = [n for n, (k, _) in fields.items() if k == "int"]
                if ints:
                    frame[r.choice(ints)] = self.number_edge()
            elif op == 3:  # an unknown type
                frame["type"] = r.choice(["JOIN", "join ", "", "dance", "ping", "error", "message", "joined",
                                          "\u0000", "x" * 300, "👍", "send\u200b"])
            elif op == 4:  # no type, or not a string
                if r.random() < 0.5:
                    frame.pop("type", None)
                else:
                    frame["type"] = r.choice([None, 1, [], {}, True, ["join"], {"type": "join"}])
            elif op == 5:  # unknown fields
                for _ in range(r.randint(1, 5)):
                    frame[r.choice(["extra", "x", "__proto__", "constructor", "user", "seq", "id", "html",
                                    "🙂", "", "a" * 200])] = r.choice([1, "x", None, [], {"b": [1, 2]}, 1.5e300])
            elif op == 6 and fields:  # junk in a string field
                strs = [n for n, (k, _) in fields.items() if k == "str"]
                if strs:
                    frame[r.choice(strs)] = self.text()
            elif op == 7:  # a long nonce (the protocol takes 1..=64 characters)
                frame["nonce"] = r.choice(["", "n" * 65, "ü" * 64, self.nonce() + "🙂" * 30])
            elif op == 8:  # a float or exponent where an integer goes
                ints = [n for n, (k, _) in fields.items() if k == "int"]
                if ints:
                    frame[r.choice(ints)] = r.choice([1e3, -0.0, 1e308, 5e-324])
            elif op == 9:  # another type's fields
                other = r.choice(TYPES)
                frame.update({k: v for k, v in self.valid(other).items() if k != "type"})
            elif op == 10:  # a big string somewhere (the frame stays under 64 KiB)
                frame[r.choice(["body", "nonce", "emoji", "pad"])] = "y" * r.randint(4000, 60000)
            elif op == 11:  # nested structures in a field
                frame[r.choice(["room", "body", "pad", "since"])] = self.nested(r.randint(2, 100))
        return frame

    def nested(self, depth):
        value = self.rng.choice([1, "x", None, [], {}])
        for _ in range(depth):
            value = [value] if self.rng.random() < 0.5 else {"k": value}
        return value

    def rejected(self, frame):
        """The error code classification must give this object, if any:
        `unknown_type`, `bad_request`, or None (it parses as a request)."""
        kind = frame.get("type")
        if not isinstance(kind, str):
            return "bad_request"
        if kind not in FIELDS:
            return "unknown_type"
        for name, (of, required) in FIELDS[kind].items():
            if name not in frame:
                if required:
                    return "bad_request"
                continue
            value = frame[name]
            if value is None and not required:
                continue
            ok = {
                "int": isinstance(value, int) and not isinstance(value, bool) and I64_MIN <= value <= I64_MAX,
                "str": isinstance(value, str),
                "bool": isinstance(value, bool),
            }[of]
            if not ok:
                return "bad_request"
        return None

    @staticmethod
    def reference(frame):
        """The `ref` classification echoes (the nonce, else the room), when
        it can be told from here; "?" when it cannot."""
        nonce, room = frame.get("nonce"), frame.get("room")
        if isinstance(nonce, str):
            return nonce[:64]
        if "nonce" in frame and nonce is not None:
            return "?"
        if room is None and "room" not in frame:
            return None
        if isinstance(room, str):
            return room[:64]
        if isinstance(room, int) and not isinstance(room, bool) and I64_MIN <= room < 2**64:
            return str(room)  # beyond, serde_json holds (and prints) it as a float
        return "?"

    def object_case(self):
        """A text frame that is a JSON object: (text, expected error code or
        None, expected ref, (nonce, room) of a change to track or None)."""
        r = self.rng
        roll = r.random()
        if roll < 0.04:
            # Deeply nested JSON, past any parser's recursion limit.
            if r.random() < 0.5:
                depth = r.randint(130, 25000)
                inner = "[" * depth + "]" * depth
            else:
                depth = r.randint(130, 9000)
                inner = '{"a":' * depth + "1" + "}" * depth
            text = '{"type":"%s","room":%d,"deep":%s}' % (r.choice(TYPES), self.own_room, inner)
            return text, "bad_request", None, None
        if roll < 0.07:
            # Numbers no 64-bit float holds.
            text = '{"type":"join","room":%s}' % r.choice(["1e400", "-1e400", "1" + "0" * 400, "123e99999"])
            return text, "bad_request", None, None
        if roll < 0.09:
            # A duplicate key: JSON allows it; the request is refused.
            text = '{"type":"join","room":%d,"room":%d}' % (self.own_room, self.general)
            return text, None, None, None
        if roll < 0.11:
            # Exactly at the limit, and just under it (64 KiB is allowed).
            frame = {"type": "send", "room": self.own_room, "body": "", "nonce": self.nonce()}
            size = r.choice([MAX_FRAME, MAX_FRAME - 1, MAX_FRAME - r.randint(2, 2000)])
            frame["body"] = "z" * (size - len(dumps(frame).encode()))
            text = dumps(frame)
            assert len(text.encode()) == size
            return text, None, None, None
        if roll < 0.13:
            text = r.choice(["{}", " {} ", '{"type":"join"}', '{"":""}', '{"type":"join","room":1}\n',
                             '\t{"type" : "leave" , "room" : 1 }\r\n'])
            frame = json.loads(text)
            return text, self.rejected(frame), self.reference(frame), None
        frame = self.mutate(self.valid(r.choice(TYPES)))
        text = dumps(frame) if r.random() < 0.9 else json.dumps(frame)  # \u-escaped too
        if len(text.encode()) > MAX_FRAME:
            frame = {"type": "typing", "room": self.own_room, "pad": "p" * 100}
            text = dumps(frame)
        code = self.rejected(frame)
        tracked = None
        if code is None and frame.get("type") in CHANGES and isinstance(frame.get("nonce"), str) \
                and frame["nonce"].startswith("fz-") and len(frame["nonce"]) <= 64 \
                and frame["nonce"] not in self.answers:
            tracked = (frame["nonce"], frame.get("room"))
        return text, code, self.reference(frame), tracked

    def closing_case(self):
        """Something protocol.md closes the connection for: (kind, payload, code)."""
        r = self.rng
        roll = r.randrange(9)
        if roll == 0:
            return "binary", bytes(r.randrange(256) for _ in range(r.randint(0, 200))), 1003
        if roll == 1:
            return "text", "{" * 2 + '"type":"join","room":1}', 1007
        if roll == 2:
            return "text", r.choice(["", " ", "null", "42", '"join"', "[]", '[{"type":"join","room":1}]',
                                     "true", "1e400", "[" * 5000 + "]" * 5000]), 1007
        if roll == 3:
            valid = dumps(self.valid(r.choice(TYPES)))
            return "text", valid[: r.randint(0, len(valid) - 1)], 1007  # cut short
        if roll == 4:
            return "text", r.choice(["{'type':'join','room':1}", '{"type":"join","room":01}',
                                     '{"type":"join","room":1,}', '{"type":"join" "room":1}',
                                     '{"type":"send","room":1,"body":"a\u0001b","nonce":"n"}',  # a raw control character
                                     '{"type":"join","room":NaN}', '{"type":"join","room":1}}',
                                     '{"type":"join","room":1} {"type":"join","room":1}']), 1007
        if roll == 5:
            return "utf8", b'{"type":"send","room":1,"body":"\xff\xfe","nonce":"n"}', 1007
        if roll == 6:
            return "utf8", bytes([0xc0, 0x80]) + b"{}", 1007
        if roll == 7:
            frame = {"type": "send", "room": self.own_room, "body": "", "nonce": self.nonce()}
            frame["body"] = "o" * (MAX_FRAME + r.randint(1, 5000) - len(dumps(frame).encode()))
            return "text", dumps(frame), 1009
        return "fragments", ["x" * 40000, "x" * 40000], 1009

    # --- running it ---------------------------------------------------------

    def remember(self, what):
        self.history.append(short(what, 300))
        del self.history[:-12]

    async def expect_close(self, kind, payload, code):
        self.stats["closing"] += 1
        self.remember(f"[{kind}, expecting close {code}] {short(payload if isinstance(payload, str) else repr(payload))}")
        if kind == "binary":
            await self.ws.send(payload, text=False)
        elif kind == "utf8":
            await self.ws.send(payload, text=True)
        else:
            await self.ws.send(payload)
        deadline = time.monotonic() + 10
        while True:
            try:
                await asyncio.wait_for(self.ws.recv(), max(0.1, deadline - time.monotonic()))
            except ConnectionClosed as e:
                got = e.rcvd.code if e.rcvd else None
                if got != code:
                    raise Failure(f"closed with {got}, not {code}")
                break
            except asyncio.TimeoutError:
                raise Failure(f"still open 10 s after a frame protocol.md closes with {code}")
        self.excuse(lambda room: True)
        await self.barrage_connection()
        self.stats["reconnects"] += 1

    async def barrage_connection(self):
        """A new connection in the rooms most frames aim at, so that their
        changes get past `not_joined` to the checks behind it."""
        self.ws = await self.open()
        for room in (self.own_room, self.general):
            await self.settle(self.ws, {"type": "join", "room": room},
                              lambda f, room=room: f.get("type") == "joined" and f.get("room") == room)

    def excuse(self, which_room):
        """Changes not answered yet whose echo may never come: the
        connection left their room, or closed."""
        for answer in self.answers.values():
            if not answer["errors"] and not answer["seqs"] and which_room(answer["room"]):
                answer["excused"] = True

    def excuse_after_leave(self, text):
        if '"leave"' not in text:
            return
        try:
            frame = json.loads(text)
        except (ValueError, RecursionError):
            return
        if isinstance(frame, dict) and frame.get("type") == "leave" and self.rejected(frame) is None:
            self.excuse(lambda room: room == frame["room"])

    async def batch(self):
        """A few frames back to back (pipelined), then a probe: every
        answer to them comes before the probe's (errors keep the order of
        requests); the checks above are made on what came."""
        r = self.rng
        expected = []  # (code, ref) of each frame classification refuses
        pongs = []
        size = r.choice([1, 1, 1, 2, 3, 5, 8])
        for _ in range(size):
            roll = r.random()
            if roll < 0.03:
                data = r.randbytes(r.randint(0, 125))
                self.remember(f"[ping] {data!r}")
                pongs.append(await self.ws.ping(data))
                self.stats["ping"] += 1
                continue
            if roll < 0.05:
                self.remember("[pong]")
                await self.ws.pong(r.randbytes(r.randint(0, 125)))
                self.stats["pong"] += 1
                continue
            text, code, ref, tracked = self.object_case()
            if tracked:
                nonce, room = tracked
                self.answers[nonce] = {"errors": 0, "seqs": set(), "room": room, "excused": False}
            self.excuse_after_leave(text)
            self.remember(text)
            if roll < 0.10 and len(text) > 2:
                # Fragments cut at any byte, inside a character's UTF-8 too.
                data = text.encode()
                cut = sorted(r.sample(range(1, len(data)), min(len(data) - 1, r.randint(1, 4))))
                await self.ws.send([data[a:b] for a, b in zip([0] + cut, cut + [len(data)])], text=True)
                self.stats["fragmented"] += 1
            else:
                await self.ws.send(text)
            self.sent += 1
            self.stats["text"] += 1
            if code is not None:
                expected.append((code, ref, text))
        probe = f"probe-{self.counter}-{r.randrange(10**9)}"
        self.counter += 1
        await self.ws.send(dumps({"type": "fuzz.probe", "nonce": probe}))
        seen = []
        while True:
            frame = await self.recv(self.args.answer_timeout)
            if frame.get("type") == "error" and frame.get("ref") == probe:
                if frame.get("code") != "unknown_type":
                    raise Failure(f"the probe got {frame}")
                break
            if frame.get("type") == "error":
                seen.append(frame)
        for pong in pongs:  # pings are answered
            try:
                await asyncio.wait_for(pong, 10)
            except (asyncio.TimeoutError, ConnectionClosed):
                raise Failure("a ping got no pong within 10 s")
        for code, ref, text in expected:
            match = next((f for f in seen if f.get("code") == code and (ref == "?" or f.get("ref") == ref)), None)
            if match is None:
                got = [(f.get("code"), f.get("ref")) for f in seen]
                raise Failure(f"no `error` {code} (ref {ref!r}) for {short(text)}; errors seen: {got}")
            seen.remove(match)
            self.stats["checked_errors"] += 1

    async def settle(self, ws, frame, wanted, timeout=30):
        """Sends a valid frame until it is answered with `wanted` (a
        predicate), waiting as rate_limited errors say."""
        deadline = time.monotonic() + timeout
        await ws.send(dumps(frame))
        while time.monotonic() < deadline:
            try:
                raw = await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                break
            except ConnectionClosed as e:
                raise Failure(f"closed ({e.rcvd.code if e.rcvd else None}) while waiting for an answer to {dumps(frame)}")
            got = self.note(raw) if ws is self.ws else json.loads(raw)
            if wanted(got):
                return got
            if got.get("type") == "error" and got.get("code") == "rate_limited" and got.get("ref") in (
                    str(frame.get("room")), frame.get("nonce")):
                await asyncio.sleep(got["retry_after"])
                await ws.send(dumps(frame))
            elif got.get("type") == "error" and got.get("ref") in (str(frame.get("room")), frame.get("nonce")):
                raise Failure(f"{dumps(frame)} was answered {raw}")
        raise Failure(f"no answer to {dumps(frame)} within {timeout} s")

    async def still_serving(self, ws, label):
        room = self.own_room
        await self.settle(ws, {"type": "join", "room": room},
                          lambda f: f.get("type") == "joined" and f.get("room") == room)
        nonce = self.nonce()
        await self.settle(ws, {"type": "send", "room": room, "body": f"still here ({label})", "nonce": nonce},
                          lambda f: f.get("type") == "message" and f.get("nonce") == nonce)

    async def run(self):
        base, xff = self.args.website, self.args.real_ip
        self.own_room = api(base, "POST", "/api/v1/rooms", self.token,
                            {"name": f"fuzz {self.args.seed} {os.getpid()}", "topic": "ws fuzzing"}, xff)["room"]["id"]
        self.other_room = api(base, "POST", "/api/v1/rooms", self.token,
                              {"name": f"fuzz {self.args.seed} {os.getpid()} b", "topic": ""}, xff)["room"]["id"]
        rooms = api(base, "GET", "/api/v1/rooms?q=general", self.token, None, xff)["rooms"]
        self.general = next(r["id"] for r in rooms if r["name"] == "general")
        self.messages = [
            api(base, "POST", f"/api/v1/rooms/{self.own_room}/messages", self.token,
                {"body": f"target {i}", "nonce": f"setup-{i}"}, xff)["message"]["id"]
            for i in range(3)
        ]
        started = time.monotonic()
        try:
            await self.barrage_connection()
            while self.sent < self.args.frames:
                if self.rng.random() < self.args.close_rate:
                    await self.expect_close(*self.closing_case())
                else:
                    await self.batch()
            await self.still_serving(self.ws, "the barraged connection")
            # Every change got its one answer (the echoes of a room's
            # changes come before the one just sent there, the others' by now).
            try:
                while True:
                    await self.recv(1)
            except asyncio.TimeoutError:
                pass
            missing = [n for n, a in self.answers.items() if not (a["errors"] or a["seqs"] or a["excused"])]
            if missing:
                raise Failure(f"{len(missing)} changes got no answer, among them {missing[:5]}")
        except Failure as e:
            print(f"ws-fuzz: FAILED (seed {self.args.seed}, after {self.sent} frames): {e}")
            print("ws-fuzz: the last frames sent, oldest first:")
            for line in self.history:
                print(f"  {line}")
            return False
        finally:
            if self.ws is not None:
                await self.ws.close()
        try:
            for url in self.urls:
                async with await self.open(url) as ws:
                    await self.still_serving(ws, url)
        except Failure as e:
            print(f"ws-fuzz: FAILED (seed {self.args.seed}): a fresh connection: {e}")
            return False
        excused = sum(1 for a in self.answers.values() if not a["errors"] and not a["seqs"])
        took = time.monotonic() - started
        codes = ", ".join(f"{c} {n}" for c, n in sorted(self.codes.items(), key=lambda kv: -kv[1]))
        s = self.stats
        print(f"ws-fuzz: {s['text']} text frames ({s['fragmented']} fragmented), {s['ping']} pings, "
              f"{s['pong']} pongs, {s['closing']} frames that close by design (each closed with its code); "
              f"{s['error_frames']} error frames ({codes}); {s['checked_errors']} refusals checked one by one; "
              f"{len(self.answers)} changes tracked, each answered once ({s['stored']} stored and echoed, "
              f"{excused} excused: their connection left the room or closed before the echo); "
              f"{s['reconnects']} reconnects; {took:.0f} s")
        return True


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", action="append", required=True, help="ws://HOST:PORT/ws of a chat instance (repeatable)")
    parser.add_argument("--website", required=True, help="the website's base URL (rooms and messages to aim at)")
    parser.add_argument("--real-ip", default=None, help="X-Real-IP for the website (its rate limits per address)")
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--close-rate", type=float, default=0.03, help="share of cases that close by design")
    parser.add_argument("--answer-timeout", type=float, default=15)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(10**9)
    token = os.environ.get("FUZZ_TOKEN") or sys.exit("FUZZ_TOKEN is not set")
    print(f"ws-fuzz: seed {args.seed} (repeat with --seed {args.seed}), {args.frames} frames against {' '.join(args.url)}")
    try:
        ok = asyncio.run(Fuzzer(args, token, random.Random(args.seed)).run())
    except urllib.error.HTTPError as e:
        sys.exit(f"ws-fuzz: setting up over the API failed: {e.code} {e.url}: {e.read()[:300]!r}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
