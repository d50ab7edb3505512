#!/usr/bin/python3
"""Independent cross-check of a pcnative run: PatchCore as the official implementation computes it, in PyTorch.

For developers who have PyTorch (Debian: python3-torch python3-torchvision python3-onnx python3-sklearn
python3-scipy, and libopenblas0-pthread: without it Debian's torch multiplies matrices with the reference
BLAS at ~5 GFLOP/s and the nearest-neighbour step alone takes over half an hour); the engine never uses it. Backbone = the CNTK ResNet18 (../shared/tools/resnet_from_onnx.py), input BGR
0..255 minus the per-channel means, official embedding (3x3 unfold, bilinear upsampling of layer3's unfolded
planes, adaptive average pooling to 1024 per layer, then to 1024), approximate greedy coreset with an
untrained Linear(1024, 128) projection and 10 start points, squared-L2 nearest neighbour (k = 1), image
score = max patch score; maps bilinearly upsampled to 224 and blurred with scipy (sigma 4). Prints image and
pixel AUROC and writes per-image scores in pcnative's scores.csv format so the two compare row by row.
--official-coreset runs the official coreset loop exactly as written (slow), for the speed comparison.

    /usr/bin/python3 tools/official_check.py ONNX DATA_ROOT CATEGORY PERCENT [OUT.csv] [--threads 2] [--official-coreset]
"""
import argparse, glob, os, sys, time
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from sklearn.metrics import roc_auc_score
from scipy.ndimage import gaussian_filter

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'shared', 'tools'))
from resnet_from_onnx import cntk_resnet18  # noqa: E402

MEAN_BGR = (103.0626, 115.9029, 123.1516)  # per-channel means of ResNetPreprocess.onnx's mean image


def resize_crop(im, resize=256, crop=224):
    """torchvision Resize(resize) (shorter side, bilinear) then CenterCrop(crop), on a PIL image."""
    w, h = im.size
    s = resize / min(w, h)
    if (w, h) != (round(w * s), round(h * s)):
        im = im.resize((round(w * s), round(h * s)), Image.BILINEAR)
    w, h = im.size
    top, left = int(round((h - crop) / 2.0)), int(round((w - crop) / 2.0))
    return im.crop((left, top, left + crop, top + crop))


def load(path, resize=256, crop=224):
    im = resize_crop(Image.open(path).convert('RGB'), resize, crop)
    a = np.asarray(im, dtype=np.float32)[:, :, ::-1]  # BGR
    a = a - np.array(MEAN_BGR, dtype=np.float32)
    return torch.from_numpy(a.transpose(2, 0, 1).copy())


def mask_for(path, cat, resize=256, crop=224):
    """The ground-truth mask of a test image after the image's resize and crop, as 0/1 (all 0 for good)."""
    kind, name = path.split(os.sep)[-2], os.path.splitext(os.path.basename(path))[0]
    if kind == 'good':
        return np.zeros((crop, crop), np.uint8)
    m = resize_crop(Image.open(os.path.join(cat, 'ground_truth', kind, name + '_mask.png')).convert('L'), resize, crop)
    a = np.asarray(m, dtype=np.float32) / 255.0
    return (a >= 0.5).astype(np.uint8)


def embed(model, x):
    with torch.no_grad():
        f = model.maxpool(model.relu(model.bn1(model.conv1(x))))
        l2 = model.layer2(model.layer1(f))
        l3 = model.layer3(l2)
        out = []
        for i, m in enumerate((l2, l3)):
            b, c, h, w = m.shape
            u = F.unfold(m, kernel_size=3, padding=1).reshape(b, c, 3, 3, h, w)  # c*9 channel-major
            if (h, w) != l2.shape[2:]:
                u = F.interpolate(u.reshape(-1, 1, h, w), size=l2.shape[2:], mode='bilinear', align_corners=False)
                u = u.reshape(b, c, 3, 3, *l2.shape[2:])
            H, W = l2.shape[2:]
            u = u.permute(0, 4, 5, 1, 2, 3).reshape(b * H * W, 1, c * 9)
            out.append(F.adaptive_avg_pool1d(u, 1024).squeeze(1))
        s = torch.stack(out, 1).reshape(-1, 1, 2048)
        return F.adaptive_avg_pool1d(s, 1024).squeeze(1)


def features(model, paths, batch=16):
    rows = []
    for i in range(0, len(paths), batch):
        rows.append(embed(model, torch.stack([load(p) for p in paths[i:i + batch]])))
    return torch.cat(rows)


def project(x, seed):
    """Seed torch and numpy as the official run does, then map with an untrained Linear(D, 128, bias=False)."""
    torch.manual_seed(seed); np.random.seed(seed)
    proj = torch.nn.Linear(x.shape[1], 128, bias=False)
    with torch.no_grad():
        return proj(x).contiguous()


def coreset_as_official(x, percent, seed=0):
    """The official ApproximateGreedyCoresetSampler loop as written (patchcore/sampler.py): every iteration
    recomputes both row-norm terms with bmm, concatenates the new column and takes the row minimum. Slow on
    purpose: it is the baseline the speed comparison is against (--official-coreset)."""
    z = project(x, seed)
    def diff(a, b):
        aa = a.unsqueeze(1).bmm(a.unsqueeze(2)).reshape(-1, 1)
        bb = b.unsqueeze(1).bmm(b.unsqueeze(2)).reshape(1, -1)
        return (-2 * a.mm(b.T) + aa + bb).clamp(0, None).sqrt()
    starts = np.random.choice(len(z), 10, replace=False).tolist()
    anchor = torch.mean(diff(z, z[starts]), axis=-1).reshape(-1, 1)
    sel = []
    with torch.no_grad():
        for _ in range(int(len(z) * percent)):
            i = torch.argmax(anchor).item()
            sel.append(i)
            anchor = torch.cat([anchor, diff(z, z[i:i + 1])], dim=-1)
            anchor = torch.min(anchor, dim=1).values.reshape(-1, 1)
    return np.array(sel)


def greedy(z, starts, count):
    """The approximate greedy loop on projections z: initial distance = mean distance to the start rows, then
    `count` times the argmax and the running minimum with its distances. Row norms are computed once (the
    official code recomputes them every iteration) and the minimum is updated in place; the same selection."""
    zn = (z * z).sum(1)
    d = (zn[:, None] - 2 * z @ z[starts].T + zn[starts][None]).clamp(min=0).sqrt().mean(1)
    sel = []
    with torch.no_grad():
        for _ in range(count):
            i = int(torch.argmax(d))
            sel.append(i)
            di = (zn - 2 * (z @ z[i]) + zn[i]).clamp_(min=0).sqrt_()
            torch.minimum(d, di, out=d)
    return np.array(sel)


def coreset(x, percent, seed=0):
    """The official approximate greedy coreset: the official draw (project, np.random.choice), then greedy()
    (which took this script over 50 min on magnetic_tile with the official per-iteration norms)."""
    z = project(x, seed)
    return greedy(z, np.random.choice(len(z), 10, replace=False), int(len(z) * percent))


def nearest(q, bank, chunk=4096):
    bn = (bank * bank).sum(1)
    out = []
    for i in range(0, len(q), chunk):
        a = q[i:i + chunk]
        d = (a * a).sum(1, keepdim=True) + bn[None] - 2 * a @ bank.T
        out.append(d.clamp(min=0).min(1).values)
    return torch.cat(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('onnx'); ap.add_argument('root'); ap.add_argument('category'); ap.add_argument('percent', type=float)
    ap.add_argument('out', nargs='?'); ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--official-coreset', action='store_true', help='run the official coreset loop as written (slow; for timing)')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    model = cntk_resnet18(a.onnx, rgb_input=False)
    cat = os.path.join(a.root, a.category)
    train = sorted(glob.glob(os.path.join(cat, 'train', 'good', '*.png')))
    test = sorted(glob.glob(os.path.join(cat, 'test', '*', '*.png')))
    t0 = t = time.time()
    ftrain = features(model, train)
    print(f'features train {tuple(ftrain.shape)} {time.time() - t:.1f}s', flush=True)
    t = time.time()
    sel = (coreset_as_official if a.official_coreset else coreset)(ftrain, a.percent) if a.percent < 1 else np.arange(len(ftrain))
    bank = ftrain[sel]
    print(f'coreset {len(sel)} {time.time() - t:.1f}s', flush=True)
    t = time.time()
    ftest = features(model, test)
    patch = nearest(ftest, bank).reshape(len(test), -1)
    scores = patch.max(1).values.numpy()
    labels = np.array([0 if os.sep + 'good' + os.sep in p else 1 for p in test])
    print(f'scoring {time.time() - t:.1f}s', flush=True)
    print(f'{a.category} {a.percent:g}: image AUROC {100 * roc_auc_score(labels, scores):.2f}', flush=True)
    if os.path.isdir(os.path.join(cat, 'ground_truth')):
        # Official segmentation: bilinear upsampling of the 28x28 grid to the input size, then scipy's
        # Gaussian filter (sigma 4, truncate 4, reflect); masks get the image's resize and crop, >= 0.5.
        g = int(round(patch.shape[1] ** 0.5))
        maps = F.interpolate(patch.reshape(-1, 1, g, g), size=(224, 224), mode='bilinear', align_corners=False)
        maps = np.stack([gaussian_filter(m, sigma=4) for m in maps[:, 0].numpy()])
        masks = np.stack([mask_for(p, cat) for p in test])
        print(f'{a.category} {a.percent:g}: pixel AUROC {100 * roc_auc_score(masks.ravel(), maps.ravel()):.2f}', flush=True)
    print(f'total {time.time() - t0:.1f}s', flush=True)
    if a.out:
        with open(a.out, 'w') as f:
            # pcnative's columns: `truth` is the ground truth (`label` there is the model's decision, which
            # this cross-check does not make, so it and normalized_score are left out).
            f.write('path,defect_type,truth,score\n')
            for p, l, s in zip(test, labels, scores):
                f.write(f'{os.path.relpath(p, cat)},{os.path.basename(os.path.dirname(p))},{l},{s}\n')


if __name__ == '__main__':
    main()
