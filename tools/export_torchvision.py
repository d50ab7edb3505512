#!/usr/bin/env python3
"""Export a torchvision ResNet's state dict as safetensors with torchvision's tensor names.

    python3 tools/export_torchvision.py resnet18|resnet34|resnet50|wide_resnet50_2 out.safetensors [--random]

Pretrained ImageNet weights (downloaded by torchvision) unless --random (fresh init, no download).
Needs only torch + torchvision: the safetensors file is written by the few lines below. Then:
    ./pcnative convert torchvision out.safetensors --arch resnet18 --out weights/resnet18.safetensors
"""
import json, struct, sys

import torch
import torchvision


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().to(torch.float32).contiguous().cpu()  # num_batches_tracked too (dropped later)
        b = t.numpy().astype('<f4').tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def main(argv):
    args = [a for a in argv if not a.startswith("--")]
    if len(args) != 2:
        sys.exit(__doc__)
    arch, out = args
    random = "--random" in argv
    weights = None if random else "DEFAULT"
    model = getattr(torchvision.models, arch)(weights=weights).eval()
    write_safetensors(out, model.state_dict())
    print(f"wrote {out}: {arch} ({'random init' if random else 'pretrained'}), {len(model.state_dict())} tensors")


if __name__ == "__main__":
    main(sys.argv[1:])
