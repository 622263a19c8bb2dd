// Live tail: a WebSocket to topics.tail.consumers.TopicTailConsumer (protocol in its
// docstring). Rows arrive in binary frames: a JSON header line, then the rows' HTML
// compressed, newest first (format in topics/tail/frames.py). The page inflates them with
// the browser's DecompressionStream, shows them newest first, keeps the newest
// data-page-rows of them, and acknowledges each frame once it is on the page, so the server
// never sends faster than this page can show (it skips and counts instead).
(function () {
  "use strict";
  const root = document.getElementById("tail");
  if (!root) return;
  const rowsEl = document.getElementById("tail-rows");
  const toggle = document.getElementById("tail-toggle");
  const statusEl = document.getElementById("tail-status");
  const receivedEl = document.getElementById("tail-received");
  const skippedEl = document.getElementById("tail-skipped");
  const summaryEl = document.getElementById("tail-summary");
  const errorEl = document.getElementById("tail-error");
  const form = document.getElementById("tail-filter");
  const pageRows = parseInt(root.dataset.pageRows, 10) || 500;

  let ws = null;
  let wanted = false; // the user wants the tail running
  let received = 0;
  let skipped = 0;
  let retryMs = 1000;
  let retryTimer = null;

  function setStatus(state, text) {
    statusEl.dataset.state = state;
    statusEl.textContent = text;
  }

  function showError(message) {
    errorEl.textContent = message;
    errorEl.hidden = !message;
  }

  function counters() {
    receivedEl.textContent = received === 1 ? "1 message" : received + " messages";
    skippedEl.hidden = skipped === 0;
    skippedEl.textContent = skipped + (skipped === 1 ? " message skipped" : " messages skipped");
    skippedEl.dataset.skipped = String(skipped);
    receivedEl.dataset.received = String(received);
  }

  function query() {
    const params = new URLSearchParams(new FormData(form));
    for (const [k, v] of [...params.entries()]) if (!v) params.delete(k);
    const s = params.toString();
    return s ? "?" + s : "";
  }

  function socketUrl() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    return scheme + "//" + location.host + root.dataset.wsPath + query();
  }

  function inflate(bytes) {
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
    return new Response(stream).text();
  }

  // A rows frame: header line, meta (not needed here: `count` says how many), rows' HTML.
  async function onRows(socket, buffer) {
    const bytes = new Uint8Array(buffer);
    const newline = bytes.indexOf(10);
    const head = JSON.parse(new TextDecoder().decode(bytes.subarray(0, newline)));
    const html = head.count ? await inflate(bytes.subarray(newline + 1 + head.meta)) : "";
    if (ws !== socket) return; // the filter changed or the tail paused meanwhile
    if (html) {
      rowsEl.insertAdjacentHTML("afterbegin", html); // newest first already
      let extra = rowsEl.rows.length - pageRows;
      while (extra-- > 0) rowsEl.deleteRow(-1);
    }
    received += head.count;
    skipped = head.skipped;
    counters();
    if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ ack: head.seq }));
  }

  function onStatus(s) {
    const text = { live: "live", starting: "starting…", unreachable: "cluster unreachable" }[s.state] || s.state;
    setStatus(s.state, text);
    if (s.summary) summaryEl.textContent = s.summary;
    statusEl.title = s.message || "";
    // Problems that resolve by themselves are shown, then cleared when live again.
    showError(s.state === "unreachable" ? s.message : "");
  }

  function connect() {
    clearTimeout(retryTimer);
    showError("");
    setStatus("starting", "starting…");
    const socket = new WebSocket(socketUrl());
    socket.binaryType = "arraybuffer";
    ws = socket;
    let fatal = false;
    let shown = Promise.resolve(); // rows frames are shown one after the other, in order
    socket.onopen = () => { retryMs = 1000; };
    socket.onmessage = (event) => {
      if (typeof event.data !== "string") {
        const data = event.data;
        shown = shown.then(() => onRows(socket, data)).catch((err) => {
          showError("Could not show the newest rows: " + err);
        });
        return;
      }
      const frame = JSON.parse(event.data);
      if (frame.type === "status") {
        onStatus(frame);
      } else if (frame.type === "error") {
        fatal = true;
        showError(frame.message);
      }
    };
    socket.onclose = (event) => {
      if (ws !== socket) return;
      ws = null;
      // 44xx: refused, bad filter, topic gone, permission lost: retrying cannot help.
      if (fatal || (event.code >= 4400 && event.code < 4500)) {
        wanted = false;
        setStatus("stopped", "stopped");
        toggle.textContent = "Start";
        return;
      }
      if (!wanted) {
        setStatus("paused", "paused");
        return;
      }
      setStatus("reconnecting", "connection lost: reconnecting…");
      retryTimer = setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 15000);
    };
  }

  function start() {
    wanted = true;
    toggle.textContent = "Pause";
    connect();
  }

  function pause() {
    wanted = false;
    clearTimeout(retryTimer);
    toggle.textContent = "Start";
    if (ws) ws.close(1000);
    // Messages produced while paused are not shown: Start resumes at the live end.
    setStatus("paused", "paused");
    summaryEl.textContent = "Paused: this page holds no connection, and no Kafka consumer runs for it.";
  }

  toggle.addEventListener("click", () => (wanted ? pause() : start()));
  form.addEventListener("submit", (event) => {
    // Apply the filter to the open tail: new parameters, new connection, fresh rows.
    event.preventDefault();
    history.replaceState(null, "", location.pathname + query());
    const filterError = document.getElementById("tail-filter-error");
    if (filterError) filterError.remove();
    rowsEl.replaceChildren();
    received = 0;
    skipped = 0;
    counters();
    if (ws) { const old = ws; ws = null; old.close(1000); }
    start();
  });
  // Closing the tab closes the socket: the server releases the viewer (and the consumer).
  window.addEventListener("pagehide", () => { if (ws) ws.close(1000); });
  toggle.disabled = false;
  // A filter the server refused is shown by the page already: wait for a corrected one.
  if (!document.getElementById("tail-filter-error")) start();
})();
