// The assistant's work under a question, live: "answering…" with Stop,
// the text as it streams (assistant_delta frames, never stored), and why
// it will not answer (assistant_status). The stored answer arrives as an
// ordinary message replying to the question; then the stream goes. The
// server renders the same line without JavaScript (pages/room.rs).

/** Where a job stands, in words (as actions/assistant.rs says them). */
const WORDS = {
  assistant_not_in_room: "The assistant is not a member of this room: invite @assistant to ask it here.",
  assistant_muted: "The assistant is muted in this room.",
  question_empty: "Ask the assistant something after @assistant.",
  question_too_long: "That question is too long for the assistant.",
  rate_limited: "The assistant is answering too many questions: ask again in a few minutes.",
  budget_spent: "You have used today's assistant budget.",
  room_budget_spent: "This room has used today's assistant budget.",
  stopped: "Stopped before the assistant answered.",
};

export class Assistant {
  /**
   * @param {HTMLElement} list the message list
   * @param {{me: number, moderates: boolean, isDm: boolean, roomId: number}} ctx
   */
  constructor(list, ctx) {
    this.list = list;
    this.ctx = ctx;
    /** Text streamed so far, by job. */
    this.streams = new Map();
  }

  question(id) {
    return this.list.querySelector(`li.msg[data-id="${id}"]`);
  }

  /** The status line under question `li`, made if missing. */
  line(li, job) {
    let line = li.querySelector(".assistant-status");
    if (!line) {
      line = document.createElement("div");
      line.className = "assistant-status";
      line.setAttribute("role", "status");
      const text = document.createElement("span");
      text.className = "assistant-text";
      line.append(text);
      const main = li.querySelector(".msg-main") || li;
      main.append(line);
    }
    line.dataset.job = String(job);
    return line;
  }

  /** An `assistant_status` frame. */
  status(frame) {
    const li = this.question(frame.question);
    if (!li) return;
    const line = this.line(li, frame.job);
    const text = line.querySelector(".assistant-text");
    if (frame.status === "thinking" || frame.status === "streaming") {
      line.classList.add("pending");
      text.textContent = "The assistant is answering…";
      this.offerStop(li, line, frame.question);
      return;
    }
    line.classList.remove("pending");
    for (const el of line.querySelectorAll(".assistant-stop, .assistant-reload")) el.remove();
    const words = WORDS[frame.code] || (frame.status === "cancelled" ? "" : "The assistant could not answer this one.");
    if (frame.code === "assistant_not_in_room" && this.ctx.isDm) text.textContent = "The assistant does not read direct messages.";
    else text.textContent = words;
    if (!text.textContent) line.remove();
    li.querySelector(".assistant-stream")?.remove();
  }

  /** An `assistant_delta` frame: more of the answer. */
  delta(frame) {
    const li = this.question(frame.question);
    if (!li) return;
    const line = this.line(li, frame.job);
    line.classList.add("pending");
    line.querySelector(".assistant-text").textContent = "The assistant is answering…";
    this.offerStop(li, line, frame.question);
    let stream = li.querySelector(".assistant-stream");
    if (!stream) {
      stream = document.createElement("p");
      stream.className = "assistant-stream";
      line.after(stream);
    }
    const so_far = this.streams.get(frame.job) || "";
    // Frames come in order on one connection; after a reconnect some may
    // be missing or repeated: repeats are skipped by their offset.
    const chars = [...so_far].length;
    let text = frame.text;
    if (frame.offset < chars) text = [...text].slice(chars - frame.offset).join("");
    const next = so_far + text;
    this.streams.set(frame.job, next);
    stream.textContent = next;
  }

  /** A stored message: if it answers a question, the stream is done. */
  answered(message) {
    const q = message.reply_to && message.reply_to.id;
    if (!q) return;
    const li = this.question(q);
    if (!li) return;
    li.querySelector(".assistant-status")?.remove();
    li.querySelector(".assistant-stream")?.remove();
  }

  /** Stop, for the asker or a moderator: the no-script form, posted. */
  offerStop(li, line, question) {
    if (line.querySelector(".assistant-stop")) return;
    const mine = Number(li.dataset.authorId) === this.ctx.me;
    if (!mine && !this.ctx.moderates) return;
    const token = document.querySelector('input[name="csrf_token"]');
    if (!token) return;
    const form = document.createElement("form");
    form.method = "post";
    form.action = `/messages/${question}/assistant/stop`;
    form.className = "inline assistant-stop";
    const csrf = document.createElement("input");
    csrf.type = "hidden";
    csrf.name = "csrf_token";
    csrf.value = token.value;
    const button = document.createElement("button");
    button.type = "submit";
    button.className = "small secondary";
    button.textContent = "Stop";
    form.append(csrf, button);
    line.append(form);
  }
}
