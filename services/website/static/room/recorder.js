// The voice recorder: the composer's microphone button (shown only where
// the browser records: MediaRecorder and getUserMedia). Tap to start and
// tap again (or Stop) to end, or hold it and let go; while recording it
// shows the time, a level meter and Cancel; at VOICE_MAX_SECS it stops by
// itself. Then a preview plays it back, with Send and Discard. Sending
// hands the recording over as a file (`voice-message.webm`, or `.m4a`
// where the browser records MP4, as Safari does).
import { audioElement, durationLabel } from "./media.js";
import { enhancePlayers } from "./player.js";

/** A press longer than this is a hold: letting go stops. */
const HOLD_MS = 450;
/** Bars of the preview's waveform (as the server's). */
const PREVIEW_BARS = 48;
/** Bars of the live level meter. */
const METER_BARS = 30;
/** Containers in order of preference (the first the browser records). */
const TYPES = ["audio/webm;codecs=opus", "audio/webm", "audio/ogg;codecs=opus", "audio/mp4"];

/** Whether this browser can record here (a secure page with a microphone API). */
export function canRecord() {
  return Boolean(window.MediaRecorder && navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
}

/** A recording's file name from its type. */
export function fileName(type) {
  if (/mp4|aac|m4a/.test(type)) return "voice-message.m4a";
  if (/ogg/.test(type)) return "voice-message.ogg";
  return "voice-message.webm";
}

/** `levels` (0-1) squeezed or stretched to `n` peaks of 0-255, the loudest 255. */
export function peaksOf(levels, n = PREVIEW_BARS) {
  if (!levels.length) return new Array(n).fill(0);
  const out = [];
  for (let i = 0; i < n; i++) {
    const from = Math.floor((i * levels.length) / n);
    const to = Math.max(from + 1, Math.floor(((i + 1) * levels.length) / n));
    out.push(Math.max(...levels.slice(from, to)));
  }
  const top = Math.max(...out) || 1;
  return out.map((v) => Math.round((v / top) * 255));
}

export class Recorder {
  /**
   * @param {HTMLFormElement} form the composer (holds the recorder's elements)
   * @param {{maxSecs: number, send: (file: File) => Promise<boolean>, error: (text: string) => void}} options
   *   `send` uploads and sends the recording: true once it went
   */
  constructor(form, { maxSecs, send, error }) {
    const $ = (id) => form.querySelector(`#${id}`);
    this.maxMs = (maxSecs || 300) * 1000;
    this.sendFile = send;
    this.error = error;
    this.mic = $("record");
    this.panel = $("recorder");
    this.live = $("recorder-live");
    this.time = $("rec-time");
    this.meter = $("rec-level");
    this.preview = $("recorder-preview");
    this.previewPlayer = $("rec-preview-player");
    this.sendButton = $("rec-send");
    /** idle, starting, recording, preview, sending */
    this.state = "idle";
    this.pressedAt = 0;
    this.stopWhenStarted = false;
    $("rec-limit").textContent = `up to ${durationLabel(this.maxMs)}`;
    this.mic.hidden = false;

    this.mic.addEventListener("pointerdown", (event) => {
      if (event.button !== 0 || this.mic.disabled) return;
      event.preventDefault();
      if (this.state === "idle") {
        this.pressedAt = performance.now();
        this.start();
      } else if (this.state === "starting" || this.state === "recording") {
        this.pressedAt = 0;
        this.stop();
      }
    });
    this.mic.addEventListener("pointerup", () => {
      const held = this.pressedAt && performance.now() - this.pressedAt > HOLD_MS;
      this.pressedAt = 0;
      if (!held) return; // a tap: it records until the next one
      if (this.state === "recording") this.stop();
      else if (this.state === "starting") this.stopWhenStarted = true;
    });
    this.mic.addEventListener("click", (event) => {
      if (event.detail !== 0) return; // the pointer did it already
      if (this.state === "idle") this.start();
      else if (this.state === "recording") this.stop();
    });
    $("rec-stop").addEventListener("click", () => this.stop());
    $("rec-cancel").addEventListener("click", () => this.cancel());
    $("rec-discard").addEventListener("click", () => this.discard());
    this.sendButton.addEventListener("click", () => this.send());
  }

  setState(state) {
    this.state = state;
    const recording = state === "starting" || state === "recording";
    this.panel.hidden = state === "idle";
    this.live.hidden = !recording;
    this.preview.hidden = state !== "preview" && state !== "sending";
    this.mic.classList.toggle("recording", recording);
    this.mic.setAttribute("aria-pressed", String(recording));
    this.mic.title = recording ? "Stop recording" : "Record a voice message: tap to start and stop, or hold and release";
    this.sendButton.disabled = state === "sending";
    this.sendButton.textContent = state === "sending" ? "Sending…" : "Send";
  }

  async start() {
    this.error("");
    this.setState("starting");
    this.stopWhenStarted = false;
    this.cancelled = false;
    this.levels = [];
    this.time.textContent = "0:00";
    this.meter.replaceChildren();
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true } });
    } catch (e) {
      this.setState("idle");
      this.error(e && e.name === "NotAllowedError" ? "The microphone is blocked: allow it for this site to record." : "No microphone could be opened to record.");
      return;
    }
    if (this.state !== "starting") {
      this.release(); // cancelled while asking
      return;
    }
    const type = TYPES.find((t) => MediaRecorder.isTypeSupported(t)) || "";
    try {
      this.recorder = new MediaRecorder(this.stream, type ? { mimeType: type, audioBitsPerSecond: 48000 } : {});
    } catch (_) {
      this.recorder = new MediaRecorder(this.stream);
    }
    this.chunks = [];
    this.recorder.addEventListener("dataavailable", (e) => {
      if (e.data && e.data.size) this.chunks.push(e.data);
    });
    this.recorder.addEventListener("stop", () => this.finished());
    this.listen();
    this.recorder.start(250);
    this.startedAt = performance.now();
    this.setState("recording");
    this.timer = setInterval(() => this.tick(), 100);
    if (this.stopWhenStarted) this.stop();
  }

  /** The level meter: how loud the microphone is, ten times a second. */
  listen() {
    try {
      const Context = window.AudioContext || window.webkitAudioContext;
      this.context = new Context();
      const source = this.context.createMediaStreamSource(this.stream);
      this.analyser = this.context.createAnalyser();
      this.analyser.fftSize = 1024;
      source.connect(this.analyser);
      this.samples = new Float32Array(this.analyser.fftSize);
    } catch (_) {
      this.analyser = null; // no meter, no waveform: it still records
    }
  }

  tick() {
    const ms = performance.now() - this.startedAt;
    const secs = Math.floor(ms / 1000);
    this.time.textContent = `${Math.floor(secs / 60)}:${String(secs % 60).padStart(2, "0")}`;
    if (this.analyser) {
      this.analyser.getFloatTimeDomainData(this.samples);
      let sum = 0;
      for (const v of this.samples) sum += v * v;
      this.levels.push(Math.min(1, Math.sqrt(sum / this.samples.length) * 4));
      this.drawMeter();
    }
    if (ms >= this.maxMs) {
      this.stop();
      this.error(`Recordings stop at ${durationLabel(this.maxMs)}.`);
    }
  }

  drawMeter() {
    const ns = "http://www.w3.org/2000/svg";
    const last = this.levels.slice(-METER_BARS);
    const bars = last.map((v, i) => {
      const r = document.createElementNS(ns, "rect");
      const h = Math.max(2, Math.round(v * 24));
      r.setAttribute("x", String(i * 4));
      r.setAttribute("y", String((24 - h) / 2));
      r.setAttribute("width", "2.6");
      r.setAttribute("height", String(h));
      r.setAttribute("rx", "1.3");
      return r;
    });
    this.meter.replaceChildren(...bars);
  }

  stop() {
    if (this.state === "starting") {
      this.cancel(); // nothing recorded yet
      return;
    }
    if (this.state !== "recording") return;
    this.elapsed = performance.now() - this.startedAt;
    clearInterval(this.timer);
    this.recorder.stop(); // then finished()
  }

  cancel() {
    this.cancelled = true;
    clearInterval(this.timer);
    if (this.recorder && this.recorder.state !== "inactive") this.recorder.stop();
    this.release();
    this.setState("idle");
    this.mic.focus();
  }

  release() {
    if (this.stream) for (const t of this.stream.getTracks()) t.stop();
    this.stream = null;
    if (this.context) this.context.close().catch(() => {});
    this.context = null;
    this.analyser = null;
  }

  finished() {
    this.release();
    if (this.cancelled) return;
    const type = (this.recorder.mimeType || "audio/webm").split(";")[0];
    this.blob = new Blob(this.chunks, { type });
    if (!this.blob.size) {
      this.setState("idle");
      this.error("Nothing was recorded.");
      return;
    }
    this.url = URL.createObjectURL(this.blob);
    const player = audioElement({ id: "preview", name: "your recording", url: this.url, play_url: this.url, duration_ms: Math.round(this.elapsed), peaks: peaksOf(this.levels) });
    player.classList.add("preview");
    player.id = "rec-preview-player";
    this.previewPlayer.replaceWith(player);
    this.previewPlayer = player;
    enhancePlayers(this.preview);
    this.setState("preview");
    this.sendButton.focus();
  }

  discard() {
    if (this.url) URL.revokeObjectURL(this.url);
    this.url = null;
    this.blob = null;
    const audio = this.previewPlayer.querySelector("audio");
    if (audio) audio.pause();
    this.setState("idle");
    this.mic.focus();
  }

  async send() {
    if (this.state !== "preview" || !this.blob) return;
    const audio = this.previewPlayer.querySelector("audio");
    if (audio) audio.pause();
    this.setState("sending");
    const file = new File([this.blob], fileName(this.blob.type), { type: this.blob.type });
    const sent = await this.sendFile(file);
    if (sent) this.discard();
    else this.setState("preview");
  }
}
