"""Why torch's float32 GEMM can run at under half the rate of TensorFlow's and XLA's on the same CPU:

    python -m tools.kernel_gap            # ~1 min; docs/scaling.md#the-kernel-gap

torch.mm on a float32 CPU tensor is MKL's SGEMM, linked into libtorch_cpu.so.  MKL picks its kernels by the
CPU's *vendor*: on a non-Intel CPU it takes a generic path, whatever the CPU's instruction set.  This tool
shows it in four measurements of a 2048^3 torch.mm, each in a process of its own (best of five rounds):
MKL's banner (MKL_VERBOSE=1 names the code path it took), the rate at all cores and at one thread, and,
as a diagnosis only, the rate with MKL's vendor check answered "Intel" (a two-line library, built here with
gcc, LD_PRELOADed over libtorch_cpu.so's exported `mkl_serv_intel_cpu_true`).  That last one is no
setting to use: Intel does not support it, and its results are not checked on the vendors it skips.  If
it alone closes the gap, the gap is MKL's vendor dispatch, a kernel library's, no graph's.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

from tools import output, output_options

RATE = """
import json, time, torch
n = 2048
a, b = torch.randn(n, n), torch.randn(n, n)
torch.mm(a, b)
best = 0.0
for _ in range(5):
    t = time.perf_counter()
    for _ in range(10):
        torch.mm(a, b)
    best = max(best, 2 * n ** 3 / ((time.perf_counter() - t) / 10) / 1e9)
print(json.dumps({"gflops": best, "threads": torch.get_num_threads()}))
"""
BANNER = "import torch; a = torch.randn(64, 64); torch.mm(a, a)"
FAKE = "int mkl_serv_intel_cpu_true(void) { return 1; }\nint mkl_serv_intel_cpu(void) { return 1; }\n"


def _run(code: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=600)


def measure() -> dict:
    out: dict = {}
    with open("/proc/cpuinfo") as f:
        out["cpu"] = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "?")
    banner = _run(BANNER, MKL_VERBOSE="1").stdout.splitlines()
    out["mkl_banner"] = banner[0] if banner else "(none)"
    out["all cores"] = json.loads(_run(RATE).stdout)
    out["one thread"] = json.loads(_run(RATE, OMP_NUM_THREADS="1").stdout)
    if shutil.which("gcc"):
        with tempfile.TemporaryDirectory() as d:
            src, lib = os.path.join(d, "fake.c"), os.path.join(d, "libfakeintel.so")
            with open(src, "w") as f:
                f.write(FAKE)
            subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-o", lib, src], check=True)
            fake = _run(RATE, LD_PRELOAD=lib)
            out["vendor check answered Intel (diagnosis only)"] = json.loads(fake.stdout)
            out["mkl_banner_answered_intel"] = _run(BANNER, MKL_VERBOSE="1", LD_PRELOAD=lib).stdout.splitlines()[0]
    return out


def table(result: dict) -> str:
    lines = [f"CPU: {result['cpu']}", f"MKL: {result['mkl_banner']}"]
    if "mkl_banner_answered_intel" in result:
        lines.append(f"MKL, vendor check answered Intel: {result['mkl_banner_answered_intel']}")
    lines += ["", "| torch.mm 2048^3 float32 | threads | GFLOP/s (best of 5) |", "|---|---|---|"]
    for way, r in result.items():
        if isinstance(r, dict):
            lines.append(f"| {way} | {r['threads']} | {r['gflops']:.0f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.kernel_gap", description=__doc__.splitlines()[0])
    output_options(ap)
    args = ap.parse_args(argv)
    return output(measure(), table, args)


if __name__ == "__main__":
    sys.exit(main())
