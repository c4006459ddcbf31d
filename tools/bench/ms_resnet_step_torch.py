#!/usr/bin/env python3
"""The PyTorch side of `snnkit bench step --arch ms-resnet18|34|104`.

The same training step as the Rust benchmark (train-mode forward on a random image batch repeated
T times, cross-entropy, backward, SGD(lr 0.1, momentum 0.9, weight decay 1e-4)) on the authors'
SMA-MS-ResNet: `SMA Resnet/models/MS_ResNet.py` and the `SMA` / `batch_norm_2d` classes of
`SMA Resnet/train_amp.py` (Ym-Shan/Spiking_Multiscale_Attention_Arxiv @ 816c034), re-typed here
with the two patches the parity fixtures list (width multiplier `k`, `int(time // T_reduction)`)
and T passed in instead of the module-level `time_window`. CPU, float32, no AMP.

Run with the peers venv (PyTorch 2.0.1, spikingjelly 0.0.0.0.14):
    /work/peers/bin/python tools/bench/ms_resnet_step_torch.py --arch ms-resnet18 --threads 2
Prints JSON with `median_step_s` like `snnkit bench step --json`.
"""
import argparse
import json
import time
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F
from spikingjelly.activation_based import functional, layer

thresh, lens, decay = 0.5, 0.5, 0.25
time_window = 6  # set from --frames before the model is built


class ActFun(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return input.gt(thresh).float()

    @staticmethod
    def backward(ctx, grad_output):
        input, = ctx.saved_tensors
        grad_input = grad_output.clone()
        temp = abs(input - thresh) < lens
        temp = temp / (2 * lens)
        return grad_input * temp.float()


act_fun = ActFun.apply


class mem_update(nn.Module):
    def forward(self, x):
        spike = torch.zeros_like(x[0])
        output = torch.zeros_like(x)
        mem_old = 0
        for i in range(time_window):
            if i >= 1:
                mem = mem_old * decay * (1 - spike.detach()) + x[i]
            else:
                mem = x[i]
            spike = act_fun(mem)
            mem_old = mem.clone()
            output[i] = spike
        return output


class BatchNorm3d1(torch.nn.BatchNorm3d):
    def reset_parameters(self):
        self.reset_running_stats()
        if self.affine:
            nn.init.constant_(self.weight, thresh)
            nn.init.zeros_(self.bias)


class BatchNorm3d2(torch.nn.BatchNorm3d):
    def reset_parameters(self):
        self.reset_running_stats()
        if self.affine:
            nn.init.constant_(self.weight, 0)
            nn.init.zeros_(self.bias)


class _TdBN(nn.Module):
    bn_cls = nn.BatchNorm3d

    def __init__(self, num_features):
        super().__init__()
        self.bn = self.bn_cls(num_features)

    def forward(self, input):
        y = input.transpose(0, 2).contiguous().transpose(0, 1).contiguous()
        y = self.bn(y)
        return y.contiguous().transpose(0, 1).contiguous().transpose(0, 2)


class batch_norm_2d(_TdBN):
    bn_cls = BatchNorm3d1


class batch_norm_2d1(_TdBN):
    bn_cls = BatchNorm3d2


class sma_batch_norm_2d(_TdBN):  # train_amp.py's batch_norm_2d: a plain BatchNorm3d
    bn_cls = nn.BatchNorm3d


class Snn_Conv2d(nn.Conv2d):
    def forward(self, input):
        h = (input.size()[3] - self.kernel_size[0] + 2 * self.padding[0]) // self.stride[0] + 1
        w = (input.size()[4] - self.kernel_size[0] + 2 * self.padding[0]) // self.stride[0] + 1
        c1 = torch.zeros(time_window, input.size()[1], self.out_channels, h, w, device=input.device)
        for i in range(time_window):
            c1[i] = F.conv2d(input[i], self.weight, self.bias, self.stride, self.padding,
                             self.dilation, self.groups)
        return c1


class BasicBlock(nn.Module):
    def __init__(self, in_channels, out_channels, stride=1, avgpool_shortcut=False):
        super().__init__()
        self.residual_function = nn.Sequential(
            mem_update(),
            Snn_Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False),
            batch_norm_2d(out_channels),
            mem_update(),
            Snn_Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=False),
            batch_norm_2d1(out_channels),
        )
        self.shortcut = nn.Sequential()
        if stride != 1 or in_channels != out_channels:
            if avgpool_shortcut:
                self.shortcut = nn.Sequential(
                    nn.AvgPool3d((1, 2, 2), stride=(1, 2, 2)),
                    Snn_Conv2d(in_channels, out_channels, kernel_size=1, stride=1, bias=False),
                    batch_norm_2d(out_channels))
            else:
                self.shortcut = nn.Sequential(
                    Snn_Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
                    batch_norm_2d(out_channels))

    def forward(self, x):
        return self.residual_function(x) + self.shortcut(x)


class MSResNet(nn.Module):
    def __init__(self, num_block, k, num_classes, r104):
        super().__init__()
        c = int(64 * k)
        self.in_channels = c
        if r104:
            self.conv1 = nn.Sequential(
                Snn_Conv2d(3, c, kernel_size=3, padding=1, stride=2),
                Snn_Conv2d(c, c, kernel_size=3, padding=1, stride=1),
                Snn_Conv2d(c, c, kernel_size=3, padding=1, stride=1),
                batch_norm_2d(c))
        else:
            self.conv1 = nn.Sequential(
                Snn_Conv2d(3, c, kernel_size=7, padding=3, bias=False, stride=2), batch_norm_2d(c))
        self.mem_update = mem_update()
        self.r104 = r104
        self.conv2_x = self._make_layer(int(64 * k), num_block[0], 2)
        self.conv3_x = self._make_layer(int(128 * k), num_block[1], 2)
        self.conv4_x = self._make_layer(int(256 * k), num_block[2], 2)
        self.conv5_x = self._make_layer(int(512 * k), num_block[3], 2)
        self.fc = nn.Linear(int(512 * k), num_classes)
        self.dropout = nn.Dropout(p=0.2) if r104 else nn.Identity()

    def _make_layer(self, out_channels, num_blocks, stride):
        layers = []
        for s in [stride] + [1] * (num_blocks - 1):
            layers.append(BasicBlock(self.in_channels, out_channels, s, self.r104))
            self.in_channels = out_channels
        return nn.Sequential(*layers)

    def forward(self, x):
        input = torch.zeros(time_window, x.size()[0], 3, x.size()[2], x.size()[3])
        for i in range(time_window):
            input[i] = x
        output = self.conv1(input)
        output = self.conv2_x(output)
        output = self.conv3_x(output)
        output = self.conv4_x(output)
        output = self.conv5_x(output)
        output = self.mem_update(output)
        output = F.adaptive_avg_pool3d(output, (None, 1, 1))
        output = output.view(output.size()[0], output.size()[1], -1)
        output = output.sum(dim=0) / output.size()[0]
        output = self.dropout(output)
        return self.fc(output)


train_flag = 1


class SMA(nn.Module):
    def __init__(self, channel=512, time=16, kernels=[1, 3, 5, 7], C_reduction=16, T_reduction=4,
                 AZO=False, RCR=4, RTR=4):
        super().__init__()
        self.AZO, self.RCR, self.RTR = AZO, RCR, RTR
        self.C_attention_out = channel // C_reduction
        self.T_attention_out = int(time // T_reduction)
        self.S_Convs = nn.ModuleList([])
        for i in kernels:
            self.S_Convs.append(nn.Sequential(OrderedDict([
                ('conv', layer.Conv2d(channel, channel, kernel_size=i, padding=i // 2)),
                ('bn', sma_batch_norm_2d(channel)),
                ('relu', nn.ReLU())])))
        self.C_before_attention_conv = layer.Conv2d(channel, self.C_attention_out, 1)
        self.C_after_attention_convs = nn.ModuleList(
            [layer.Conv2d(self.C_attention_out, channel, 1) for _ in kernels])
        self.T_before_attention_conv = nn.Conv3d(time, self.T_attention_out, 1)
        self.T_after_attention_convs = nn.ModuleList(
            [nn.Conv3d(self.T_attention_out, time, 1) for _ in kernels])
        self.avg_pool = nn.AdaptiveAvgPool3d(1)
        self.softmax = nn.Softmax(dim=0)
        self.relu = nn.ReLU()

    def forward(self, x):
        T, B, C, _, _ = x.size()
        S_Conv_outs = [conv(x) for conv in self.S_Convs]
        multiscale_feature_map = torch.stack(S_Conv_outs, 0)
        feature_map = sum(S_Conv_outs).mean(-1).mean(-1).unsqueeze(-1).unsqueeze(-1)
        mid = self.relu(self.C_before_attention_conv(feature_map))
        C_w = torch.stack([conv(mid).view(T, B, C, 1, 1) for conv in self.C_after_attention_convs], 0)
        C_w = self.softmax(C_w)
        T_pool = self.avg_pool(feature_map.permute(1, 0, 2, 3, 4))
        T_mid = self.relu(self.T_before_attention_conv(T_pool))
        T_w = torch.stack([conv(T_mid) for conv in self.T_after_attention_convs], 0)
        T_w = self.softmax(T_w.permute(0, 2, 1, 3, 4, 5))
        if self.AZO and train_flag == 1:
            n_C, n_T = C // self.RCR, T // self.RTR
            T_min = [torch.topk(torch.sum(i, dim=1).squeeze(), k=n_T, largest=False).indices for i in T_w]
            C_min = []
            for j, i in enumerate(C_w):
                sel = torch.stack([i[t] for t in T_min[j]], dim=0)
                k = torch.sum(torch.sum(sel, dim=0), dim=0).squeeze()
                C_min.append(torch.topk(k, k=n_C, largest=False).indices)
            out = T_w * C_w * multiscale_feature_map
            rep = out.clone()
            for i in range(len(T_min)):
                nz = [j for j in T_min[i] if j != 0]
                if not nz:
                    continue
                t_idx = torch.stack(nz)[:, None]
                c_idx = C_min[i][None, :]
                rep[i, t_idx, :, c_idx] = out[i, t_idx - 1, :, c_idx]
            return rep.sum(0)
        return (T_w * C_w * multiscale_feature_map).sum(0)


def build(arch, k, T, classes, azo, rcr):
    depths = {"ms-resnet18": [2, 2, 2, 2], "ms-resnet34": [3, 4, 6, 3], "ms-resnet104": [3, 8, 32, 8]}[arch]
    net = MSResNet(depths, k, classes, arch == "ms-resnet104")
    for si, stage in enumerate([net.conv2_x, net.conv3_x, net.conv4_x, net.conv5_x]):
        ch = int([64, 128, 256, 512][si] * k)
        for b in (0, 1):
            stage[b].residual_function.insert(
                2, SMA(channel=ch, C_reduction=4, time=T, T_reduction=1.5, AZO=azo, RCR=rcr, RTR=2))
    functional.set_step_mode(net, step_mode='m')
    return net


def main():
    global time_window
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--arch", default="ms-resnet18", choices=["ms-resnet18", "ms-resnet34", "ms-resnet104"])
    p.add_argument("--width-mult", type=float, default=1.0)
    p.add_argument("--frames", type=int, default=None)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--classes", type=int, default=11)
    p.add_argument("--azo", action="store_true", help="AZO in every SMA (RCR 4, RTR 2)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    time_window = a.frames or (5 if a.arch == "ms-resnet104" else 6)
    net = build(a.arch, a.width_mult, time_window, a.classes, a.azo, 4)
    net.train()
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    x = torch.randn(a.batch, 3, a.size, a.size)
    y = torch.arange(a.batch) % a.classes
    steps = []
    for i in range(a.warmup + a.iters):
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        if i >= a.warmup:
            steps.append(time.perf_counter() - t0)
    steps.sort()
    n = len(steps)
    med = steps[n // 2] if n % 2 else 0.5 * (steps[n // 2 - 1] + steps[n // 2])
    print(json.dumps({
        "median_step_s": med, "steps_s": steps, "arch": a.arch, "width_mult": a.width_mult,
        "frames": time_window, "batch": a.batch, "size": a.size, "azo": a.azo,
        "parameters": sum(p.numel() for p in net.parameters()),
        "torch": torch.__version__, "threads": torch.get_num_threads(),
    }, indent=1))


if __name__ == "__main__":
    main()
