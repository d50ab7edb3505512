#!/usr/bin/env python3
"""PyTorch CPU twin of `pcnative bench train` (issue 13's speed goal): one fine-tuning step of the same network,
task, batch, rows, frozen stages, BN mode and optimiser, timed the same way (warm-up steps, then the median of
the timed steps), with the peak RSS (ru_maxrss). Run with Debian's python3-torch: /usr/bin/python3.

The network: torchvision's ResNet18 up to layer3 with RANDOM initialisation (weights=None; a step's time does not
depend on the values, and the CNTK weights' asymmetric pads change no cost). As pcnative's step:
  - the frozen prefix (conv1, bn1, maxpool, layer1, and layer2 unless trained) runs in inference mode without
    autograd (pcnative runs it on its inference ops with BN folded);
  - the trained stages keep BN frozen (eval(): running statistics) with gamma and beta trained (--batchnorm frozen),
    or BN in training mode (--batchnorm train);
  - rotation: each image at 0/90/180/270 degrees (torch.rot90, inside the timed step as pcnative's batch making),
    global average pool, Linear(C, 4), cross-entropy;
  - contrastive: two augmented views per image (random resized crop, flip, colour jitter: torchvision transforms,
    inside the timed step) plus --cutmix-negatives CutMix images, global average pool, Linear(C, 512, no bias),
    BatchNorm1d (batch statistics; --head-norm none: Linear with bias and no BN), ReLU, Linear(512, 128),
    L2 normalisation, NT-Xent (tau 0.5) with the CutMix rows as extra negatives only;
  - SGD momentum 0.9, weight decay 1e-4, lr 0.01 (or AdamW).
Random input images (as `pcnative bench train` without --category).
"""
import argparse
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
import torchvision.transforms as T


def build(args):
    net = torchvision.models.resnet18(weights=None)
    stages = [s.strip() for s in args.train_stages.split(",") if s.strip()]
    order = ["layer1", "layer2", "layer3"]
    if any(s not in order for s in stages):
        sys.exit(f"bench_torch_train: --train-stages {args.train_stages}: stages of layer1..layer3")
    first = min(order.index(s) for s in stages)
    frozen = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, *[getattr(net, n) for n in order[:first]])
    trained = nn.Sequential(*[getattr(net, n) for n in order[first:]])
    frozen.eval()
    for p in frozen.parameters():
        p.requires_grad_(False)
    channels = {"layer1": 64, "layer2": 128, "layer3": 256}[order[-1]]
    if args.task == "rotation":
        head = nn.Linear(channels, 4)
    else:
        # SimCLR's head as ContrastiveTask's default (--head-norm batch): linear (no bias), BatchNorm1d on the batch's
        # statistics, ReLU, linear; --head-norm none: linear, ReLU, linear.
        if args.head_norm == "batch":
            head = nn.Sequential(nn.Linear(channels, 512, bias=False), nn.BatchNorm1d(512), nn.ReLU(), nn.Linear(512, 128))
        else:
            head = nn.Sequential(nn.Linear(channels, 512), nn.ReLU(), nn.Linear(512, 128))
    return frozen, trained, head


def rotation_batch(images):
    rows = torch.cat([torch.rot90(images, k, dims=(2, 3)) for k in range(4)], 0)
    labels = torch.arange(4).repeat_interleave(images.shape[0])
    return rows, labels


AUGMENT = T.Compose([
    T.RandomResizedCrop(224, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3), antialias=False),
    T.RandomHorizontalFlip(),
    T.RandomApply([T.ColorJitter(0.4, 0.4, 0.4)], p=0.8),
])


def contrastive_batch(images, negatives, gen):
    n, _, h, w = images.shape
    views = [AUGMENT(images[i]) for _ in range(2) for i in range(n)]
    for _ in range(negatives):
        a = int(torch.randint(n, (1,), generator=gen))
        b = (a + 1 + int(torch.randint(max(n - 1, 1), (1,), generator=gen))) % n
        mixed = images[a].clone()
        side = int(h * 0.3)
        y, x = int(torch.randint(h - side, (1,), generator=gen)), int(torch.randint(w - side, (1,), generator=gen))
        mixed[:, y:y + side, x:x + side] = images[b][:, y:y + side, x:x + side]
        views.append(AUGMENT(mixed))
    return torch.stack(views), n


def nt_xent(z, pairs, tau):
    anchors = 2 * pairs
    sim = z[:anchors] @ z.t() / tau
    idx = torch.arange(anchors)
    sim[idx, idx] = float("-inf")
    positive = torch.cat([idx[pairs:], idx[:pairs]])
    return F.cross_entropy(sim, positive)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--task", default="rotation", choices=["rotation", "contrastive"])
    ap.add_argument("--batch", type=int, default=8, help="source images per step (rotation: 4 rows each)")
    ap.add_argument("--train-stages", default="layer3")
    ap.add_argument("--batchnorm", default="frozen", choices=["frozen", "train"])
    ap.add_argument("--optimizer", default="sgd", choices=["sgd", "adamw"])
    ap.add_argument("--crop", type=int, default=224)
    ap.add_argument("--cutmix-negatives", type=int, default=4)
    ap.add_argument("--head-norm", default="batch", choices=["batch", "none"], help="contrastive head: BatchNorm1d or none")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    args = ap.parse_args()
    if args.batch < 1 or args.steps < 1 or args.warmup < 0:
        sys.exit("bench_torch_train: --batch and --steps must be >= 1, --warmup >= 0")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    frozen, trained, head = build(args)
    params = [p for p in trained.parameters()] + list(head.parameters())
    if args.optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=0.01, momentum=0.9, weight_decay=1e-4)
    else:
        opt = torch.optim.AdamW(params, lr=0.01, weight_decay=1e-4)
    trained.train(args.batchnorm == "train")
    images = torch.rand(args.batch, 3, args.crop, args.crop, generator=gen) * 4 - 2
    cap = [l.split(":", 1)[1].strip() for l in torch.__config__.show().splitlines() if "CPU capability usage" in l]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, ATen CPU capability {cap[0] if cap else '?'}, "
          f"mkldnn {torch.backends.mkldnn.is_available()}")
    print(f"step: {args.task}, --batch {args.batch}, {args.crop}x{args.crop}, stages {args.train_stages} trained, "
          f"BN {args.batchnorm}, {args.optimizer}; {args.warmup} warm-up + {args.steps} timed steps; random init, random images")
    times, rows = [], 0
    for step in range(args.warmup + args.steps):
        t0 = time.perf_counter()
        if args.task == "rotation":
            x, labels = rotation_batch(images)
        else:
            x, pairs = contrastive_batch(images, args.cutmix_negatives, gen)
        rows = x.shape[0]
        with torch.no_grad():
            f = frozen(x)
        y = trained(f)
        pooled = y.mean(dim=(2, 3))
        if args.task == "rotation":
            loss = F.cross_entropy(head(pooled), labels)
        else:
            loss = nt_xent(F.normalize(head(pooled), dim=1), pairs, 0.5)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        ms = (time.perf_counter() - t0) * 1e3
        timed = step >= args.warmup
        print(f"  step {step + 1:3d}: {ms:9.1f} ms{'' if timed else ' (warm-up)'}", flush=True)
        if timed:
            times.append(ms)
    med = statistics.median_high(times) if len(times) % 2 == 0 else statistics.median(times)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"median {med:.1f} ms per step of {args.steps} (min {min(times):.1f}, max {max(times):.1f}); {rows} rows/step = "
          f"{rows / (med / 1e3):.2f} rows/s; peak RSS {rss:.0f} MiB (ru_maxrss)")
    print(f"RESULT impl=torch task={args.task} isa={cap[0] if cap else '?'} batch={args.batch} rows={rows} size={args.crop} "
          f"threads={args.threads} median_ms={med:.1f} peak_rss_mib={rss:.0f}")


if __name__ == "__main__":
    main()
