// htmx swaps only 2xx by default; our error responses (4xx/5xx) carry a readable panel
// rendered by ConsoleErrorMiddleware, so swap them too and the user sees why.
document.addEventListener("DOMContentLoaded", () => {
  if (window.htmx) {
    htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "[45]..", swap: true, error: true },
    ];
  }
});

// "copy" on a message row: the record as JSON, to the clipboard.
document.addEventListener("click", (event) => {
  const button = event.target.closest("button.copy[data-copy]");
  if (!button) return;
  const text = button.dataset.copy;
  const done = () => { button.textContent = "copied"; setTimeout(() => (button.textContent = "copy"), 1500); };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, () => window.prompt("Copy:", text));
  } else {
    window.prompt("Copy:", text);
  }
});

// Stop a running message search: drop the element that fetches the next chunk.
document.addEventListener("click", (event) => {
  if (!event.target.closest("#search-stop")) return;
  const next = document.getElementById("search-next");
  if (next) { if (window.htmx) htmx.trigger(next, "htmx:abort"); next.remove(); }
  const state = document.getElementById("search-state");
  if (state) { state.dataset.state = "stopped"; state.textContent = "stopped by you"; }
  event.target.closest("#search-stop").disabled = true;
});
