#!/usr/bin/env python3
"""The @ddpm/core U-Net in PyTorch, timed the way bench/train_bench.ts times ours.

The same architecture as src/unet/unet.ts (Ho et al. 2020 / improved-diffusion layout); the
parameter count is printed and checked against the preset's (mnist 1,623,169, cifar10
35,746,307), so the two programs time the same network. Prints one JSON line:

  /usr/bin/python3 bench/torch_reference.py --preset mnist --batch 32 [--iters 5] [--threads N] [--device cuda]

Times are medians over --iters runs after one warm-up run: the training step is forward +
L_simple + backward + Adam (lr 2e-4) + the EMA update; "forward" is one no-grad forward pass
(what one sampling step costs).
"""
import argparse
import json
import math
import platform
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

PRESETS = {
    "mnist": dict(image_size=28, in_ch=1, ch=32, ch_mult=(1, 2, 2), num_res_blocks=2,
                  attn_res=(7,), dropout=0.1, groups=8, params=1_623_169),
    "cifar10": dict(image_size=32, in_ch=3, ch=128, ch_mult=(1, 2, 2, 2), num_res_blocks=2,
                    attn_res=(16,), dropout=0.1, groups=32, params=35_746_307),
}


def timestep_embedding(t, dim):
    # [sin(t·f_i), cos(t·f_i)], f_i = exp(-ln(10000) i / (half - 1)), as timestep_embedding.ts
    half = dim // 2
    freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32, device=t.device) / (half - 1))
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.sin(args), torch.cos(args)], dim=1)


class ResBlock(nn.Module):
    def __init__(self, ci, co, temb, groups, dropout):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, ci)
        self.conv1 = nn.Conv2d(ci, co, 3, padding=1)
        self.temb = nn.Linear(temb, co)
        self.norm2 = nn.GroupNorm(groups, co)
        self.drop = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(co, co, 3, padding=1)
        self.skip = nn.Conv2d(ci, co, 1) if ci != co else nn.Identity()

    def forward(self, x, emb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.temb(F.silu(emb))[:, :, None, None]
        h = self.conv2(self.drop(F.silu(self.norm2(h))))
        return self.skip(x) + h


class Attn(nn.Module):
    def __init__(self, c, groups):
        super().__init__()
        self.norm = nn.GroupNorm(groups, c)
        self.q, self.k, self.v = (nn.Conv2d(c, c, 1) for _ in range(3))
        self.proj = nn.Conv2d(c, c, 1)

    def forward(self, x):
        B, C, H, W = x.shape
        h = self.norm(x)
        q = self.q(h).reshape(B, C, H * W)
        k = self.k(h).reshape(B, C, H * W)
        v = self.v(h).reshape(B, C, H * W)
        w = torch.softmax(torch.einsum("bci,bcj->bij", q, k) / math.sqrt(C), dim=2)
        out = torch.einsum("bij,bcj->bci", w, v).reshape(B, C, H, W)
        return x + self.proj(out)


class UNet(nn.Module):
    def __init__(self, image_size, in_ch, ch, ch_mult, num_res_blocks, attn_res, dropout,
                 groups, **_):
        super().__init__()
        self.ch = ch
        temb = 4 * ch
        self.temb = nn.Sequential(nn.Linear(ch, temb), nn.SiLU(), nn.Linear(temb, temb))
        self.conv_in = nn.Conv2d(in_ch, ch, 3, padding=1)
        self.down = nn.ModuleList()
        skips, cur, res = [ch], ch, image_size
        for i, m in enumerate(ch_mult):
            for _ in range(num_res_blocks):
                blk = nn.ModuleList([ResBlock(cur, ch * m, temb, groups, dropout)])
                cur = ch * m
                if res in attn_res:
                    blk.append(Attn(cur, groups))
                self.down.append(blk)
                skips.append(cur)
            if i != len(ch_mult) - 1:
                self.down.append(nn.ModuleList([nn.Conv2d(cur, cur, 3, stride=2, padding=1)]))
                skips.append(cur)
                res //= 2
        self.mid1 = ResBlock(cur, cur, temb, groups, dropout)
        self.mid_attn = Attn(cur, groups)
        self.mid2 = ResBlock(cur, cur, temb, groups, dropout)
        self.up = nn.ModuleList()
        for i, m in reversed(list(enumerate(ch_mult))):
            for j in range(num_res_blocks + 1):
                blk = nn.ModuleList([ResBlock(cur + skips.pop(), ch * m, temb, groups, dropout)])
                cur = ch * m
                if res in attn_res:
                    blk.append(Attn(cur, groups))
                if i != 0 and j == num_res_blocks:
                    blk.append(nn.Conv2d(cur, cur, 3, padding=1))  # after nearest ×2
                    res *= 2
                self.up.append(blk)
        self.norm_out = nn.GroupNorm(groups, cur)
        self.conv_out = nn.Conv2d(cur, in_ch, 3, padding=1)

    def forward(self, x, t):
        emb = self.temb(timestep_embedding(t, self.ch))
        h = self.conv_in(x)
        hs = [h]
        for blk in self.down:
            for layer in blk:
                h = layer(h, emb) if isinstance(layer, ResBlock) else layer(h)
            hs.append(h)
        h = self.mid2(self.mid_attn(self.mid1(h, emb)), emb)
        for blk in self.up:
            h = torch.cat([h, hs.pop()], dim=1)
            for layer in blk:
                if isinstance(layer, ResBlock):
                    h = layer(h, emb)
                elif isinstance(layer, Attn):
                    h = layer(h)
                else:
                    h = layer(F.interpolate(h, scale_factor=2, mode="nearest"))
        return self.conv_out(F.silu(self.norm_out(h)))


def step_parts(net, x0):
    """The training step and its parts, as closures over the network and a batch x0.

    "loss": L_simple at random t with fresh ε (train mode: dropout on); "gradients": the loss's
    gradients; "step": the gradients, global-norm clipping at 1, Adam (lr 2e-4) and the EMA
    update (decay 0.9999); "sampling": one no-grad forward pass at t = 500 (one sampling step).
    """
    B, dev = x0.shape[0], x0.device
    ema = [q.detach().clone() for q in net.parameters()]
    opt = torch.optim.Adam(net.parameters(), lr=2e-4)

    def loss():
        t = torch.randint(0, 1000, (B,), device=dev)
        eps = torch.randn_like(x0)
        abar = torch.rand(B, device=dev)[:, None, None, None]
        xt = abar.sqrt() * x0 + (1 - abar).sqrt() * eps
        return F.mse_loss(net(xt, t), eps)

    def gradients():
        opt.zero_grad(set_to_none=True)
        loss().backward()

    def step():
        gradients()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            for e, q in zip(ema, net.parameters()):
                e.mul_(0.9999).add_(q.detach(), alpha=1e-4)

    def sampling():
        training = net.training
        net.eval()
        with torch.no_grad():
            net(x0, torch.full((B,), 500, device=dev))
        net.train(training)

    return {"loss": loss, "gradients": gradients, "step": step, "sampling": sampling}


def _median_ms(fn, iters, sync=lambda: None):
    fn()  # warm-up
    sync()
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        sync()  # a GPU's queued work finished
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--preset", default="mnist", choices=PRESETS)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: PyTorch's default)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (fp32 either way)")
    a = p.parse_args()
    dev = torch.device(a.device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    cfg = PRESETS[a.preset]
    net = UNet(**cfg).to(dev)
    n_params = sum(q.numel() for q in net.parameters())
    if n_params != cfg["params"]:
        raise SystemExit(f"parameter count {n_params} != {cfg['params']}: not the same network")
    B, S, C = a.batch, cfg["image_size"], cfg["in_ch"]
    x0 = torch.randn(B, C, S, S, device=dev)
    parts = step_parts(net, x0)

    def train_step():
        net.train()
        parts["step"]()

    forward = parts["sampling"]

    out = {
        "impl": "pytorch",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "preset": a.preset,
        "batch": B,
        "params": n_params,
        "device": str(dev),
        "trainStepMs": _median_ms(train_step, a.iters, sync),
        "forwardMs": _median_ms(forward, a.iters, sync),
        "iters": a.iters,
        "machine": platform.processor() or platform.machine(),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
