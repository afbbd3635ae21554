"""The roofline of a scaling sweep: ms per step against FLOPs per step, per runtime, on log axes, with each
framework's measured GEMM floor drawn (ms = FLOPs / that framework's peak), and each static runtime's
break-even step against the size of its step, so the crossover is seen where it happens.

A point's distance above its framework's floor line is its multiple of the floor (x_floor): the part of a
step that is not matrix products at the framework's best rate (dispatch, Python, the framework's own
per-step work, elementwise ops, smaller-than-best kernels).  Every runtime is set against its own
framework's floor, never another's: a kernel library's difference is not a graph's (docs/scaling.md).

Fed by the sweep summary (src/summary.py, from the jobs' result.json) and by `python bench.py --scaling`
(interleaved rounds), as points: dicts with model, runtime, framework, graph, size, flops, ms (median),
lo/hi (the range over rounds) or iqr (over steps), optional, peak_gflops (None: no floor) and break_even.
"""
from __future__ import annotations

import math


def _size_key(size: str) -> tuple:
    try:
        return tuple(int(v) for v in str(size).split("x"))
    except ValueError:
        return (math.inf, str(size))


def table(points: list[dict]) -> str:
    head = ["model", "size", "runtime", "framework", "graph", "MFLOP/step", "ms/step", "spread ms", "GFLOP/s",
            "floor ms", "x floor", "floor of", "breaks even at step"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for p in sorted(points, key=lambda p: (p["model"], _size_key(p["size"]), p["framework"], p["runtime"])):
        floor = p["flops"] / (p["peak_gflops"] * 1e9) * 1e3 if p.get("peak_gflops") else None
        spread = (f"{p['lo']:.3g}-{p['hi']:.3g}" if p.get("lo") is not None and p.get("hi") is not None else
                  f"IQR {p['iqr']:.3g}" if p.get("iqr") is not None else "")
        lines.append("| " + " | ".join([
            p["model"], str(p["size"]), p["runtime"], p["framework"], p["graph"], f"{p['flops'] / 1e6:.4g}",
            f"{p['ms']:.4g}", spread, f"{p['flops'] / (p['ms'] * 1e6):.3g}",
            "" if floor is None else f"{floor:.3g}", "" if floor is None else f"{p['ms'] / floor:.2f}",
            f"{p['framework']} GEMM, {p['peak_gflops']:.0f} GFLOP/s" if p.get("peak_gflops") else "no peak measured",
            "" if p.get("break_even") is None else str(p["break_even"])]) + " |")
    return "\n".join(lines)


def plot(points: list[dict], path: str) -> None:
    """Two panels per model: the roofline, and the static runtimes' break-even steps against FLOPs per step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = list(dict.fromkeys(p["model"] for p in points))
    runtimes = list(dict.fromkeys(p["runtime"] for p in points))
    frameworks = list(dict.fromkeys(p["framework"] for p in points))
    color = {rt: plt.cm.tab10(i % 10) for i, rt in enumerate(runtimes)}
    fw_color = {fw: plt.cm.Dark2(i % 8) for i, fw in enumerate(frameworks)}
    fig, axes = plt.subplots(len(models), 2, figsize=(15, 5.2 * len(models)), squeeze=False,
                             gridspec_kw={"width_ratios": [1.4, 1]})
    for (ax, ax_even), model in zip(axes, models):
        mine = [p for p in points if p["model"] == model]
        xs = [p["flops"] for p in mine]
        lo, hi = min(xs) / 2, max(xs) * 2
        for rt in runtimes:
            pts = sorted((p for p in mine if p["runtime"] == rt), key=lambda p: p["flops"])
            if not pts:
                continue
            style = "--" if pts[0]["graph"] == "static" else "-"
            ax.plot([p["flops"] for p in pts], [p["ms"] for p in pts], style, marker="o", color=color[rt],
                    label=f"{rt} ({pts[0]['framework']}, {pts[0]['graph']})", linewidth=1.2, markersize=4)
            for p in pts:
                if p.get("lo") is not None and p.get("hi") is not None:
                    ax.plot([p["flops"]] * 2, [p["lo"], p["hi"]], color=color[rt], linewidth=2, alpha=0.5)
            even = [(p["flops"], p["break_even"]) for p in pts if p["graph"] == "static" and p.get("break_even")
                    is not None]
            if even:
                ys = [_even_value(v) for _, v in even]
                ax_even.plot([x for x, _ in even], [y if y is not None else float("nan") for y in ys], style,
                             marker="o", color=color[rt], label=f"{rt} vs its framework's dynamic runtime")
                for (x, v), y in zip(even, ys):
                    if y is None or str(v).startswith("never"):
                        ax_even.annotate("never", (x, y if y is not None else 1), fontsize=7, color=color[rt],
                                         textcoords="offset points", xytext=(3, 3))
        for fw in frameworks:
            peak = next((p["peak_gflops"] for p in mine if p["framework"] == fw and p.get("peak_gflops")), None)
            if peak:
                ax.plot([lo, hi], [lo / (peak * 1e9) * 1e3, hi / (peak * 1e9) * 1e3], ":", color=fw_color[fw],
                        linewidth=2.2, label=f"{fw}'s GEMM floor ({peak:.0f} GFLOP/s)")
        ax.set(xscale="log", yscale="log", xlabel="FLOPs per step (matrix products, src/flops.py)",
               ylabel="ms per step (median)", title=f"{model}: ms per step against FLOPs per step")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7, loc="upper left")
        ax_even.set(xscale="log", yscale="log", xlabel="FLOPs per step",
                    ylabel="break-even step (log; 'never': not within the run)",
                    title=f"{model}: where each static runtime pays for its builds")
        ax_even.grid(alpha=0.3, which="both")
        if ax_even.lines:
            ax_even.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _even_value(v) -> float | None:
    """A break-even cell as a number to plot: the step, or a 'never (~N projected)' projection, else None."""
    if isinstance(v, (int, float)):
        return max(float(v), 1.0)
    text = str(v).replace(",", "")
    try:
        return max(float(text), 1.0)  # the bench's cells are strings
    except ValueError:
        pass
    if "~" in text:
        try:
            return float(text.split("~", 1)[1].split()[0].rstrip(")"))
        except ValueError:
            return None
    return None


def from_results(rows: list[dict], size_of) -> list[dict]:
    """Points from sweep rows (result.json's): those that completed with FLOPs and a steady time."""
    points = []
    for r in rows:
        if r.get("status") != "completed" or not r.get("flops_per_step") or not r.get("median_steady_ms"):
            continue
        points.append(dict(model=r["model"], runtime=r["runtime"], framework=r["framework"], graph=r["graph"],
                           size=size_of(r), flops=r["flops_per_step"], ms=r["median_steady_ms"],
                           iqr=r.get("iqr_steady_ms"), peak_gflops=r.get("peak_gflops"),
                           break_even=r.get("break_even_step")))
    return points
