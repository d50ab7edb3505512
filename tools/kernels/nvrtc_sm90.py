#!/usr/bin/env python3
"""Compiles every kernels/*.cu module with a real NVRTC for a real architecture (default sm_90), as the CUDA backend
does at run time (KernelSource.Load: kernels/common.cuh prepended; options --gpu-architecture=sm_XY --std=c++17),
plus ptxas's verbose report: the real compile errors, registers, spills and shared memory per kernel, without a GPU.

    python3 tools/kernels/nvrtc_sm90.py [--arch sm_90] [--lib libnvrtc.so.11.2] [--out DIR] [module ...]

Here (no GPU): Debian bookworm's non-free libnvrtc11.2 + libnvrtc-builtins11.8 (NVRTC 11.8, which knows sm_90;
docs: /work/shared/docs/DEVICE.md). Exit status 1 when any module fails. --out writes each cubin there.
"""
import argparse, ctypes, os, sys

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(os.path.dirname(here))
kernels = os.path.join(root, "kernels")

ap = argparse.ArgumentParser()
ap.add_argument("--arch", default="sm_90")
ap.add_argument("--lib", default="libnvrtc.so.11.2")
ap.add_argument("--out")
ap.add_argument("modules", nargs="*")
a = ap.parse_args()

nv = ctypes.CDLL(a.lib)
nv.nvrtcGetErrorString.restype = ctypes.c_char_p
major, minor = ctypes.c_int(), ctypes.c_int()
nv.nvrtcVersion(ctypes.byref(major), ctypes.byref(minor))
print(f"NVRTC {major.value}.{minor.value} ({a.lib}), --gpu-architecture={a.arch}")

modules = a.modules or sorted(f[:-3] for f in os.listdir(kernels) if f.endswith(".cu"))
prelude = open(os.path.join(kernels, "common.cuh"), encoding="utf-8").read()
failed = 0
for m in modules:
    src = "// ---- common.cuh\n" + prelude + "\n// ---- " + m + ".cu\n" + open(os.path.join(kernels, m + ".cu"), encoding="utf-8").read()
    prog = ctypes.c_void_p()
    nv.nvrtcCreateProgram(ctypes.byref(prog), src.encode(), (m + ".cu").encode(), 0, None, None)
    opts = [f"--gpu-architecture={a.arch}", "--std=c++17", "--ptxas-options=-v"]
    arr = (ctypes.c_char_p * len(opts))(*[o.encode() for o in opts])
    rc = nv.nvrtcCompileProgram(prog, len(opts), arr)
    size = ctypes.c_size_t()
    nv.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
    log = ctypes.create_string_buffer(size.value)
    nv.nvrtcGetProgramLog(prog, log)
    text = log.value.decode(errors="replace").strip()
    if rc != 0:
        failed += 1
        print(f"FAIL {m}: {nv.nvrtcGetErrorString(rc).decode()}\n{text}")
    else:
        nv.nvrtcGetCUBINSize(prog, ctypes.byref(size))
        cubin = ctypes.create_string_buffer(size.value)
        nv.nvrtcGetCUBIN(prog, cubin)
        if a.out:
            os.makedirs(a.out, exist_ok=True)
            open(os.path.join(a.out, m + ".cubin"), "wb").write(cubin.raw)
        print(f"ok   {m}: cubin {size.value} bytes")
        # ptxas -v: per kernel "Compiling entry function 'x'", its stack and spills, "Used N registers, ... smem".
        for line in text.splitlines():
            line = line.replace("ptxas info    : ", "").replace("ptxas         . ", "").strip()
            if line and not line.startswith("Function properties") and line != "0 bytes gmem":
                print("     " + line)
    nv.nvrtcDestroyProgram(ctypes.byref(prog))
sys.exit(1 if failed else 0)
