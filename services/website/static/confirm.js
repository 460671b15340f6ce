// Forms that ask before they act (handing a room over, deleting it): the
// question is the form's data-confirm. Without JavaScript they act at once.
for (const form of document.querySelectorAll("form[data-confirm]")) {
  form.addEventListener("submit", (event) => {
    if (!window.confirm(form.dataset.confirm)) event.preventDefault();
  });
}
