"""Charts: the only module that imports matplotlib (the optional ``plot`` extra), lazily.

``plot_frontier`` draws the Pareto frontier of ``planner.studies.frontier``: tokens/s per user on the
x axis (interactivity), tokens/s per GPU on the y axis (throughput), one line per scenario,
the plan's layout written next to its first, middle and last points.
"""

from __future__ import annotations

from pathlib import Path

from planner.errors import InputError
from planner.files import write_with

FORMATS = (".png", ".svg")
# 150 dpi keeps a 9 x 5.5 inch chart legible in a README (1350 x 825 pixels).
DPI = 150
FIGSIZE_IN = (9.0, 5.5)
# Where a layout label may sit relative to its point, in points, nearest first (see _place_labels).
LINE_SAMPLE_SPACING_PX = 4
LABEL_OFFSETS_PT = tuple((dx, dy) for dy in (12, -30, 34, -52, 56, -74) for dx in (8, -8, 30, -30))


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise InputError("--plot needs matplotlib: pip install 'rackplan[plot]'") from None
    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt
    return plt


def point_label(row: dict) -> str:
    """``TP4 EP8 DP2`` (degrees of 1 left out, TP always shown) over ``b64 fp4/fp8 x9``
    (batch, weight/KV quantisation, instances)."""
    p = row["plan"]
    dims = [f"TP{p['tp']}"] + [f"{k.upper()}{p[k]}" for k in ("pp", "ep", "dp") if p[k] != 1]
    text = f"{' '.join(dims)}\nb{p['batch']} {p['quant']}/{p['kv_quant']} x{p['instances']}"
    if p["kv_offload_fraction"]:
        text += f" off {p['kv_offload_fraction']:g}"
    return text


def annotated(n: int) -> list[int]:
    """Indices of the points that get a layout label: first, middle, last."""
    return sorted({0, n // 2, n - 1}) if n else []


def plot_frontier(rows: list[dict], path: str | Path, title: str = "") -> Path:
    """Write the frontier chart to ``path`` (.png or .svg); rows are ``planner.studies.frontier`` points."""
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise InputError(f"--plot: use a .png or .svg file name (got '{path.name}')")
    plt = _pyplot()
    lines: dict[str, list[dict]] = {}
    for r in rows:
        if r["status"] == "ok":
            lines.setdefault(r["series"], []).append(r)
    if not lines:
        raise InputError("--plot: no scenario has a frontier point to draw")
    fig, ax = plt.subplots(figsize=FIGSIZE_IN)
    labels: list[tuple[str, float, float, str]] = []
    for name, pts in lines.items():
        pts = sorted(pts, key=lambda r: r["tok_per_user"])
        xs = [r["tok_per_user"] for r in pts]
        ys = [r["tok_per_gpu"] for r in pts]
        (line,) = ax.plot(xs, ys, marker="o", markersize=4, linewidth=1.6, label=name)
        for j in annotated(len(pts)):
            labels.append((point_label(pts[j]), xs[j], ys[j], line.get_color()))
    ax.set_xlabel("Interactivity (tokens/s per user)")
    ax.set_ylabel("Throughput (tokens/s per GPU)")
    ax.set_xlim(left=0, right=max(r["tok_per_user"] for pts in lines.values() for r in pts) * 1.08)
    ax.set_ylim(bottom=0, top=ax.get_ylim()[1] * 1.1)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    _place_labels(fig, ax, labels)
    metadata = {"Software": None} if path.suffix.lower() == ".png" else {"Date": None}
    write_with(path, lambda tmp: fig.savefig(tmp, dpi=DPI, metadata=metadata), "plot")
    plt.close(fig)
    return path


def _place_labels(fig, ax, labels: list[tuple[str, float, float, str]]) -> None:
    """Annotate each point at the candidate offset that costs least: outside the axes costs most,
    then covering an earlier label, then each sample of a drawn line the text box hides."""
    from matplotlib.text import Text

    renderer = fig.canvas.get_renderer()
    inside = ax.get_window_extent(renderer)
    samples = []
    for line in ax.get_lines():
        xy = ax.transData.transform(line.get_xydata())
        for (x0, y0), (x1, y1) in zip(xy[:-1], xy[1:]):
            n = max(1, int(((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5 / LINE_SAMPLE_SPACING_PX))
            samples += [(x0 + (x1 - x0) * t / n, y0 + (y1 - y0) * t / n) for t in range(n + 1)]
    placed = []
    for text, x, y, color in labels:
        best = None
        for dx, dy in LABEL_OFFSETS_PT:
            ha = "left" if dx > 0 else "right"
            note = ax.annotate(text, (x, y), textcoords="offset points", xytext=(dx, dy), ha=ha, ma=ha, fontsize=7,
                               color=color, arrowprops={"arrowstyle": "-", "color": color, "lw": 0.6})
            note.update_positions(renderer)
            box = Text.get_window_extent(note, renderer).padded(2)  # the text alone, not its leader line
            outside = not (box.x0 >= inside.x0 and box.x1 <= inside.x1 and box.y0 >= inside.y0 and box.y1 <= inside.y1)
            cost = (100_000 * outside + 1000 * sum(box.overlaps(other) for other in placed)
                    + sum(box.contains(px, py) for px, py in samples))
            if best is None or cost < best[0]:
                if best is not None:
                    best[1].remove()
                best = (cost, note, box)
            else:
                note.remove()
            if cost == 0:
                break
        placed.append(best[2])
