// The composer's files: chosen with the attach button, dropped on the
// conversation or the composer, or pasted (clipboard images). Each shows
// as a removable chip (name, size, a preview of an image) above the text
// box. Sending uploads them to the API (with progress), and the message
// then names their ids (room.js sends it over the socket). Without the
// script the same file input is posted with the form.
import { ICONS, sizeLabel } from "./media.js";

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

/** A refusal of the upload, with the server's words when it gave some. */
export class UploadError extends Error {}

/**
 * Uploads `files` into room `roomId` (POST /api/v1/rooms/{id}/attachments):
 * resolves with their attachments; `progress(fraction)` as it goes.
 */
export function upload(roomId, files, progress = () => {}) {
  return new Promise((resolve, reject) => {
    const data = new FormData();
    for (const f of files) data.append("file", f, f.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/api/v1/rooms/${roomId}/attachments`);
    xhr.responseType = "json";
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable && e.total > 0) progress(e.loaded / e.total);
    });
    xhr.addEventListener("load", () => {
      const answer = xhr.response || {};
      if (xhr.status === 201 && Array.isArray(answer.attachments)) {
        resolve(answer.attachments);
      } else if (xhr.status === 413 && !answer.message) {
        reject(new UploadError("That is more than the server takes at once: send fewer or smaller files."));
      } else {
        reject(new UploadError(answer.message ? `Not sent: ${answer.message}` : `The files could not be uploaded (${xhr.status}).`));
      }
    });
    xhr.addEventListener("error", () => reject(new UploadError("The files could not be uploaded: are you online?")));
    xhr.addEventListener("abort", () => reject(new UploadError("The upload was stopped.")));
    xhr.send(data);
  });
}

/** The files waiting in the composer, and their chips. */
export class ComposerFiles {
  /**
   * @param {HTMLFormElement} form the composer
   * @param {{maxFiles: number, maxBytes: number, error: (text: string) => void}} options
   */
  constructor(form, { maxFiles, maxBytes, error }) {
    this.form = form;
    this.maxFiles = maxFiles || 10;
    this.maxBytes = maxBytes || Infinity;
    this.error = error;
    this.input = form.querySelector("#file-input");
    this.chips = form.querySelector("#file-chips");
    this.status = form.querySelector("#upload-status");
    /** {file, url} in the order chosen. */
    this.files = [];
    this.input.addEventListener("change", () => {
      this.add([...this.input.files]);
      this.input.value = ""; // the script sends them; the same file may be chosen again
    });
    this.chips.addEventListener("click", (event) => {
      const remove = event.target.closest(".chip-remove");
      if (!remove) return;
      const li = remove.closest("li");
      this.remove([...this.chips.children].indexOf(li));
      this.form.querySelector("#body").focus();
    });
  }

  get count() {
    return this.files.length;
  }

  /** Adds files (refusing those over the limits, with why). */
  add(files) {
    const refused = [];
    for (const file of files) {
      if (this.files.length >= this.maxFiles) {
        refused.push(`At most ${this.maxFiles} files go with one message.`);
        break;
      }
      if (file.size > this.maxBytes) {
        refused.push(`${file.name} is ${sizeLabel(file.size)}: files up to ${sizeLabel(this.maxBytes)} can be sent.`);
        continue;
      }
      if (file.size === 0) {
        refused.push(`${file.name} is empty.`);
        continue;
      }
      const url = file.type.startsWith("image/") ? URL.createObjectURL(file) : null;
      this.files.push({ file, url });
      this.chips.append(this.chip(file, url));
    }
    this.error(refused.join(" "));
    this.show();
  }

  remove(index) {
    if (index < 0 || index >= this.files.length) return;
    const [gone] = this.files.splice(index, 1);
    if (gone.url) URL.revokeObjectURL(gone.url);
    this.chips.children[index].remove();
    this.show();
  }

  clear() {
    for (const f of this.files) if (f.url) URL.revokeObjectURL(f.url);
    this.files = [];
    this.chips.replaceChildren();
    this.show();
  }

  chip(file, url) {
    const li = el("li", "file-chip");
    if (url) {
      const img = el("img");
      img.src = url;
      img.alt = "";
      img.width = 40;
      img.height = 40;
      li.append(img);
    } else {
      const badge = el("span", "chip-icon");
      const s = document.createElementNS("http://www.w3.org/2000/svg", "svg");
      for (const [k, v] of Object.entries({ width: 20, height: 20, viewBox: "0 0 24 24", fill: "none", stroke: "currentColor", "stroke-width": 2, "stroke-linecap": "round", "stroke-linejoin": "round", "aria-hidden": "true" })) s.setAttribute(k, String(v));
      for (const d of ICONS.file) {
        const p = document.createElementNS("http://www.w3.org/2000/svg", "path");
        p.setAttribute("d", d);
        s.append(p);
      }
      badge.append(s);
      li.append(badge);
    }
    const text = el("span", "chip-text");
    text.append(el("span", "chip-name", file.name), el("span", "chip-size", sizeLabel(file.size)));
    text.title = file.name;
    const remove = el("button", "icon-button chip-remove", "×");
    remove.type = "button";
    remove.title = "Remove";
    remove.setAttribute("aria-label", `Remove ${file.name}`);
    li.append(text, remove);
    return li;
  }

  show() {
    this.chips.hidden = this.files.length === 0;
  }

  /** Says how the upload goes (`fraction` 0-1), or nothing (null). */
  progress(fraction) {
    if (fraction === null) {
      this.status.hidden = true;
      this.status.replaceChildren();
      return;
    }
    let bar = this.status.querySelector("progress");
    if (!bar) {
      bar = el("progress");
      bar.max = 1;
      this.status.replaceChildren(el("span", "upload-text"), bar);
    }
    bar.value = fraction;
    const pct = Math.round(fraction * 100);
    this.status.querySelector(".upload-text").textContent = fraction >= 1 ? "Processing…" : `Uploading… ${pct}%`;
    this.status.hidden = false;
  }

  /** Uploads the waiting files into `roomId`, showing progress: their attachments. */
  async upload(roomId, files = this.files.map((f) => f.file)) {
    this.form.classList.add("uploading");
    this.progress(0);
    try {
      return await upload(roomId, files, (f) => this.progress(f));
    } finally {
      this.form.classList.remove("uploading");
      this.progress(null);
    }
  }

  /** Files dropped on `targets` and pasted into `box` join the waiting ones. */
  listen(targets, box) {
    const hasFiles = (event) => event.dataTransfer && [...event.dataTransfer.types].includes("Files");
    for (const target of targets) {
      let depth = 0;
      target.addEventListener("dragenter", (event) => {
        if (!hasFiles(event)) return;
        event.preventDefault();
        depth += 1;
        target.classList.add("dragging");
      });
      target.addEventListener("dragover", (event) => {
        if (!hasFiles(event)) return;
        event.preventDefault();
        event.dataTransfer.dropEffect = "copy";
      });
      target.addEventListener("dragleave", () => {
        depth = Math.max(0, depth - 1);
        if (depth === 0) target.classList.remove("dragging");
      });
      target.addEventListener("drop", (event) => {
        depth = 0;
        target.classList.remove("dragging");
        if (!hasFiles(event)) return;
        event.preventDefault();
        if (this.input.disabled) return;
        this.add([...event.dataTransfer.files]);
        box.focus();
      });
    }
    box.addEventListener("paste", (event) => {
      const data = event.clipboardData;
      if (!data || this.input.disabled) return;
      const files = [...data.files];
      // Text copied from an office program comes with a picture of itself: text wins.
      if (!files.length || data.getData("text/plain").trim()) return;
      event.preventDefault();
      const stamp = new Date().toISOString().slice(0, 19).replace(/[T:]/g, "-");
      this.add(files.map((f) => (f.name && f.name !== "image.png" ? f : new File([f], `pasted-${stamp}.${(f.type.split("/")[1] || "png").replace("jpeg", "jpg")}`, { type: f.type }))));
    });
  }
}
