#!/usr/bin/env bash
# Syntax/semantic check of kernels/*.cu without a CUDA toolkit: clang's CUDA front end, device side only,
# with the prelude the loader prepends (kernels/common.cuh) and stand-ins for NVRTC's built-ins.
set -euo pipefail
cd "$(dirname "$0")/../.."
rc=0
for f in kernels/*.cu; do
  tmp=$(mktemp --suffix=.cu)
  cat kernels/common.cuh "$f" > "$tmp"
  if clang -x cuda --cuda-device-only -nocudainc -nocudalib --cuda-gpu-arch=sm_80 -std=c++17 -fsyntax-only \
       -include tools/kernels/clang_prelude.h "$tmp" 2>&1 | sed "s|$tmp|$f|"; then :; fi
  if ! clang -x cuda --cuda-device-only -nocudainc -nocudalib --cuda-gpu-arch=sm_80 -std=c++17 -fsyntax-only \
       -include tools/kernels/clang_prelude.h "$tmp" >/dev/null 2>&1; then echo "FAIL $f"; rc=1; else echo "ok   $f"; fi
  rm -f "$tmp"
done
exit $rc
