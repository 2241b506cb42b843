#!/usr/bin/env python3
"""PyTorch's profile of the same training step bench/kernel_profile.ts profiles for ours.

The network is bench/torch_reference.py's (the same U-Net, checked by its parameter count). Three
parts, each profiled after one warm-up call of the same part: the forward pass (the loss, dropout
on, autograd recording), forward + backward (so backward = that less the forward, op by op), and
the whole step (so the optimizer = that less forward + backward: clipping, Adam, EMA). Each op's
self CPU time (torch.profiler), summed per op name. Prints one JSON line:

  /usr/bin/python3 bench/torch_profile.py --preset mnist --batch 32 [--threads N]
"""
import argparse
import json
import time

import torch
from torch.profiler import ProfilerActivity, profile

from torch_reference import PRESETS, UNet, step_parts


def _profile(fn):
    fn()  # warm-up
    t0 = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    wall = (time.perf_counter() - t0) * 1000
    ops = {}
    for e in prof.key_averages():
        if e.self_cpu_time_total > 0 or e.count > 0:
            ops[e.key] = {"count": e.count, "ms": e.self_cpu_time_total / 1000}
    return {"wallMs": wall, "ops": ops}


def _minus(a, b):
    ops = {}
    for k, e in a["ops"].items():
        o = b["ops"].get(k, {"count": 0, "ms": 0})
        d = {"count": e["count"] - o["count"], "ms": max(0.0, e["ms"] - o["ms"])}
        if d["count"] > 0:
            ops[k] = d
    return {"wallMs": max(0.0, a["wallMs"] - b["wallMs"]), "ops": ops}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--preset", default="mnist", choices=PRESETS)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    cfg = PRESETS[a.preset]
    net = UNet(**cfg)
    n_params = sum(q.numel() for q in net.parameters())
    if n_params != cfg["params"]:
        raise SystemExit(f"parameter count {n_params} != {cfg['params']}: not the same network")
    B, S, C = a.batch, cfg["image_size"], cfg["in_ch"]
    x0 = torch.rand(B, C, S, S) * 2 - 1
    net.train()
    parts = step_parts(net, x0)

    def forward():
        parts["loss"]()

    fwd, grads, whole = _profile(forward), _profile(parts["gradients"]), _profile(parts["step"])
    out = {
        "impl": "pytorch",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "preset": a.preset,
        "batch": B,
        "params": n_params,
        "forward": fwd,
        "backward": _minus(grads, fwd),
        "optimizer": _minus(whole, grads),
        "step": whole,
        "samplingForward": _profile(parts["sampling"]),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
