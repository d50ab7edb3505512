#!/usr/bin/python3
"""One-off cross-check of pcnative's fine-tuning gradients against PyTorch autograd (issue 13).

`pcnative finetune ... --dump-step STEP.safetensors` runs only the first training step of a fine-tuning run (the
same split, head initialisation, batch with its augmentation / rotations / CutMix, forward and backward as the run;
no optimiser step) and writes the batch, the task loss and the gradient of every trained parameter
(src/PatchCore/FineTuning/FineTuneStep.cs lists the names). This script rebuilds the same network in PyTorch from
the same base weight file: a torchvision ResNet (BasicBlock or Bottleneck, the file's blocks per stage) whose
state_dict is the file's tensors under the same names, every conv and the max-pool padded as the file's geometry
says (the CNTK ResNet18 pads its stride-2 convs top/left only), BN eps from the file. Stages before the first
trained one run in eval mode without gradients; the trained stages' BN run in eval mode (--batchnorm frozen: running
statistics, gamma and beta still trained) or train mode (batch statistics, momentum 0.1); the head gets the dump's
initial values. Losses as the engine's tasks compute them:
  rotation     global average pool -> Linear(C, 4) -> mean softmax cross-entropy over the 4 rotations of each image;
  contrastive  global average pool -> projection head -> F.normalize(eps 1e-12) -> NT-Xent(tau): rows [0,P) and
               [P,2P) are the two views (positive of i is i +- P), rows [2P, 2P+E) CutMix images that sit in every
               anchor's denominator and are never anchors; mean over the 2P anchors. The head as the dump's
               init/ names say: SimCLR's Linear(no bias)-BatchNorm1d-ReLU-Linear (--head-norm batch, the default;
               head.contrastive.0/.1/.3; the BatchNorm1d on the statistics of all rows, eps 1e-5, in either
               --batchnorm mode) or Linear-ReLU-Linear (--head-norm none; head.contrastive.0/.2);
plus the feature penalty lambda*mean((f - f0)^2) on trained layer2/layer3 when the run has one. L2-SP and weight
decay are not in the dumped gradients (the optimiser step adds them; L2-SP is zero at the first step anyway).

Autograd runs in float64 on the dump's float32 values (the reference: its own rounding is negligible), and again in
float32 to show what float32 arithmetic alone costs. Per tensor it prints
    rel = max|g_pcnative - g_torch64| / max|g_torch64|      (infinity-norm of the difference over that of torch)
and the same for the loss, the frozen prefix's output, the trained stages' outputs and (BN train mode) the running
statistics after the forward. Exit status 1 when any rel exceeds --tolerance (default 1e-4), 2 on bad input.
Needs Debian's python3-torch, python3-torchvision and libopenblas0-pthread (see tools/official_check.py); run it
with /usr/bin/python3, not a pyenv/venv python without torch.

How to run it, from the repository root after ./build.sh (any fine-tuning flags; --backend cpu|reference|cuda):

    ./pcnative finetune --data-root /work/shared/data/mvtec256 --category transistor --task rotation \
        --batchnorm frozen --batch 8 --train-stages layer3 --dump-step /tmp/step.safetensors
    /usr/bin/python3 tools/torch_grad_check.py /tmp/step.safetensors [--weights weights/resnet18-cntk.safetensors]
        [--tolerance 1e-4] [--threads 2] [--no-float32]

--weights must be the file the dump was made from (finetune's --weights). At 224², batch 8, the check takes 5-8 min
on 2 cores (three autograd passes; --no-float32 drops the third). Results and how to read them: docs/FINDINGS.md,
"Fine-tuning gradients against PyTorch autograd". A large "free" rel next to a small "same sides" rel is a ReLU input
within rounding of 0 that float32 put on the other side, not a gradient bug.
"""
import argparse, json, os, struct, sys
import numpy as np
import torch
import torch.nn.functional as F
from torchvision.models.resnet import ResNet, BasicBlock, Bottleneck

DTYPES = {'F32': np.float32, 'F64': np.float64, 'F16': np.float16}


def read_safetensors(path):
    """(tensors as float32 numpy arrays, metadata) of a safetensors file; the header is checked against the size."""
    size = os.path.getsize(path)
    with open(path, 'rb') as f:
        raw = f.read(8)
        if len(raw) != 8:
            raise ValueError(f'{path}: not a safetensors file (shorter than its header length)')
        n = struct.unpack('<Q', raw)[0]
        if n > size - 8:
            raise ValueError(f'{path}: header length {n} beyond the file size {size}')
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop('__metadata__', {}) or {}
    out = {}
    for name, d in header.items():
        if d['dtype'] not in DTYPES:
            raise ValueError(f'{path}: tensor {name} has dtype {d["dtype"]}')
        b, e = d['data_offsets']
        if not 0 <= b <= e <= len(data):
            raise ValueError(f'{path}: tensor {name} lies outside the file')
        out[name] = np.frombuffer(data[b:e], dtype=DTYPES[d['dtype']]).reshape(d['shape']).astype(np.float32)
    return out, meta


class Pad(torch.nn.Module):
    """Pads (top, left, bottom, right) as the weight file's geometry says, then runs the wrapped pool unpadded."""
    def __init__(self, inner, pads, value=0.0):
        super().__init__()
        self.inner, self.pads, self.value = inner, pads, value

    def forward(self, x):
        t, l, b, r = self.pads
        return self.inner(F.pad(x, (l, r, t, b), value=self.value))


def build_backbone(weights, meta):
    """A torchvision ResNet with the file's tensors under their own names (= torchvision's), geometry and eps."""
    blocks = json.loads(meta['blocks_per_stage'])
    block = Bottleneck if meta.get('block') == 'bottleneck' else BasicBlock
    if len(blocks) != 4:
        raise ValueError(f'weights: {len(blocks)} stages, this script builds 4-stage ResNets')
    m = ResNet(block, blocks)
    sd = {k: torch.from_numpy(v.copy()) for k, v in weights.items()}
    missing, unexpected = m.load_state_dict(sd, strict=False)
    missing = [k for k in missing if not k.startswith('fc.') and not k.endswith('num_batches_tracked')]
    if missing or unexpected:
        raise ValueError(f'weights: tensors missing {missing[:5]} / unexpected {unexpected[:5]} for torchvision names')
    geometry = json.loads(meta.get('geometry', '{}'))
    eps = float(meta.get('batchnorm_epsilon', '1e-5'))
    # Every conv the file gives pads for pads its input in a forward pre-hook and convolves unpadded: the module
    # stays where it is, so its parameters keep torchvision's names (the dump's gradient names).
    for name, mod in m.named_modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.eps = eps
        if isinstance(mod, torch.nn.Conv2d) and name in geometry:
            g = geometry[name]
            mod.stride, mod.padding = (g['stride'], g['stride']), (0, 0)
            t, l, b, r = g['pads']
            mod.register_forward_pre_hook(lambda _m, inp, p=(l, r, t, b): (F.pad(inp[0], p),))
    g = geometry.get('maxpool', {'stride': 2, 'pads': [1, 1, 1, 1]})
    m.maxpool = Pad(torch.nn.MaxPool2d(3, g['stride'], 0), g['pads'], value=-float('inf'))
    return m


class Head(torch.nn.Module):
    """The task's head under the dump's names: head.rotation (Linear) or head.contrastive: Linear-ReLU-Linear
    (indices 0, 2) or, when the dump has head.contrastive.1.weight, Linear-BatchNorm1d(batch statistics)-ReLU-Linear
    (indices 0, 1, 3)."""
    def __init__(self, task, init, bn_eps=1e-5):
        super().__init__()
        if task == 'rotation':
            w = init['head.rotation.weight']
            self.rotation = torch.nn.Linear(w.shape[1], w.shape[0])
        elif 'head.contrastive.1.weight' in init:
            # SimCLR's head: Linear-BatchNorm1d-ReLU-Linear, the BN on the batch's statistics (training mode).
            w0, w3 = init['head.contrastive.0.weight'], init['head.contrastive.3.weight']
            bn = torch.nn.BatchNorm1d(w0.shape[0], eps=bn_eps)
            bn.train()
            self.contrastive = torch.nn.Sequential(
                torch.nn.Linear(w0.shape[1], w0.shape[0], bias='head.contrastive.0.bias' in init), bn, torch.nn.ReLU(),
                torch.nn.Linear(w3.shape[1], w3.shape[0], bias='head.contrastive.3.bias' in init))
        else:
            w0, w2 = init['head.contrastive.0.weight'], init['head.contrastive.2.weight']
            self.contrastive = torch.nn.Sequential(torch.nn.Linear(w0.shape[1], w0.shape[0]), torch.nn.ReLU(),
                                                   torch.nn.Linear(w2.shape[1], w2.shape[0]))
        with torch.no_grad():
            for n, p in self.named_parameters():
                p.copy_(torch.from_numpy(init['head.' + n]))

    def forward(self, x):
        return self.rotation(x) if hasattr(self, 'rotation') else self.contrastive(x)


class SidedRelu(torch.nn.Module):
    """A block's ReLU (torchvision calls the one module after conv1/bn1, [after conv2/bn2,] and after the residual
    add, in that order) that keeps pcnative's side of the kink: y = x where pcnative's output was > 0, else 0. Its
    derivative is then pcnative's mask, so the gradients are those of the same linear piece the engine took. Records,
    per ReLU, how many pre-activations fall on the other side than ReLU(x) would put them and how close to 0 they are."""
    def __init__(self, names, masks, flips):
        super().__init__()
        self.names, self.masks, self.flips, self.calls = names, masks, flips, 0

    def forward(self, x):
        name = self.names[self.calls % len(self.names)]
        self.calls += 1
        mask = self.masks[name]
        with torch.no_grad():
            other = mask != (x > 0)
            worst = x.abs()[other].max().item() if other.any() else 0.0
            self.flips[name] = (int(other.sum()), worst / x.abs().max().item())
        return torch.where(mask, x, torch.zeros((), dtype=x.dtype))


def nt_xent(z, pairs, tau):
    """SimCLR NT-Xent with extra negatives: anchors are rows [0, 2P); every other row is in the denominator."""
    anchors = 2 * pairs
    s = (z[:anchors] @ z.t()) / tau
    s = s.masked_fill(torch.eye(anchors, z.shape[0], dtype=torch.bool), float('-inf'))
    pos = torch.cat([torch.arange(pairs, 2 * pairs), torch.arange(0, pairs)])
    return F.cross_entropy(s, pos)


def step(dump, dmeta, weights, wmeta, dtype, sided=None):
    """Forward + backward of the dumped step in PyTorch; returns loss, gradients, maps and BN buffers by name.
    sided: a dict to fill with ReLU side disagreements; the trained stages' ReLUs then keep pcnative's sides."""
    cfg = json.loads(dmeta['config'])
    task = dmeta['task']
    stages = [s.strip() for s in cfg['train-stages'].split(',') if s.strip()]
    numbers = sorted(int(s[5]) for s in stages)
    first, last = numbers[0], numbers[-1]
    bn_train = cfg['batchnorm'] == 'train'
    net = build_backbone(weights, wmeta).to(dtype)
    base = build_backbone(weights, wmeta).to(dtype).eval()   # the frozen base net, for the feature penalty's f0
    init = {k[5:]: v for k, v in dump.items() if k.startswith('init/')}
    if task == 'contrastive' and ('head.contrastive.1.weight' in init) != (cfg.get('head-norm', 'none') == 'batch'):
        raise ValueError(f'dump: head-norm {cfg.get("head-norm")!r} but head tensors {sorted(init)}')
    head = Head(task, init).to(dtype)
    if sided is not None and task == 'contrastive':
        # The head's ReLU keeps pcnative's sides too, where the dump recorded them ("relu/head.contrastive.I").
        for i, mod in enumerate(head.contrastive):
            name = f'head.contrastive.{i}'
            if isinstance(mod, torch.nn.ReLU) and 'relu/' + name in dump:
                head.contrastive[i] = SidedRelu([name], {name: torch.from_numpy(dump['relu/' + name] > 0)}, sided)
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    for s in stages:
        layer = getattr(net, s)
        for p in layer.parameters():
            p.requires_grad_(True)
        if sided is not None:
            for b, block in enumerate(layer):
                p = f'{s}.{b}'
                names = [f'{p}.relu{i}' for i in range(1, 3 if isinstance(block, Bottleneck) else 2)] + [f'{p}.out']
                masks = {n: torch.from_numpy(dump['relu/' + n] > 0) for n in names}
                block.relu = SidedRelu(names, masks, sided)
        if bn_train:
            for mod in layer.modules():
                if isinstance(mod, torch.nn.BatchNorm2d):
                    mod.train()
                    mod.momentum = 0.1

    x = torch.from_numpy(dump['input']).to(dtype)
    maps = {}
    with torch.no_grad():
        h = net.maxpool(net.relu(net.bn1(net.conv1(x))))
        for k in range(1, first):
            h = getattr(net, f'layer{k}')(h)
    maps[f'frozen/layer{first - 1}'] = h
    penalty_layers = [f'layer{k}' for k in range(first, last + 1) if k in (2, 3)] if cfg.get('feature-penalty', 0) > 0 else []
    f0 = {}
    if penalty_layers:
        with torch.no_grad():
            hb = h
            for k in range(first, last + 1):
                hb = getattr(base, f'layer{k}')(hb)
                if f'layer{k}' in penalty_layers:
                    f0[f'layer{k}'] = hb
    outs = {}
    for k in range(first, last + 1):
        h = getattr(net, f'layer{k}')(h)
        outs[f'layer{k}'] = h
        maps[f'output/layer{k}'] = h
    pooled = h.mean(dim=(2, 3))
    y = head(pooled)
    if task == 'rotation':
        loss = F.cross_entropy(y, torch.from_numpy(dump['labels']).long())
    else:
        pairs = int(dmeta['contrastive.pairs'])
        if int(dmeta['contrastive.negatives']) + 2 * pairs != y.shape[0]:
            raise ValueError('dump: contrastive.pairs and contrastive.negatives do not add up to the rows')
        loss = nt_xent(F.normalize(y, dim=1, eps=1e-12), pairs, float(cfg['temperature']))
    total = loss
    for name in penalty_layers:
        total = total + cfg['feature-penalty'] * ((outs[name] - f0[name]) ** 2).mean()
    params = {n: p for n, p in net.named_parameters() if p.requires_grad}
    params.update({'head.' + n: p for n, p in head.named_parameters()})
    total.backward()
    grads = {n: p.grad.detach() for n, p in params.items()}
    buffers = {n: b.detach() for n, b in net.named_buffers()
               if n.split('.')[0] in stages and not n.endswith('num_batches_tracked')}
    return loss.detach(), grads, {k: v.detach() for k, v in maps.items()}, buffers


def rel(a, b):
    """max|a - b| / max|b| (infinity norms), in float64; 0 when both are zero."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    d, s = np.abs(a - b).max(), np.abs(b).max()
    return float(d / s) if s > 0 else (0.0 if d == 0 else float('inf'))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('dump')
    ap.add_argument('--weights', default=os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'weights', 'resnet18-cntk.safetensors'))
    ap.add_argument('--tolerance', type=float, default=1e-4)
    ap.add_argument('--kink', type=float, default=1e-5, help='largest |pre-activation| / max|pre-activation| at which pcnative may take the other side of a ReLU than float64')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--no-float32', action='store_true', help='skip the float32 autograd run (context only)')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    for p, what in ((a.dump, 'dump'), (a.weights, '--weights')):
        if not os.path.isfile(p):
            print(f'torch_grad_check: error: {what} {p}: file not found', file=sys.stderr)
            return 2
    try:
        dump, dmeta = read_safetensors(a.dump)
        weights, wmeta = read_safetensors(a.weights)
        if dmeta.get('format') != 'pcnative-finetune-step-1':
            raise ValueError(f'{a.dump}: not a pcnative --dump-step file (format {dmeta.get("format")!r})')
        loss64, g64, m64, b64 = step(dump, dmeta, weights, wmeta, torch.float64)
        sided = {}
        s64 = step(dump, dmeta, weights, wmeta, torch.float64, sided)
        r32 = None if a.no_float32 else step(dump, dmeta, weights, wmeta, torch.float32)
    except (ValueError, KeyError) as e:
        print(f'torch_grad_check: error: {e}', file=sys.stderr)
        return 2

    cfg = json.loads(dmeta['config'])
    print(f'{a.dump}: task {dmeta["task"]}, batchnorm {cfg["batchnorm"]}, stages {cfg["train-stages"]}, '
          f'{dump["input"].shape[0]} rows of {dump["input"].shape[3]}x{dump["input"].shape[2]}, '
          f'feature penalty {cfg.get("feature-penalty", 0)}')
    print('rel = max|x_pcnative - x_ref| / max|x_ref|, ref = torch float64 autograd; "same sides": the reference\n'
          'keeps pcnative\'s side of every ReLU kink in the trained stages and the head (pass criterion), "free": its own sides;\n'
          '"torch32": torch float32 vs the free float64 reference (what float32 alone costs)')
    worst, failures = 0.0, []

    def row(name, pc, ref_sided, ref_free, t32):
        nonlocal worst
        r = rel(pc, ref_sided)
        free = rel(pc, ref_free)
        c = '' if t32 is None else f'{rel(t32, ref_free):10.2e}'
        print(f'  {name:42s} {r:10.2e} {free:10.2e} {c}  max|x| {np.abs(np.asarray(ref_sided)).max():.3e}')
        worst = max(worst, r)
        if not r <= a.tolerance:
            failures.append(name)

    print(f'  {"tensor":42s} {"same sides":>10s} {"free":>10s} {"" if r32 is None else "torch32":>10s}')
    loss_pc = float(dmeta['loss'])
    print(f'  loss: pcnative {loss_pc:.9f}  torch64 {float(s64[0]):.9f} (free sides {float(loss64):.9f})')
    row('loss', [loss_pc], [float(s64[0])], [float(loss64)], None if r32 is None else [float(r32[0])])
    names = sorted(k[5:] for k in dump if k.startswith('grad/'))
    if set(names) != set(g64):
        print(f'torch_grad_check: error: trained parameters differ: pcnative only {sorted(set(names) - set(g64))}, '
              f'torch only {sorted(set(g64) - set(names))}', file=sys.stderr)
        return 1
    for n in names:
        row('grad/' + n, dump['grad/' + n], s64[1][n].numpy(), g64[n].numpy(), None if r32 is None else r32[1][n].numpy())
    for n in sorted(m64):
        if n in dump:
            row(n, dump[n], s64[2][n].numpy(), m64[n].numpy(), None if r32 is None else r32[2][n].numpy())
    if cfg['batchnorm'] == 'train':
        for n in sorted(b64):
            if 'buffer/' + n in dump:
                row('buffer/' + n, dump['buffer/' + n], s64[3][n].numpy(), b64[n].numpy(), None if r32 is None else r32[3][n].numpy())
    # A side disagreement is rounding only where the float64 pre-activation is within rounding of the kink.
    print(f'ReLU sides where pcnative (float32) and float64 disagree (count; largest |pre-activation| there / max|pre-activation|, limit {a.kink:g}):')
    for n, (count, closeness) in sorted(sided.items()):
        print(f'  {n:42s} {count:6d}  {closeness:.2e}')
        if not closeness <= a.kink:
            failures.append(f'relu side {n}')
    print(f'worst rel {worst:.2e} (tolerance {a.tolerance:g}): {"FAIL " + ", ".join(failures) if failures else "ok"}')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
