#!/usr/bin/env python3
"""The PyTorch side of `snnkit bench conv` and `snnkit bench step` (SMA-VGG8).

`conv`: forward and forward + backward (input and weight gradient) milliseconds of
`F.conv2d(x, w, padding=k // 2)` per shape N,Cin,Cout,H,W,k, medians after warm-up, like
`snnkit bench conv --json`.

`step`: one SMA-AZO-VGG8 training step as `snnkit bench step` times it: a plain PyTorch model of the
same shapes written from `../shared/docs/sma-azo-spec.md` (spikingjelly 0.0.0.0.14 multi-step
layers and `LIFNode(tau=2, v_threshold=1, v_reset=0, detach_reset=True, ATan)`, SMA in blocks 2
and 3 with scales 1/3/5/7, CR 4, TR 4, AZO with RCR 10 / RTR 4 in training), train-mode forward on
random event counts `ceil(relu(2.5 u - 1.5))` `[T, B, 2, H, W]`, MSE between the mean over T and
one-hot labels, backward, AdamW(lr 1e-4, weight decay 1e-3), `functional.reset_net`. The
authors' scripts are not needed. CPU, float32.

Run with the peers venv (PyTorch 2.0.1, spikingjelly 0.0.0.0.14); both print JSON:
    /work/peers/bin/python tools/bench/vgg8_step_torch.py conv --shape 32,64,128,32,32,3
    /work/peers/bin/python tools/bench/vgg8_step_torch.py step --size 32 --batch 2
`tools/bench/conv_step_vs_torch.py` runs this next to snnkit and prints the ratios.
"""
import argparse
import json
import re
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from spikingjelly.activation_based import functional, layer, neuron, surrogate


def lif():
    return neuron.LIFNode(tau=2.0, v_threshold=1.0, v_reset=0.0, detach_reset=True,
                          surrogate_function=surrogate.ATan(), step_mode='m')


class SMA(nn.Module):
    """Multiscale encoder (conv k, BN, LIF per scale), C-MSE and T-MSE scale softmaxes, AZO."""

    def __init__(self, c, t, kernels=(1, 3, 5, 7), cr=4, tr=4, azo=True, rcr=10, rtr=4):
        super().__init__()
        self.t, self.c, self.azo, self.rcr, self.rtr = t, c, azo, rcr, rtr
        self.enc = nn.ModuleList([
            nn.Sequential(layer.Conv2d(c, c, k, padding=k // 2, step_mode='m'),
                          layer.BatchNorm2d(c, step_mode='m'), lif()) for k in kernels])
        self.c_sq = layer.Conv2d(c, c // cr, 1, step_mode='m')
        self.c_ex = nn.ModuleList([layer.Conv2d(c // cr, c, 1, step_mode='m') for _ in kernels])
        self.t_sq = nn.Conv3d(t, t // tr, 1)
        self.t_ex = nn.ModuleList([nn.Conv3d(t // tr, t, 1) for _ in kernels])

    def forward(self, x):  # [T, B, C, H, W]
        m = torch.stack([e(x) for e in self.enc])  # [N, T, B, C, H, W]
        ybar = m.sum(0).mean((3, 4), keepdim=True)  # [T, B, C, 1, 1]
        s = F.relu(self.c_sq(ybar))
        wb = torch.softmax(torch.stack([ex(s) for ex in self.c_ex]), 0)  # [N, T, B, C, 1, 1]
        p = F.adaptive_avg_pool3d(ybar.permute(1, 0, 2, 3, 4), 1)  # [B, T, 1, 1, 1]
        st = F.relu(self.t_sq(p))
        wa = torch.stack([ex(st) for ex in self.t_ex]).permute(0, 2, 1, 3, 4, 5)
        wa = torch.softmax(wa, 0)  # [N, T, B, 1, 1, 1]
        zs = wa * wb * m
        if not (self.azo and self.training):
            return zs.sum(0)
        r = zs.clone()
        n_t, n_c = self.t // self.rtr, self.c // self.rcr
        for n in range(zs.shape[0]):
            ts = torch.topk(wa[n].sum(1).flatten(), n_t, largest=False).indices
            cs = torch.topk(wb[n][ts].sum((0, 1)).flatten(), n_c, largest=False).indices
            ts = ts[ts != 0]
            if len(ts):
                r[n, ts[:, None], :, cs[None, :]] = zs[n, ts[:, None] - 1, :, cs[None, :]]
        return r.sum(0)


class Vgg8(nn.Module):
    def __init__(self, t, widths, head, classes, size):
        super().__init__()
        blocks, cin = [], 2
        for i, c in enumerate(widths):
            parts = [layer.Conv2d(cin, c, 3, padding=1, step_mode='m')]
            if i in (1, 2):
                parts.append(SMA(c, t))
            parts += [layer.BatchNorm2d(c, step_mode='m'), lif(), layer.MaxPool2d(2, 2, step_mode='m')]
            blocks.append(nn.Sequential(*parts))
            cin = c
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(
            layer.AdaptiveAvgPool2d(3, step_mode='m'), layer.Flatten(step_mode='m'),
            layer.Linear(widths[-1] * 9, head[0], step_mode='m'), lif(), layer.Dropout(0.5, step_mode='m'),
            layer.Linear(head[0], head[1], step_mode='m'), lif(), layer.Dropout(0.5, step_mode='m'),
            layer.Linear(head[1], classes, step_mode='m'))

    def forward(self, x):
        return self.head(self.blocks(x))


def step(a):
    net = Vgg8(a.frames, a.widths, a.head, a.classes, a.size)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4, weight_decay=1e-3)
    net.train()
    x = torch.ceil(torch.relu(torch.rand(a.frames, a.batch, 2, a.size, a.size) * 2.5 - 1.5))
    y = F.one_hot(torch.arange(a.batch) % a.classes, a.classes).float()
    times = []
    for i in range(a.warmup + a.iters):
        t0 = time.perf_counter()
        out = net(x)
        loss = F.mse_loss(out.mean(0), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        functional.reset_net(net)
        if i >= a.warmup:
            times.append(time.perf_counter() - t0)
    return {"median_step_s": statistics.median(times), "steps_s": times,
            "parameters": sum(p.numel() for p in net.parameters())}


def conv(a):
    rows = []
    for shape in a.shape:
        n, cin, cout, h, w, k = shape
        x = torch.randn(n, cin, h, w, requires_grad=True)
        wt = (torch.randn(cout, cin, k, k) * 0.05).requires_grad_()
        g = torch.randn(n, cout, h, w)

        def fwd():
            with torch.no_grad():
                F.conv2d(x, wt, padding=k // 2)

        def fwd_bwd():
            x.grad, wt.grad = None, None
            F.conv2d(x, wt, padding=k // 2).backward(g)

        rows.append({"shape": shape, "fwd_ms": median_ms(fwd, a.warmup, a.iters),
                     "fwd_bwd_ms": median_ms(fwd_bwd, a.warmup, a.iters)})
    return rows


def median_ms(f, warmup, iters):
    for _ in range(warmup):
        f()
    t = []
    for _ in range(max(iters, 1)):
        t0 = time.perf_counter()
        f()
        t.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(t)


def ints(s):
    return [int(v) for v in s.split(',')]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--threads', type=int, default=2)
    sub = ap.add_subparsers(dest='cmd', required=True)
    c = sub.add_parser('conv', help='convolution forward and forward+backward per shape')
    c.add_argument('--shape', type=ints, action='append', required=True, help='N,Cin,Cout,H,W,k')
    c.add_argument('--warmup', type=int, default=2)
    c.add_argument('--iters', type=int, default=7)
    s = sub.add_parser('step', help='one SMA-AZO-VGG8 training step')
    s.add_argument('--widths', type=ints, default=[64, 128, 256, 512, 512])
    s.add_argument('--head', type=ints, default=[2048, 1024])
    s.add_argument('--frames', type=int, default=16)
    s.add_argument('--batch-size', '--batch', dest='batch', type=int, default=2)
    s.add_argument('--size', type=int, default=64)
    s.add_argument('--classes', type=int, default=11)
    s.add_argument('--warmup', type=int, default=2)
    s.add_argument('--iters', type=int, default=5)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    out = conv(a) if a.cmd == 'conv' else step(a)
    cap = re.search(r'CPU capability usage: (\S+)', torch.__config__.show())
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(),
                      "aten_cpu_capability": cap.group(1) if cap else None, "result": out}))


if __name__ == '__main__':
    main()
