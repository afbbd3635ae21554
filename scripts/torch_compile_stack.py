"""torch.compile's stack, a layer at a time, as the PyTorch 2 paper decomposed it: each runtime.backend and
runtime.mode of lightning_compile against eager lightning, cold caches, interleaved in rounds in one process
(so that a ratio compares runs measured side by side), for docs/graph-builds.md.

    python scripts/torch_compile_stack.py [--model dynamic] [--steps 200] [--rounds 2]

Prints a markdown table: builds, build s and its phases (Dynamo, AOTAutograd, Inductor), steady ms/step and
its ratio to lightning's of the same round; median and worst over the rounds."""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from src.config import compose_config  # noqa: E402
from src.run import run  # noqa: E402

CONFIGS = [("lightning", []), ("inductor, default", ["runtime.backend=inductor"]),
           ("inductor, reduce-overhead", ["runtime.mode=reduce-overhead"]),
           ("inductor, max-autotune", ["runtime.mode=max-autotune"]),
           ("aot_eager", ["runtime.backend=aot_eager"]), ("eager", ["runtime.backend=eager"])]


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="dynamic")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    out: dict[str, list[dict]] = {name: [] for name, _ in CONFIGS}
    with tempfile.TemporaryDirectory() as d:
        for i in range(a.rounds):
            for name, extra in CONFIGS[i % len(CONFIGS):] + CONFIGS[:i % len(CONFIGS)]:  # each round starts elsewhere
                runtime = "lightning" if name == "lightning" else "lightning_compile"
                cfg = compose_config("trainer.progress_bar=false", f"model={a.model}", f"runtime={runtime}",
                                     f"trainer.max_steps={a.steps}", f"trainer.num_threads={a.threads}",
                                     "trainer.compile_cache=cold", *extra)
                r = run(cfg, f"{d}/{i}_{name.replace(', ', '_')}")
                phases: dict[str, float] = {}
                for b in r["builds"]:
                    for k, v in (b.get("phases") or {}).items():
                        phases[k] = phases.get(k, 0.0) + v / 1e3
                out[name].append({"builds": r["compiles"], "build_s": r["compile_s"], "phases": phases,
                                  "ms": r["median_steady_ms"], "round": i})
    eager = {x["round"]: x["ms"] for x in out["lightning"]}

    def mw(xs, f="{:.3f}"):
        return f"{f.format(statistics.median(xs))} | {f.format(max(xs))}"

    print(f"model={a.model}, {a.steps} steps, {a.rounds} rounds, {a.threads} thread(s), cold caches")
    print("| lightning_compile | builds | build s: median | worst | dynamo s | aot_autograd s | inductor s "
          "| steady ms/step: median | worst | x lightning: median | worst |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, runs in out.items():
        ph = {k: statistics.median(x["phases"].get(k, 0.0) for x in runs)
              for k in ("dynamo_ms", "aot_autograd_ms", "inductor_ms")}
        ratio = [x["ms"] / eager[x["round"]] for x in runs]
        print(f"| {name} | {runs[0]['builds']} | {mw([x['build_s'] for x in runs])} | "
              f"{ph['dynamo_ms']:.3f} | {ph['aot_autograd_ms']:.3f} | {ph['inductor_ms']:.3f} | "
              f"{mw([x['ms'] for x in runs])} | {mw(ratio, '{:.2f}')} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
