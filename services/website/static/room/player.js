// The voice player: makes a message's audio (built by the server or by
// media.js) play through its own controls: play/pause, the waveform
// coloured as it plays, seeking by clicking or dragging on it (or with the
// arrow keys), the time. The plain <audio controls> it enhances stays in
// the page, hidden: it is what plays, and without the script it is the
// player. One plays at a time.
import { durationLabel } from "./media.js";

/** Seconds an arrow key moves. */
const STEP_SECS = 5;

/** A position for people, counting whole seconds: "0:03". */
function clock(secs) {
  const s = Math.floor(secs || 0);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/** Makes every audio attachment under `root` not enhanced yet playable. */
export function enhancePlayers(root) {
  for (const box of root.querySelectorAll(".att-audio:not(.enhanced)")) enhance(box);
}

function enhance(box) {
  const audio = box.querySelector("audio");
  const player = box.querySelector(".player");
  if (!audio || !player) return;
  box.classList.add("enhanced");
  const button = player.querySelector(".player-play");
  const wave = player.querySelector(".wave");
  const time = player.querySelector(".player-time");
  const bars = [...wave.querySelectorAll("rect")];
  const name = (button.getAttribute("aria-label") || "").replace(/^Play /, "");
  const knownMs = Number(box.dataset.durationMs) || 0;
  /** A seek asked for before the audio knew its length. */
  let pendingSeek = null;

  const total = () => (Number.isFinite(audio.duration) && audio.duration > 0 ? audio.duration : knownMs / 1000);
  const position = () => (pendingSeek !== null ? pendingSeek : audio.currentTime);

  wave.removeAttribute("aria-hidden");
  wave.setAttribute("role", "slider");
  wave.setAttribute("tabindex", "0");
  wave.setAttribute("aria-label", `Position in ${name || "the recording"}`);
  wave.setAttribute("aria-valuemin", "0");

  function show() {
    const length = total();
    const at = Math.min(position(), length || Infinity);
    const fraction = length > 0 ? at / length : 0;
    const played = Math.round(fraction * bars.length);
    bars.forEach((b, i) => b.classList.toggle("played", i < played));
    const started = at > 0 || !audio.paused;
    time.textContent = started ? `${clock(at)} / ${durationLabel(length * 1000)}` : durationLabel(length * 1000);
    wave.setAttribute("aria-valuemax", String(Math.round(length)));
    wave.setAttribute("aria-valuenow", String(Math.round(at)));
    wave.setAttribute("aria-valuetext", `${clock(at)} of ${durationLabel(length * 1000)}`);
    const playing = !audio.paused && !audio.ended;
    player.classList.toggle("playing", playing);
    button.title = playing ? "Pause" : "Play";
    button.setAttribute("aria-label", `${playing ? "Pause" : "Play"} ${name}`);
  }

  function seek(seconds) {
    const length = total();
    const t = Math.max(0, length > 0 ? Math.min(seconds, length) : seconds);
    if (audio.readyState >= 1) {
      audio.currentTime = t;
      pendingSeek = null;
    } else {
      pendingSeek = t;
    }
    show();
  }

  button.addEventListener("click", () => {
    if (audio.paused || audio.ended) {
      for (const other of document.querySelectorAll("audio")) if (other !== audio) other.pause();
      audio.play().catch(() => show());
    } else {
      audio.pause();
    }
    show();
  });
  audio.addEventListener("loadedmetadata", () => {
    if (pendingSeek !== null) {
      audio.currentTime = pendingSeek;
      pendingSeek = null;
    }
    show();
  });
  for (const type of ["play", "pause", "timeupdate", "durationchange", "seeked"]) audio.addEventListener(type, show);
  audio.addEventListener("ended", () => {
    audio.currentTime = 0;
    show();
  });
  audio.addEventListener("error", () => {
    // The plain player says what went wrong, and may still offer the file.
    box.classList.remove("enhanced");
  });

  function fractionAt(event) {
    const r = wave.getBoundingClientRect();
    return r.width > 0 ? Math.min(1, Math.max(0, (event.clientX - r.left) / r.width)) : 0;
  }
  wave.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    wave.setPointerCapture(event.pointerId);
    wave.focus({ preventScroll: true });
    seek(fractionAt(event) * total());
  });
  wave.addEventListener("pointermove", (event) => {
    if (wave.hasPointerCapture(event.pointerId)) seek(fractionAt(event) * total());
  });
  wave.addEventListener("keydown", (event) => {
    const moves = { ArrowLeft: -STEP_SECS, ArrowDown: -STEP_SECS, ArrowRight: STEP_SECS, ArrowUp: STEP_SECS };
    if (event.key in moves) seek(position() + moves[event.key]);
    else if (event.key === "Home") seek(0);
    else if (event.key === "End") seek(total());
    else if (event.key === " " || event.key === "Enter") button.click();
    else return;
    event.preventDefault();
  });
  show();
}
