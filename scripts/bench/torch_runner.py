"""Times PyTorch baselines for scripts/bench-kernels.ts in one process.

stdin: JSON {"device": "cpu"|"cuda", "threads": int, "cases": [{"id", "setup", "step", "compile", "min_seconds"}]}
stdout: one JSON line per case {"id", "eager_ms", "compile_ms"|null, "error"|null}
Times are medians; CUDA times are wall time around a synchronised step, like the native side.
"""
import json
import statistics
import sys
import time

import torch


def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def time_fn(fn, device, min_seconds):
    for _ in range(3):
        fn()
    sync(device)
    samples = []
    start = time.perf_counter()
    while len(samples) < 5 or (time.perf_counter() - start < min_seconds and len(samples) < 200):
        t0 = time.perf_counter()
        fn()
        sync(device)
        samples.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(samples)


def main():
    job = json.load(sys.stdin)
    device = job["device"]
    torch.set_num_threads(job["threads"])
    for case in job["cases"]:
        out = {"id": case["id"], "eager_ms": None, "compile_ms": None, "error": None}
        try:
            scope = {"torch": torch, "DEVICE": device, "math": __import__("math")}
            exec(case["setup"], scope)
            body = "def __step():\n" + "\n".join("    " + line for line in case["step"].splitlines())
            exec(body, scope)
            step = scope["__step"]
            out["eager_ms"] = time_fn(step, device, case["min_seconds"])
            if case.get("compile") and device == "cuda" and hasattr(torch, "compile"):
                compiled = torch.compile(step)
                out["compile_ms"] = time_fn(compiled, device, case["min_seconds"])
        except Exception as e:  # report, keep going with the other cases
            out["error"] = f"{type(e).__name__}: {e}"
        print(json.dumps(out), flush=True)
        scope = None
        if device == "cuda":
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
