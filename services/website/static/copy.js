// "Copy" buttons beside read-only fields (a new invite link): hidden without
// JavaScript, where the field selects itself on a click instead.
for (const button of document.querySelectorAll("button[data-copy]")) {
  const field = document.getElementById(button.dataset.copy);
  if (!field) continue;
  button.hidden = false;
  const label = button.textContent;
  let timer = 0;
  button.addEventListener("click", async () => {
    field.select();
    let done = false;
    try {
      await navigator.clipboard.writeText(field.value);
      done = true;
    } catch (_) {
      done = document.execCommand && document.execCommand("copy");
    }
    button.textContent = done ? "Copied" : "Press Ctrl+C";
    clearTimeout(timer);
    timer = setTimeout(() => (button.textContent = label), 2500);
  });
}
