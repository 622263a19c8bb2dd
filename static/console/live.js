// The colour theme toggle and the "updated N s ago" labels of self-refreshing partials.

// Theme: "system" (follow prefers-color-scheme), "light" or "dark", kept in localStorage.
// The inline script in <head> applies a stored choice before the first paint.
(() => {
  const ORDER = ["system", "light", "dark"];
  const ICONS = { system: "◐", light: "☀", dark: "☾" };
  const current = () => {
    try { return localStorage.getItem("theme") || "system"; } catch (e) { return "system"; }
  };
  const apply = (theme) => {
    const root = document.documentElement;
    if (theme === "system") delete root.dataset.theme; else root.dataset.theme = theme;
    try {
      if (theme === "system") localStorage.removeItem("theme"); else localStorage.setItem("theme", theme);
    } catch (e) { /* private mode: the choice lasts for this page */ }
    const button = document.getElementById("theme-toggle");
    if (button) {
      const next = ORDER[(ORDER.indexOf(theme) + 1) % ORDER.length];
      button.textContent = `${ICONS[theme]} ${theme[0].toUpperCase()}${theme.slice(1)}`;
      button.title = `Colour theme: ${theme === "system" ? "follows your system" : theme}; click for ${next}`;
    }
    document.dispatchEvent(new CustomEvent("console:themechange", { detail: { theme } }));
  };
  document.addEventListener("DOMContentLoaded", () => {
    const button = document.getElementById("theme-toggle");
    if (!button) return;
    button.hidden = false;
    apply(current());
    button.addEventListener("click", () => apply(ORDER[(ORDER.indexOf(current()) + 1) % ORDER.length]));
  });
  // Following the system: tell the charts when it flips.
  window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => {
    if (current() === "system") document.dispatchEvent(new CustomEvent("console:themechange"));
  });
})();

// <span class="updated" data-updated-at="ISO time">: rendered as "updated 19:55:14 UTC",
// shown as "updated 3 s ago" and kept counting, so a refresh that stopped is visible.
(() => {
  const tick = () => {
    const now = Date.now();
    for (const el of document.querySelectorAll(".updated[data-updated-at]")) {
      const at = Date.parse(el.dataset.updatedAt);
      if (Number.isNaN(at)) continue;
      const s = Math.max(0, Math.round((now - at) / 1000));
      const text = s < 60 ? `${s} s` : s < 3600 ? `${Math.floor(s / 60)} min` : `${Math.floor(s / 3600)} h`;
      el.textContent = `updated ${text} ago`;
      // Three missed refreshes: say so in colour.
      const every = Number(el.dataset.every || 0);
      if (every && s > 3 * every) el.dataset.stale = ""; else delete el.dataset.stale;
    }
  };
  document.addEventListener("DOMContentLoaded", () => { tick(); setInterval(tick, 1000); });
  document.addEventListener("htmx:afterSettle", tick);
})();
