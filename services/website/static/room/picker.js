// The emoji picker: a small popover of common emoji beside the button that
// opened it. Arrow keys move, Enter picks, Esc closes and gives the focus
// back. Without the script, the React link opens a page with the same list.

let popover = null;
let opener = null;
let chosen = null;

function close() {
  if (!popover || popover.hidden) return;
  popover.hidden = true;
  if (opener) opener.focus();
  opener = null;
  chosen = null;
}

function build(emojis) {
  popover = document.createElement("div");
  popover.className = "picker";
  popover.id = "emoji-picker";
  popover.setAttribute("role", "dialog");
  popover.setAttribute("aria-label", "Pick a reaction");
  popover.hidden = true;
  for (const e of emojis) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = e;
    b.dataset.emoji = e;
    b.setAttribute("aria-label", `React with ${e}`);
    popover.append(b);
  }
  popover.addEventListener("click", (event) => {
    const b = event.target.closest("button[data-emoji]");
    if (!b) return;
    const pick = chosen;
    close();
    if (pick) pick(b.dataset.emoji);
  });
  popover.addEventListener("keydown", (event) => {
    const buttons = [...popover.querySelectorAll("button")];
    const i = buttons.indexOf(document.activeElement);
    const step = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: 6, ArrowUp: -6 }[event.key];
    if (event.key === "Escape") {
      event.preventDefault();
      close();
    } else if (step && i >= 0) {
      event.preventDefault();
      buttons[(i + step + buttons.length) % buttons.length].focus();
    }
  });
  document.addEventListener("pointerdown", (event) => {
    if (!popover.hidden && !popover.contains(event.target) && event.target !== opener) close();
  });
  window.addEventListener("resize", close);
  document.body.append(popover);
}

/** Opens the picker beside `anchor`; `onPick(emoji)` gets the choice. */
export function openPicker(anchor, emojis, onPick) {
  if (!popover) build(emojis);
  if (!popover.hidden && opener === anchor) return close();
  opener = anchor;
  chosen = onPick;
  popover.hidden = false;
  const r = anchor.getBoundingClientRect();
  const w = popover.offsetWidth;
  const h = popover.offsetHeight;
  const left = Math.max(8, Math.min(r.right - w, window.innerWidth - w - 8));
  const top = r.top - h - 6 > 8 ? r.top - h - 6 : Math.min(r.bottom + 6, window.innerHeight - h - 8);
  popover.style.left = `${left}px`;
  popover.style.top = `${top}px`;
  popover.querySelector("button").focus();
}
