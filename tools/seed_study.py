#!/usr/bin/python3
"""How much image and pixel AUROC move with the coreset's random draw, for the official code's draw and for
pcnative's, on equal terms (docs/RESULTS.md, "Seed spread").

Everything but the draw is fixed: the features (tools/official_check.py's PyTorch pipeline, equal to pcnative's to
6e-6, cached as .npy), the approximate greedy loop (official_check.greedy), the nearest-neighbour scores, the maps
and the metrics. A draw is PROJECTION+STARTS:SEED with
    tp  the official projection: torch.manual_seed(seed), an untrained torch.nn.Linear(D, 128) (uniform entries)
    op  pcnative's default projection: SplitMix64(seed), Box-Muller Gaussian entries / sqrt(128)
    ou  pcnative's --projection uniform: the same stream, uniform entries in +-1/sqrt(D)
    ts  the official start rows: np.random.seed(seed), np.random.choice(N, 10, replace=False)
    os  pcnative's start rows: the SplitMix64 values after the matrix's
so tp+ts:0 is the official draw at seed 0 and op+os:0 replays `pcnative run --seed 0` (it gives pcnative's
own numbers). One line per draw. About 5 minutes per draw for magnetic_tile at 1% on 2 cores.

    /usr/bin/python3 tools/seed_study.py ONNX DATA_ROOT CATEGORY PERCENT DRAW... [--cache DIR] [--threads 2]
    e.g. ... ../shared/data/mvtec256 magnetic_tile 0.01 tp+ts:0 op+os:0 tp+os:0 op+ts:0
"""
import argparse, glob, os, sys, time
import numpy as np
import torch
import torch.nn.functional as F
from scipy.ndimage import gaussian_filter
from sklearn.metrics import roc_auc_score

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import official_check as oc  # noqa: E402

MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def splitmix64(seed, count):
    """pcnative's SplitMix64 stream (Coreset/ProjectionMatrix): the first `count` outputs for `seed`."""
    with np.errstate(over='ignore'):
        z = np.uint64(seed) + np.uint64(0x9E3779B97F4A7C15) * np.arange(1, count + 1, dtype=np.uint64)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def pcnative_draw(n, d, seed, uniform=False, k=128, starts=10):
    """pcnative's projection [d, k] and start rows for `seed`, as its C# code draws them."""
    m = d * k
    u = splitmix64(seed, m + 1000)
    unit = (u[:m] >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))
    if uniform:
        w = (2 * unit - 1) * (1.0 / np.sqrt(d))
    else:
        u1, u2 = 1.0 - unit[0::2], unit[1::2]
        r = np.sqrt(-2.0 * np.log(u1))
        w = np.empty(m)
        w[0::2], w[1::2] = r * np.cos(2 * np.pi * u2), r * np.sin(2 * np.pi * u2)
        w *= 1.0 / np.sqrt(k)
    chosen = []
    for x in u[m:]:
        v = int(((int(x) >> 32) * n) >> 32)
        if v not in chosen:
            chosen.append(v)
        if len(chosen) == starts:
            break
    return torch.from_numpy(w.astype(np.float32).reshape(d, k)), np.array(chosen)


def official_draw(n, d, seed, starts=10):
    """The official sampler's draw: an untrained torch Linear (applied as the sampler applies it) and
    np.random.choice rows."""
    torch.manual_seed(seed); np.random.seed(seed)
    proj = torch.nn.Linear(d, 128, bias=False)
    return proj, np.random.choice(n, starts, replace=False)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('onnx'); ap.add_argument('root'); ap.add_argument('category'); ap.add_argument('percent', type=float)
    ap.add_argument('draws', nargs='+', help='PROJECTION+STARTS:SEED, e.g. tp+ts:0 op+os:3')
    ap.add_argument('--cache', default='/tmp', help='folder for the cached features (<category>_train.npy, _test.npy)')
    ap.add_argument('--threads', type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    draws = []
    for s in a.draws:
        kind, _, seed = s.partition(':')
        p, _, st = kind.partition('+')
        if p not in ('tp', 'op', 'ou') or st not in ('ts', 'os') or not seed.isdigit():
            ap.error(f'bad draw {s!r}: want PROJECTION+STARTS:SEED with PROJECTION tp|op|ou, STARTS ts|os')
        draws.append((p, st, int(seed)))

    cat = os.path.join(a.root, a.category)
    train = sorted(glob.glob(os.path.join(cat, 'train', 'good', '*.png')))
    test = sorted(glob.glob(os.path.join(cat, 'test', '*', '*.png')))
    labels = np.array([0 if os.sep + 'good' + os.sep in p else 1 for p in test])
    model = None

    def cached(part, paths):
        nonlocal model
        path = os.path.join(a.cache, f'{a.category}_{part}.npy')
        if os.path.exists(path):
            return torch.from_numpy(np.load(path))
        if model is None:
            model = oc.cntk_resnet18(a.onnx, rgb_input=False)
        f = oc.features(model, paths)
        np.save(path + '.tmp.npy', f.numpy())
        os.replace(path + '.tmp.npy', path)
        return f

    ftrain, ftest = cached('train', train), cached('test', test)
    n, d = ftrain.shape
    count = int(n * a.percent)
    masks = np.stack([oc.mask_for(p, cat) for p in test]).ravel()
    print(f'{a.category}: {n} training patches, {count} selected, {len(test)} test images', flush=True)
    for p, st, seed in draws:
        t = time.time()
        proj, s_off = official_draw(n, d, seed)
        w_pc, s_pc = pcnative_draw(n, d, seed, uniform=(p == 'ou'))
        with torch.no_grad():
            z = (proj(ftrain) if p == 'tp' else ftrain @ w_pc).contiguous()
        sel = oc.greedy(z, s_off if st == 'ts' else s_pc, count)
        patch = oc.nearest(ftest, ftrain[sel]).reshape(len(test), -1)
        g = int(round(patch.shape[1] ** 0.5))
        maps = F.interpolate(patch.reshape(-1, 1, g, g), size=(224, 224), mode='bilinear', align_corners=False)
        maps = np.stack([gaussian_filter(m, sigma=4) for m in maps[:, 0].numpy()])
        image = 100 * roc_auc_score(labels, patch.max(1).values.numpy())
        pixel = 100 * roc_auc_score(masks, maps.ravel())
        print(f'{p}+{st}:{seed} image {image:.2f} pixel {pixel:.2f} ({time.time() - t:.0f} s)', flush=True)


if __name__ == '__main__':
    main()
