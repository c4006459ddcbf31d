#!/usr/bin/env python3
"""Images/s of torchvision's ImageFolder + DataLoader on an ImageFolder tree: the peer figure
for `snnkit bench images` (same files, same transform, same batch size).

Train transform: RandomResizedCrop(size) + RandomHorizontalFlip + ToTensor + Normalize (ImageNet);
eval: Resize(256) + CenterCrop(size) + ToTensor + Normalize. Timing starts after the first batch
(worker start-up excluded), as `snnkit bench images` starts after one warm-up batch.

Usage: bench_images_torchvision.py ROOT [--batch 32] [--size 224] [--images 512] [--workers 2] [--eval]
Needs torch and torchvision (the /work/peers venv: torch 2.0.1, torchvision 0.15.2).
"""
import argparse
import json
import os
import time

import torch
import torchvision
import torchvision.transforms as T


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--images", type=int, default=512)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--eval", action="store_true")
    args = ap.parse_args()
    norm = T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    if args.eval:
        tf = T.Compose([T.Resize(256), T.CenterCrop(args.size), T.ToTensor(), norm])
        folder = os.path.join(args.root, "val")
    else:
        tf = T.Compose([T.RandomResizedCrop(args.size), T.RandomHorizontalFlip(), T.ToTensor(), norm])
        folder = os.path.join(args.root, "train")
    ds = torchvision.datasets.ImageFolder(folder, transform=tf)
    torch.manual_seed(0)
    dl = torch.utils.data.DataLoader(
        ds, batch_size=args.batch, shuffle=not args.eval, num_workers=args.workers,
        drop_last=not args.eval, persistent_workers=args.workers > 0)
    seen, start, warm = 0, None, False
    while seen < args.images:
        for x, _ in dl:
            if not warm:
                warm, start = True, time.perf_counter()
                continue
            seen += x.shape[0]
            if seen >= args.images:
                break
    secs = time.perf_counter() - start
    print(json.dumps({
        "peer": f"torchvision {torchvision.__version__} ImageFolder + DataLoader(num_workers={args.workers})",
        "transform": "eval" if args.eval else "train",
        "images": seen, "seconds": secs, "images_per_s": seen / secs,
        "batch_size": args.batch, "size": args.size, "torch_threads": torch.get_num_threads(),
    }))


if __name__ == "__main__":
    main()
