// Time-series charts on uPlot (static/vendor/uplot/). Each
//   <div class="chart"><div class="chart-plot"></div>{{ data|json_script }}</div>
// whose <script type="application/json"> (Django's json_script) holds
//   {"unit": "msg/s", "from": <epoch s>, "to": <epoch s>, "x": [<epoch s>...],
//    "series": [{"label": "Messages in", "values": [<number or null>...]}]}
// is drawn with a UTC time axis over [from, to], a y axis in the unit, a legend that shows
// the hovered values, and gaps where a value is null. The page keeps the same numbers in a
// table (details.chart-table), open until the chart is drawn, for readers without JS.
(() => {
  // A colour token as the canvas needs it: the tokens are light-dark() pairs, which only an
  // element's computed colour resolves (for the theme in force).
  const probe = document.createElement("span");
  const css = (name) => {
    probe.style.color = `var(${name})`;
    document.body.appendChild(probe);
    const value = getComputedStyle(probe).color;
    probe.remove();
    return value;
  };
  const hhmm = (s) => { const d = new Date(s * 1000); return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`; };
  const pad = (n) => String(n).padStart(2, "0");
  const utc = (s) => {
    const d = new Date(s * 1000);
    return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
      `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} UTC`;
  };
  // The server's rate filter, in JS: 0, 0.04, 12.3, 1,235.
  const fmt = (v) => {
    if (v == null) return "—";
    const a = Math.abs(v);
    if (a === 0) return "0";
    if (a < 1) return v.toFixed(2).replace(/0+$/, "").replace(/\.$/, "");
    if (a < 100) return v.toFixed(1).replace(/\.0$/, "");
    return Math.round(v).toLocaleString("en-US");
  };

  function newest(u) {
    const xs = u.data[0];
    for (let i = xs.length - 1; i >= 0; i--) {
      if (u.data.slice(1).some((ys) => ys[i] != null)) { u.setLegend({ idx: i }); return; }
    }
  }

  function draw(container) {
    const script = container.querySelector('script[type="application/json"]');
    const plotEl = container.querySelector(".chart-plot");
    if (!script || !plotEl || !window.uPlot) return;
    const data = JSON.parse(script.textContent);
    if (container._uplot) container._uplot.destroy();
    plotEl.textContent = "";
    const axis = {
      stroke: css("--muted"),
      grid: { stroke: css("--line"), width: 1 },
      ticks: { stroke: css("--line"), width: 1 },
    };
    const colours = [css("--chart-1"), css("--ok"), css("--warn"), css("--bad")];
    const opts = {
      width: Math.max(240, plotEl.clientWidth),
      height: Number(container.dataset.height || 220),
      // Times on the axis in UTC, like every time the console prints.
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
      scales: {
        x: { time: true, range: () => [data.from, data.to] },
        y: { range: (u, min, max) => [0, max > 0 ? max * 1.15 : 1] },
      },
      axes: [
        // 24-hour UTC times; the range is at most a day on the dashboard.
        { ...axis, values: (u, ticks) => ticks.map(hhmm) },
        { ...axis, size: 64, label: data.unit, labelSize: 18, values: (u, ticks) => ticks.map(fmt) },
      ],
      series: [
        { label: "Time", value: (u, v) => (v == null ? "—" : utc(v)) },
        ...data.series.map((s, i) => ({
          label: s.label,
          stroke: colours[i % colours.length],
          fill: i === 0 ? css("--chart-fill") : undefined,
          width: 2,
          spanGaps: false,
          value: (u, v) => (v == null ? "—" : `${fmt(v)} ${data.unit}`),
        })),
      ],
      legend: { live: true },
      cursor: { points: { size: 7 } },
      hooks: {
        // Away from the cursor, the legend shows the newest values rather than dashes.
        ready: [(u) => newest(u)],
        setCursor: [(u) => { if (u.cursor.idx == null) newest(u); }],
      },
    };
    container._uplot = new uPlot(opts, [data.x, ...data.series.map((s) => s.values)], plotEl);
    container.dataset.drawn = "";
    const table = container.querySelector("details.chart-table");
    if (table) table.open = false;
  }

  const resize = new ResizeObserver((entries) => {
    for (const entry of entries) {
      const container = entry.target.closest(".chart");
      const plot = container && container._uplot;
      const width = Math.round(entry.contentRect.width);
      if (plot && width > 0 && Math.abs(plot.width - width) > 2) {
        plot.setSize({ width: Math.max(240, width), height: plot.height });
      }
    }
  });

  function drawAll(root, force) {
    for (const container of root.querySelectorAll(".chart")) {
      // A chart kept across an htmx swap (hx-preserve) is already drawn.
      if (!force && "drawn" in container.dataset && container._uplot) continue;
      draw(container);
      const plotEl = container.querySelector(".chart-plot");
      if (plotEl) resize.observe(plotEl);
    }
  }

  document.addEventListener("DOMContentLoaded", () => drawAll(document, false));
  document.addEventListener("htmx:afterSettle", () => drawAll(document, false));
  // Colours come from the CSS tokens: redraw when the theme changes.
  document.addEventListener("console:themechange", () => drawAll(document, true));
})();
