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

// "copy" on a message row: the record as JSON, to the clipboard. Rows do not carry it (it
// was a third of a messages page): the button asks the table's data-copy-url for the record
// at the row's partition:offset, decoded and masked as the page shows it.
function copyFailed(button, why) {
  button.textContent = "copy failed";
  button.title = why;
  setTimeout(() => { button.textContent = "copy"; button.title = "Copy this message as JSON"; }, 4000);
}
document.addEventListener("click", (event) => {
  const button = event.target.closest("button.copy");
  if (!button) return;
  const row = button.closest("tr[data-partition][data-offset]");
  const table = button.closest("[data-copy-url]");
  if (!row || !table) return;
  const base = table.dataset.copyUrl;
  const url = base + (base.includes("?") ? "&" : "?") + "partition=" + encodeURIComponent(row.dataset.partition) + "&offset=" + encodeURIComponent(row.dataset.offset);
  button.textContent = "copying…";
  const text = fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
    .then((r) => r.text().then((body) => {
      if (r.ok) return body;
      let why = "the server answered " + r.status;
      try { why = JSON.parse(body).error || why; } catch (e) { /* not JSON */ }
      throw new Error(why);
    }));
  const done = () => { button.textContent = "copied"; setTimeout(() => (button.textContent = "copy"), 1500); };
  const showText = () => text.then((t) => { window.prompt("Copy:", t); button.textContent = "copy"; }, (e) => copyFailed(button, e.message));
  if (navigator.clipboard && window.isSecureContext && window.ClipboardItem) {
    // The clipboard is written within the click (a promise of the text), as Safari needs.
    const item = new ClipboardItem({ "text/plain": text.then((t) => new Blob([t], { type: "text/plain" })) });
    navigator.clipboard.write([item]).then(done, () =>
      text.then((t) => navigator.clipboard.writeText(t)).then(done, showText));
  } else if (navigator.clipboard && window.isSecureContext) {
    text.then((t) => navigator.clipboard.writeText(t)).then(done, showText);
  } else {
    showText();
  }
});

// Stop a running message search: drop the element that fetches the next chunk, take the
// Stop button away and show "Continue from here" (the last chunk's position, hidden so far).
document.addEventListener("click", (event) => {
  const stop = event.target.closest("#search-stop");
  if (!stop) return;
  const next = document.getElementById("search-next");
  if (next) { if (window.htmx) htmx.trigger(next, "htmx:abort"); next.remove(); }
  const state = document.getElementById("search-state");
  if (state) { state.dataset.state = "stopped"; state.textContent = "stopped by you"; }
  stop.remove();
  const more = document.getElementById("search-continue");
  if (more) more.hidden = false;
});

// A search chunk that failed without the server's own error fragment (no answer, or an
// error page from further out): the search is over, so say so and take Stop away.
function searchFailed(event, text) {
  const elt = event.detail && event.detail.elt;
  if (!elt || !elt.isConnected || !(elt.id === "search-next" || elt.closest("#search-continue"))) return;
  const state = document.getElementById("search-state");
  if (state) { state.dataset.state = "error"; state.textContent = text; }
  const stop = document.getElementById("search-stop");
  if (stop) stop.remove();
}
document.addEventListener("htmx:sendError", (event) => {
  searchFailed(event, "stopped: the server did not answer");
  const row = document.getElementById("search-next");
  if (row) row.remove();
});
document.addEventListener("htmx:beforeSwap", (event) => {
  const d = event.detail;
  // The search's own error fragment brings its progress panel: nothing to do here.
  if (d.isError && !String(d.serverResponse).includes('id="search-progress"')) {
    searchFailed(event, "stopped by an error");
  }
});

// Forms with modes (the reset target, the browser's seek, the generator's template): a
// <select data-mode-select="NAME"> shows only the [data-mode-for="NAME"] parts whose
// data-modes list its value; hidden parts are disabled, so their inputs are not sent. A
// part holding an error stays shown. Without script every part shows, under its heading.
function modeFields(root) {
  (root || document).querySelectorAll("select[data-mode-select]").forEach((select) => {
    const form = select.form || document;
    const apply = () => {
      form.querySelectorAll(`[data-mode-for="${select.dataset.modeSelect}"]`).forEach((part) => {
        const on = part.dataset.modes.split(" ").includes(select.value)
          || part.querySelector(".field-error") !== null;
        part.hidden = !on;
        if (part.tagName === "FIELDSET") part.disabled = !on;
      });
    };
    if (!select.dataset.modeBound) {
      select.dataset.modeBound = "1";
      select.addEventListener("change", () => {
        form.querySelectorAll(`[data-mode-for="${select.dataset.modeSelect}"] .field-error`)
          .forEach((e) => e.remove());  // a stale error must not keep its part shown
        apply();
      });
    }
    apply();
  });
}
document.addEventListener("DOMContentLoaded", () => modeFields(document));
document.addEventListener("htmx:load", (event) => modeFields(event.target));
