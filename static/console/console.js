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
