#!/usr/bin/env bash
# Prepares .device/ (git-ignored) for the lent GPU machine, which has no .NET: the CLI and the xunit v3 test
# executable published self-contained into one folder, tar.xz'ed; the converted weights; a subset of the
# transistor category (the device cannot see ../shared). Carry it with: run(carry=[".device"], ...).
# Usage: bash tools/device/pack.sh   (from anywhere; budget: everything that travels stays under ~60 MB)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
out=.device
rm -rf "$out/app" "$out/app.tar.xz" "$out/data"
mkdir -p "$out"

common=(-c Release -r linux-x64 --self-contained -p:InvariantGlobalization=true -p:DebugType=none -p:GenerateDocumentationFile=false)
dotnet publish src/PatchCore.Cli "${common[@]}" -o "$out/app"
dotnet publish tests/PatchCore.Tests "${common[@]}" -o "$out/app"
# The GPU tests never load ONNX Runtime (only the CPU backbone oracle tests do, and they do not run on the
# device): drop its ~20 MB native library.
find "$out/app" -name 'libonnxruntime*.so*' -delete
rm -rf "$out/app/runtimes"/win* "$out/app/runtimes"/osx* 2>/dev/null || true
# Debugger/diagnostics support of the runtime: not needed to run.
rm -f "$out/app/createdump" "$out/app/libmscordaccore.so" "$out/app/libmscordbi.so"
test -d "$out/app/kernels" || { echo "pack: kernels/ missing from the publish folder" >&2; exit 1; }
if [ -f weights/resnet18-cntk.safetensors ]; then
  # PatchCore uses layer2 and layer3 only: cut the weights after layer3 (11 MB instead of 45 MB).
  "$out/app/pcnative" convert weights weights/resnet18-cntk.safetensors --stages 3 --out "$out/resnet18-cntk.safetensors"
else
  echo "pack: weights/resnet18-cntk.safetensors absent (build.sh makes it): the backbone steps will be skipped" >&2
fi
XZ_OPT='-9 -T0' tar -C "$out" -cJf "$out/app.tar.xz" app
rm -rf "$out/app"

# Transistor subset: 60 train/good, 15 test/good, 4 per defect type with their masks (the full category is
# 24 MB of incompressible PNGs: too much next to the app).
src=../shared/data/mvtec256/transistor
if [ -d "$src" ]; then
  dst="$out/data/transistor"
  mkdir -p "$dst/train/good" "$dst/test/good"
  ls "$src/train/good" | sort | head -60 | while read -r f; do cp "$src/train/good/$f" "$dst/train/good/"; done
  ls "$src/test/good" | sort | head -15 | while read -r f; do cp "$src/test/good/$f" "$dst/test/good/"; done
  for d in "$src"/test/*; do
    t=$(basename "$d"); [ "$t" = good ] && continue
    mkdir -p "$dst/test/$t" "$dst/ground_truth/$t"
    ls "$d" | sort | head -4 | while read -r f; do
      cp "$d/$f" "$dst/test/$t/"
      m="$src/ground_truth/$t/${f%.png}_mask.png"; [ -f "$m" ] && cp "$m" "$dst/ground_truth/$t/"
    done
  done
else
  echo "pack: $src not found: no end-to-end data" >&2
fi
du -sh "$out"/* 
total=$(du -sm "$out" | cut -f1)
echo "pack: .device is ${total} MB (limit 62 MB; with tracked files under 64 MiB)"
[ "$total" -le 62 ] || { echo "pack: too big" >&2; exit 1; }
