// Tells a person registering whether the username and e-mail they typed are
// free, as they leave each field. The server checks again on submit.
"use strict";
(function () {
  const form = document.querySelector('form[action="/register"]');
  if (!form) return;
  for (const input of form.querySelectorAll("[data-available-check]")) {
    const kind = input.dataset.availableCheck;
    const out = document.getElementById(input.id + "-error");
    let last = "";
    input.addEventListener("blur", async () => {
      const value = input.value.trim();
      if (!value || value === last || !input.checkValidity()) return;
      last = value;
      try {
        const res = await fetch("/api/v1/auth/available?" + new URLSearchParams({ [kind]: value }), {
          headers: { Accept: "application/json" },
        });
        if (!res.ok) return; // rate-limited or invalid: the submit will say why
        const free = (await res.json())[kind];
        out.textContent = free ? (kind === "username" ? "That username is free." : "") : (kind === "username" ? "That username is taken." : "An account with that e-mail already exists.");
        out.classList.toggle("ok", free);
        input.setAttribute("aria-invalid", free ? "false" : "true");
      } catch (_) {
        // Offline: say nothing; the server decides on submit.
      }
    });
  }
})();
