// A message's files, built from a frame as the server renders them
// (templates/_attachments.html, pages/attachments.rs): images as a linked
// thumbnail with its size, audio as a player over its waveform (player.js
// makes it play) with a plain <audio> beneath, other files as a row with
// their size and a download link; and a voice message's transcript.

const SVG = "http://www.w3.org/2000/svg";
/** The waveform's box, as pages/attachments.rs draws it. */
const BAR_STEP = 4;
const BAR_WIDTH = "2.6";
const WAVE_HEIGHT = 32;
const BAR_MIN = 2;
/** The annotation kind of a transcript. */
export const TRANSCRIPT = "transcript";

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

function svg(tag, attrs = {}) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

/** A path-drawn icon (stroke or fill) of `size` px. */
function icon(paths, { size = 18, fill = false, className = "" } = {}) {
  const s = svg("svg", { width: size, height: size, viewBox: "0 0 24 24", "aria-hidden": "true" });
  if (className) s.setAttribute("class", className);
  if (!fill) {
    for (const [k, v] of Object.entries({ fill: "none", stroke: "currentColor", "stroke-width": 2, "stroke-linecap": "round", "stroke-linejoin": "round" })) s.setAttribute(k, String(v));
  }
  for (const d of paths) s.append(svg("path", { d }));
  return s;
}

export const ICONS = {
  play: ["M7 4.5v15l13-7.5z"],
  pause: ["M6 4h4.5v16H6zM13.5 4H18v16h-4.5z"],
  file: ["M14 3H7a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V8z", "M14 3v5h5"],
  download: ["M12 4v12", "m7 11 5 5 5-5", "M5 20h14"],
};

/** A size for people: "812 B", "12 KB", "2.4 MB" (as pages/attachments.rs says it). */
export function sizeLabel(bytes) {
  const units = ["B", "KB", "MB", "GB"];
  let value = Math.max(0, bytes);
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  if (unit === 0) return `${bytes} B`;
  return value < 9.95 ? `${value.toFixed(1)} ${units[unit]}` : `${Math.round(value)} ${units[unit]}`;
}

/** A length for people from milliseconds: "0:17" (at least 0:01 for any sound). */
export function durationLabel(ms) {
  const secs = ms > 0 ? Math.max(1, Math.round(ms / 1000)) : 0;
  return `${Math.floor(secs / 60)}:${String(secs % 60).padStart(2, "0")}`;
}

/** The waveform of `peaks` (0-255) as SVG bars. */
export function waveElement(peaks) {
  const width = Math.max(1, peaks.length) * BAR_STEP;
  const wave = svg("svg", { class: "wave", viewBox: `0 0 ${width} ${WAVE_HEIGHT}`, preserveAspectRatio: "none", "aria-hidden": "true" });
  peaks.forEach((p, i) => {
    const height = Math.max(BAR_MIN, Math.floor((p * WAVE_HEIGHT) / 255));
    wave.append(svg("rect", { x: i * BAR_STEP, y: Math.floor((WAVE_HEIGHT - height) / 2), width: BAR_WIDTH, height, rx: "1.3" }));
  });
  return wave;
}

/** An audio attachment's player (made to play by player.js) over a plain <audio>. */
export function audioElement(a) {
  const box = el("div", "att att-audio");
  box.dataset.att = a.id;
  box.dataset.durationMs = String(a.duration_ms || 0);
  const player = el("div", "player");
  const play = el("button", "player-play");
  play.type = "button";
  play.title = "Play";
  play.setAttribute("aria-label", `Play ${a.name}`);
  play.append(icon(ICONS.play, { size: 16, fill: true, className: "i-play" }), icon(ICONS.pause, { size: 16, fill: true, className: "i-pause" }));
  player.append(play, waveElement(a.peaks || []), el("span", "player-time", durationLabel(a.duration_ms || 0)));
  const audio = el("audio");
  audio.controls = true;
  audio.preload = "none";
  audio.src = a.play_url || a.url;
  audio.title = `${a.name} (${durationLabel(a.duration_ms || 0)})`;
  box.append(player, audio);
  return box;
}

function imageElement(a) {
  const link = el("a", "att att-image");
  link.href = a.url;
  link.dataset.att = a.id;
  link.title = `${a.name} (${sizeLabel(a.size)})`;
  const img = el("img");
  const [src, w, h] = a.thumb ? [a.thumb.url, a.thumb.width, a.thumb.height] : [a.url, a.width || 0, a.height || 0];
  img.src = src;
  img.alt = a.name;
  if (w > 0) {
    img.width = w;
    img.height = h;
  }
  img.loading = "lazy";
  link.append(img);
  return link;
}

function fileElement(a) {
  const row = el("div", "att att-file");
  row.dataset.att = a.id;
  const text = el("span", "att-text");
  const name = el("a", "att-name", a.name);
  name.href = a.url;
  text.append(name, el("span", "att-size", sizeLabel(a.size)));
  const download = el("a", "icon-button att-download");
  download.href = `${a.url}?download=1`;
  download.title = `Download ${a.name}`;
  download.append(icon(ICONS.download), el("span", "visually-hidden", `Download ${a.name}`));
  row.append(icon(ICONS.file, { size: 22, className: "att-icon" }), text, download);
  return row;
}

/** A message's files (and its transcript, from its annotations), or null when it has none. */
export function attachmentsElement(attachments, annotations) {
  const transcript = (annotations || []).find((a) => a.kind === TRANSCRIPT && a.text && a.text.trim());
  if (!(attachments && attachments.length) && !transcript) return null;
  const box = el("div", "attachments");
  for (const a of attachments || []) {
    box.append(a.kind === "image" ? imageElement(a) : a.kind === "audio" ? audioElement(a) : fileElement(a));
  }
  if (transcript) box.append(transcriptElement(transcript.text.trim()));
  return box;
}

function transcriptElement(text) {
  const t = el("div", "transcript");
  t.append(el("span", "transcript-label", "Transcript"), " ", el("span", "transcript-text", text));
  return t;
}

/** Sets (or, with empty text, removes) a message's transcript: under its files. */
export function setTranscript(li, text) {
  const box = li.querySelector(".attachments");
  const old = li.querySelector(".transcript");
  const clean = (text || "").trim();
  if (!clean) {
    if (old) old.remove();
    return;
  }
  if (!box || li.classList.contains("is-deleted")) return;
  if (old) old.querySelector(".transcript-text").textContent = clean;
  else box.append(transcriptElement(clean));
}

/** What a message with no text sent, in words (for announcements and notifications). */
export function attachmentSummary(attachments) {
  if (!attachments || !attachments.length) return "";
  if (attachments.length === 1) {
    const a = attachments[0];
    return a.kind === "audio" ? "a voice message" : a.kind === "image" ? `an image (${a.name})` : `a file (${a.name})`;
  }
  return `${attachments.length} files`;
}
