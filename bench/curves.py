"""Cost curves: how a figure grows with the size of the work, one SVG picture per curve.

`python -m bench.curves` draws, from the committed results:
- tail_p99.svg: live tail p99 produce->receipt at 20, 200 and 1,000 viewers
  (tail.json `runs`), with the 0.25 s goal;
- search_rate.svg: rare-substring search rate at 100k, 1M and 10M messages, with kcat's
  rate on the same topics (search.json `curve`, from `python -m bench.search curve`);
- newest50.svg: newest-50 whole HTTP request at 100k, 1M and 10M messages, with plain
  confluent-kafka's (browse.json `curve`, from `python -m bench.browse curve`).

Hand-written SVG (no plotting library): a log-scaled x axis, a linear y axis from 0,
one polyline per series with its points labelled, and dashed goal lines.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import os
from html import escape
from pathlib import Path
from typing import Any

from bench.common import RESULTS, git_commit

WIDTH, HEIGHT = 720, 440
LEFT, RIGHT, TOP, BOTTOM = 90, 190, 56, 64
COLORS = ("#2563eb", "#9ca3af", "#16a34a", "#dc2626")
CHAR_W = 6.6  # about a character of 12 px system-ui, to keep labels apart


def record_curve(name: str, curve: dict[str, Any]) -> Path:
    """Put `curve` under the "curve" key of bench/results/<name>.json, keeping the rest of
    the file (the full benchmark's figures) as it is; the curve carries its own date,
    commit and load average."""
    path = RESULTS / f"{name}.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data["curve"] = {
        **curve,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
    }
    path.write_text(json.dumps(data, indent=2) + "\n")
    print(json.dumps(data["curve"], indent=2))
    return path


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(value))
    for step in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if step * exp >= value:
            return step * exp
    return 10 * exp


def _fmt(value: float, unit: str) -> str:
    if unit == "s" and value < 1:
        return f"{value * 1000:.0f} ms" if value >= 0.01 else f"{value * 1000:.1f} ms"
    if unit == "s":
        return f"{value:.3g} s"
    if unit == "msg/s":
        if value >= 1e6:
            return f"{value / 1e6:.2f}M msg/s"
        return f"{value / 1e3:.0f}k msg/s"
    return f"{value:g}"


def _fmt_x(value: float) -> str:
    if value >= 1e6:
        return f"{value / 1e6:g}M"
    if value >= 1e4:
        return f"{value / 1e3:g}k"
    return f"{value:g}"


def line_chart(
    path: Path,
    title: str,
    x_label: str,
    unit: str,
    series: list[tuple[str, list[tuple[float, float]]]],
    goals: list[tuple[str, float]] = (),
    note: str = "",
    y_log: bool = False,
) -> Path:
    """One SVG line chart: x on a log scale, y linear from 0 (in `unit`), or on a log
    scale too (`y_log`: figures that span decades)."""
    xs = sorted({x for _name, points in series for x, _y in points})
    ys = [y for _name, points in series for _x, y in points] + [g for _l, g in goals]
    if not xs:
        raise ValueError(f"{title}: no points")
    y_max = _nice_max(max(ys) * 1.08)
    y_lo_exp = math.floor(math.log10(min(y for y in ys if y > 0))) if y_log else 0
    y_hi_exp = math.ceil(math.log10(max(ys))) if y_log else 0
    if y_log and y_hi_exp == y_lo_exp:
        y_hi_exp += 1
    lo, hi = math.log10(min(xs)), math.log10(max(xs))
    if hi == lo:
        lo, hi = lo - 0.5, hi + 0.5
    pad = (hi - lo) * 0.08
    lo, hi = lo - pad, hi + pad
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x: float) -> float:
        return LEFT + (math.log10(x) - lo) / (hi - lo) * plot_w

    def py(y: float) -> float:
        if y_log:
            frac = (math.log10(max(y, 10.0**y_lo_exp)) - y_lo_exp) / (y_hi_exp - y_lo_exp)
            return TOP + plot_h - frac * plot_h
        return TOP + plot_h - y / y_max * plot_h

    grid = (
        [10.0**e for e in range(y_lo_exp, y_hi_exp + 1)]
        if y_log
        else [y_max * i / 5 for i in range(6)]
    )

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="system-ui, sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        f'<text x="{LEFT}" y="26" font-size="16" font-weight="600" fill="#111827">'
        f"{escape(title)}</text>",
    ]
    if note:
        out.append(f'<text x="{LEFT}" y="44" fill="#6b7280">{escape(note)}</text>')
    for y in grid:  # y grid and labels
        out.append(
            f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{py(y):.1f}" y2="{py(y):.1f}" '
            f'stroke="#e5e7eb"/>'
        )
        out.append(
            f'<text x="{LEFT - 8}" y="{py(y) + 4:.1f}" text-anchor="end" fill="#374151">'
            f"{escape(_fmt(y, unit)) if y else '0'}</text>"
        )
    for x in xs:  # x ticks at the measured sizes
        out.append(
            f'<line x1="{px(x):.1f}" x2="{px(x):.1f}" y1="{TOP}" y2="{TOP + plot_h}" '
            f'stroke="#f3f4f6"/>'
        )
        out.append(
            f'<text x="{px(x):.1f}" y="{TOP + plot_h + 18}" text-anchor="middle" '
            f'fill="#374151">{escape(_fmt_x(x))}</text>'
        )
    out.append(
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" '
        f'stroke="#9ca3af"/>'
    )
    out.append(
        f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 18}" text-anchor="middle" '
        f'fill="#111827">{escape(x_label)} (log scale)</text>'
    )
    if y_log:
        out.append(
            f'<text x="14" y="{TOP + plot_h / 2}" fill="#6b7280" '
            f'transform="rotate(-90 14 {TOP + plot_h / 2})" text-anchor="middle">'
            "log scale</text>"
        )
    legend_y = TOP + 8
    # Boxes (x0, y0, x1, y1) of the points and their figures, which goal labels must not hit.
    taken = []
    for _name, points in series:
        for x, y in points:
            width = CHAR_W * len(_fmt(y, unit))
            if px(x) + 7 + width <= LEFT + plot_w:
                taken.append((px(x) - 5, py(y) - 20, px(x) + 9 + width, py(y) + 22))
            else:  # its figure sits left of it
                taken.append((px(x) - 9 - width, py(y) - 20, px(x) + 5, py(y) + 22))

    lines = [sorted((px(x), py(y)) for x, y in points) for _name, points in series]

    def crosses_a_line(box: tuple[float, float, float, float]) -> bool:
        x0, y0, x1, y1 = box
        for line in lines:
            for (ax, ay), (bx, by) in itertools.pairwise(line):
                for t in range(21):
                    sx, sy = ax + (bx - ax) * t / 20, ay + (by - ay) * t / 20
                    if x0 - 2 < sx < x1 + 2 and y0 - 2 < sy < y1 + 2:
                        return True
        return False

    def free(box: tuple[float, float, float, float]) -> bool:
        return not any(_overlap(box, t) for t in taken) and not crosses_a_line(box)

    goal_boxes: list[tuple[float, float, float, float]] = []
    for label, g in goals:
        out.append(
            f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{py(g):.1f}" y2="{py(g):.1f}" '
            f'stroke="#dc2626" stroke-dasharray="6 4"/>'
        )
        # Inside the plot (beside it, it met the legend), under or over its line, at the
        # right, the left or the middle: the first place that hides no point, figure or
        # series line.
        width = CHAR_W * len(label)
        right, left = LEFT + plot_w - 6, LEFT + 6
        mid = LEFT + (plot_w - width) / 2
        places = [
            (right - width, py(g) + 14, "end", right),
            (right - width, py(g) - 5, "end", right),
            (left, py(g) + 14, "start", left),
            (left, py(g) - 5, "start", left),
            (mid, py(g) - 5, "start", mid),
            (mid, py(g) + 14, "start", mid),
        ]
        x0, y, anchor, x = next(
            (pl for pl in places if free((pl[0], pl[1] - 11, pl[0] + width, pl[1] + 2))),
            places[0],
        )
        taken.append((x0, y - 11, x0 + width, y + 2))
        goal_boxes.append((x0, y - 11, x0 + width, y + 2))
        out.append(
            f'<text x="{x}" y="{y:.1f}" fill="#dc2626" '
            f'text-anchor="{anchor}">{escape(label)}</text>'
        )
    # Each point's figure goes where it hides no line, point, goal line, other figure or the
    # plot's edge: over and right of its point, else under and right, over and left, under
    # and left, farther over or under on the right (the first that is free; the first if
    # none is).
    dots = [(px(x), py(y)) for _name, points in series for x, y in points]
    placed = list(goal_boxes)

    def clear(box: tuple[float, float, float, float]) -> bool:
        x0, y0, x1, y1 = box
        if x0 < LEFT + 2 or x1 > LEFT + plot_w - 2 or y0 < TOP + 2 or y1 > TOP + plot_h - 2:
            return False
        if any(y0 - 1 <= py(g) <= y1 + 1 for _label, g in goals):
            return False
        if any(_overlap(box, b) for b in placed):
            return False
        if any(x0 - 5 < dx < x1 + 5 and y0 - 5 < dy < y1 + 5 for dx, dy in dots):
            return False
        return not crosses_a_line(box)

    figures: dict[tuple[int, float], tuple[float, float, str]] = {}
    for i, (_name, points) in enumerate(series):
        for x, y in sorted(points):
            width = CHAR_W * len(_fmt(y, unit))
            cx, cy = px(x), py(y)
            places = [
                (cx + 7, cy - 8, "start", cx + 7, cx + 7 + width),
                (cx + 7, cy + 18, "start", cx + 7, cx + 7 + width),
                (cx - 7, cy - 8, "end", cx - 7 - width, cx - 7),
                (cx - 7, cy + 18, "end", cx - 7 - width, cx - 7),
                # farther over or under, where a steep line leaves no room beside the point
                (cx + 7, cy - 22, "start", cx + 7, cx + 7 + width),
                (cx + 7, cy + 32, "start", cx + 7, cx + 7 + width),
            ]
            tx, ty, anchor, bx0, bx1 = next(
                (pl for pl in places if clear((pl[3], pl[1] - 11, pl[4], pl[1] + 2))), places[0]
            )
            placed.append((bx0, ty - 11, bx1, ty + 2))
            figures[(i, x)] = (tx, ty, anchor)
    for i, ((name, points), color) in enumerate(zip(series, COLORS, strict=False)):
        points = sorted(points)
        coords = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in points)
        out.append(f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="2.5"/>')
        for x, y in points:
            out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="4" fill="{color}"/>')
            tx, ty, anchor = figures[(i, x)]
            out.append(
                f'<text x="{tx:.1f}" y="{ty:.1f}" fill="{color}" '
                f'text-anchor="{anchor}">{escape(_fmt(y, unit))}</text>'
            )
        out.append(
            f'<rect x="{LEFT + plot_w + 10}" y="{legend_y + 60}" width="12" height="12" '
            f'fill="{color}"/>'
        )
        out.append(
            f'<text x="{LEFT + plot_w + 28}" y="{legend_y + 70}" fill="#111827">'
            f"{escape(name)}</text>"
        )
        legend_y += 20
    out.append("</svg>")
    path.write_text("\n".join(out) + "\n")
    return path


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    """Whether boxes (x0, y0, x1, y1) `a` and `b` overlap."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _load(name: str) -> dict:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def draw_all() -> list[Path]:
    """Every curve whose figures are in the results; the SVG paths written."""
    written = []
    tail = _load("tail")
    if tail.get("runs"):
        # The first run at each viewer count makes the curve (the runs); any
        # other run is drawn as a point of its own.
        curve, others, seen = [], [], set()
        for r in tail["runs"]:
            (others if r["viewers"] in seen else curve).append(r)
            seen.add(r["viewers"])

        def label(r: dict) -> str:
            procs = f", {r['server_processes']} processes" if r["server_processes"] > 1 else ""
            return f"{r['viewers']} at {r['rate_msgs_per_s']:,} msg/s{procs}"

        short = "{viewers} @ {rate_msgs_per_s:,} msg/s".format
        series = [
            ("p99, issue 14's runs", curve),
            *[("p99, " + short(**r), [r]) for r in others],
        ]
        written.append(
            line_chart(
                RESULTS / "tail_p99.svg",
                "Live tail: p99 produce → receipt, by viewers",
                "viewers",
                "s",
                [
                    *[
                        (name, [(r["viewers"], r["p99_s"]) for r in rs if r["p99_s"]])
                        for name, rs in series
                    ],
                    (  # what Kafka alone costs on the machine, in the same run
                        "reference p99 (Kafka)",
                        [
                            (r["viewers"], r["reference_p99_s"])
                            for r in curve
                            if r.get("reference_p99_s")
                        ],
                    ),
                ],
                goals=[("goal < 0.25 s", 0.25)],
                note="; ".join(label(r) for r in tail["runs"]),
                y_log=True,
            )
        )
    search = _load("search").get("curve")
    if search:
        points = search["points"]
        written.append(
            line_chart(
                RESULTS / "search_rate.svg",
                "Search (rare substring, whole topic): messages per second",
                "messages in the topic",
                "msg/s",
                [
                    ("search", [(p["messages"], p["rare_msgs_per_s"]) for p in points]),
                    ("kcat", [(p["messages"], p["kcat_msgs_per_s"]) for p in points]),
                ],
                goals=[("goal ≥ 1M msg/s", 1_000_000)],
                note=f"{search.get('partitions', '')} partitions, lz4; 1-min load at each "
                "size: " + " / ".join(str(p.get("load_average_1m", "?")) for p in points),
            )
        )
    browse = _load("browse").get("curve")
    if browse:
        points = browse["points"]
        written.append(
            line_chart(
                RESULTS / "newest50.svg",
                "Newest 50 messages: whole HTTP request (median)",
                "messages in the topic",
                "s",
                [
                    ("console (HTTP)", [(p["messages"], p["newest50_http_s"]) for p in points]),
                    (
                        "plain confluent-kafka",
                        [(p["messages"], p["raw_newest50_s"]) for p in points],
                    ),
                ],
                goals=[("goal ≤ 8 ms", 0.008), ("goal ≤ 25 ms (10M)", 0.025)],
                note=f"{browse.get('partitions', '')} partitions; 1-min load at each size: "
                + " / ".join(str(p.get("load_average_1m", "?")) for p in points),
            )
        )
    return written


def main() -> None:
    for path in draw_all():
        print(path)


if __name__ == "__main__":
    main()
