#!/usr/bin/env bash
# Builds the CUDA emulator (README.md here) into OUT: libcuda.so.1, libnvrtc.so.12, libcublas.so.12 and the
# runtime header that the emulated NVRTC includes. Needs only a host C++ compiler ($PC_EMU_CXX, else g++).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:?usage: build.sh OUT_DIR}"
cxx="${PC_EMU_CXX:-g++}"
command -v "$cxx" >/dev/null || { echo "build.sh: no C++ compiler ($cxx)" >&2; exit 1; }
mkdir -p "$out"
flags=(-std=c++17 -O2 -fPIC -shared -fvisibility=hidden -Wall -Wno-unused-function)
"$cxx" "${flags[@]}" "$here/emu_driver.cpp" -o "$out/libcuda.so.1.tmp" -ldl
"$cxx" "${flags[@]}" "$here/emu_nvrtc.cpp" -o "$out/libnvrtc.so.12.tmp" -ldl
"$cxx" "${flags[@]}" "$here/emu_cublas.cpp" -o "$out/libcublas.so.12.tmp"
cp "$here/pc_emu_runtime.h" "$out/pc_emu_runtime.h.tmp"
for f in libcuda.so.1 libnvrtc.so.12 libcublas.so.12 pc_emu_runtime.h; do mv -f "$out/$f.tmp" "$out/$f"; done
