#!/usr/bin/env bash
# The one prepared device check (docs DEVICE.md). Run on the lent GPU machine from the repository root with
# $OUT set and .device/ carried (made here by tools/device/pack.sh):
#     bash tools/device/check.sh
# Steps: environment and CUDA libraries; unpack the app; the GPU test classes (xunit v3 executable, must RUN,
# not skip); bench kernels --check for cuda (fp32, TF32) and gpu; bench kernels for cuda and gpu; one
# end-to-end run of transistor on cuda, gpu and cpu comparing image scores. Each step has its own timeout and
# the whole script a deadline (< 8 minutes); a failed step is reported and the script goes on. Logs go to
# $OUT/*.log (at most 8 files), the summary table is printed last and written to $OUT/summary.md.
set -u
cd "$(dirname "$0")/../.."
REPO=$(pwd)
OUT=${OUT:-/tmp/pcnative-device-out}
mkdir -p "$OUT"
START=$(date +%s)
DEADLINE=$((START + 450))
SUMMARY=()
export DOTNET_CLI_TELEMETRY_OPTOUT=1 PCNATIVE_CUDA_CACHE=/tmp/pcnative-cuda-cache

# step NAME LIMIT_S LOGFILE COMMAND...: runs with its own timeout (shortened to the deadline), tees to the log.
step() {
  local name=$1 limit=$2 log=$3; shift 3
  local now left rc t0 dt status
  now=$(date +%s); left=$((DEADLINE - now))
  if [ "$left" -lt 15 ]; then SUMMARY+=("| $name | SKIPPED (deadline) | 0 s |"); return 0; fi
  [ "$limit" -gt "$left" ] && limit=$left
  echo; echo "==== $name (timeout ${limit}s)" | tee -a "$OUT/$log"
  t0=$(date +%s)
  # bash -c so that the exported shell functions below can run under timeout too
  timeout --kill-after=5 "$limit" bash -c '"$@"' _ "$@" 2>&1 | tee -a "$OUT/$log"
  rc=${PIPESTATUS[0]}
  dt=$(( $(date +%s) - t0 ))
  if [ "$rc" -eq 0 ]; then status=PASS; elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then status="TIMEOUT"; else status="FAIL (rc $rc)"; fi
  SUMMARY+=("| $name | $status | ${dt} s |")
  return 0
}

env_info() {
  echo "uname -m: $(uname -m)"
  nvidia-smi -L || echo "nvidia-smi failed"
  nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used --format=csv,noheader || true
  echo "-- libraries:"
  ldconfig -p 2>/dev/null | grep -E 'libcuda\.so|libnvrtc|libcublas' || true
  for pat in '/usr/local/cuda*/lib64' '/usr/local/cuda*/targets/x86_64-linux/lib' /usr/lib/x86_64-linux-gnu \
             '/usr/local/lib/python3*/dist-packages/nvidia/*/lib' '/usr/local/lib/python3*/site-packages/nvidia/*/lib' \
             '/usr/lib/python3/dist-packages/nvidia/*/lib' "$HOME"'/.local/lib/python3*/site-packages/nvidia/*/lib' \
             '/opt/conda/lib/python3*/site-packages/nvidia/*/lib'; do
    for d in $pat; do
      [ -d "$d" ] && ls -1 "$d" 2>/dev/null | grep -E '^(libcuda\.so|libnvrtc|libcublas)' | sed "s|^|$d/|"
    done
  done
  nvcc --version 2>/dev/null | tail -1 || true
  echo "-- carried:"; ls -la .device/ 2>&1; du -sh .device/data 2>/dev/null || true
}

unpack() {
  # tar -J needs the xz program, which minimal images may lack: fall back to Python's lzma-backed tarfile
  # (filter='tar' keeps the executable bits: pcnative and PatchCore.Tests must stay runnable).
  rm -rf .device/run && mkdir -p .device/run || return 1
  if command -v xz >/dev/null 2>&1; then tar -C .device/run -xJf .device/app.tar.xz || return 1
  else python3 -c 'import sys, tarfile
t = tarfile.open(sys.argv[1], "r:xz")
t.extractall(sys.argv[2], **({"filter": "tar"} if hasattr(tarfile, "tar_filter") else {}))' .device/app.tar.xz .device/run || return 1
  fi
  ls .device/run/app | wc -l
}

APP=$REPO/.device/run/app
PC=$APP/pcnative
WEIGHTS=$REPO/.device/resnet18-cntk.safetensors

gpu_tests() {
  # The unpacked app sits inside the checkout, so the tests' TestPaths still find PatchCore.Native.sln above it.
  local classes args=()
  # Not the CUDA emulator's classes: they run in CI on the CPU, need g++ (which this machine may lack, and a
  # skip fails this step) and would spend device minutes on nothing the GPU adds.
  classes=$("$APP/PatchCore.Tests" -list classes 2>/dev/null | grep -E '^PatchCore\.Tests\.[A-Za-z0-9_.]*(Cuda|Gpu|Ilgpu|ILGPU)[A-Za-z0-9_]*$' \
            | grep -v 'Emulator' || true)
  [ -z "$classes" ] && classes="PatchCore.Tests.CudaGpuTests PatchCore.Tests.CudaBindingTests"
  for c in $classes; do args+=(-class "$c"); done
  echo "classes: $classes"
  # -parallel none: the CUDA classes (driver API, primary context) and the ILGPU classes (its own context) must not
  # interleave driver calls on shared pool threads; one class at a time also makes a failure easy to read.
  "$APP/PatchCore.Tests" "${args[@]}" -parallel none -noColor -diagnostics 2>&1 | tee /tmp/pcnative-tests.out
  local rc=${PIPESTATUS[0]}
  local skips; skips=$(grep -c '\[SKIP\]' /tmp/pcnative-tests.out || true)
  echo "skipped tests: $skips (on the device every GPU test must run)"
  [ "$rc" -eq 0 ] && [ "$skips" -eq 0 ]
}

run_e2e() {
  local be=$1 dir=$OUT/run-$be
  rm -rf "/tmp/pcnative-run-$be"
  "$PC" run --category transistor --data-root "$REPO/.device/data" --backend "$be" --weights "$WEIGHTS" \
      --out "/tmp/pcnative-run-$be" --no-heatmaps
}

compare_scores() {
  local ok=0
  for be in cuda gpu; do
    local a=/tmp/pcnative-run-cpu/scores.csv b=/tmp/pcnative-run-$be/scores.csv
    if [ ! -f "$a" ] || [ ! -f "$b" ]; then echo "$be vs cpu: scores missing"; ok=1; continue; fi
    python3 - "$a" "$b" "$be" <<'PY' || ok=1
import csv, sys
a = {r['path']: float(r['score']) for r in csv.DictReader(open(sys.argv[1]))}
b = {r['path']: float(r['score']) for r in csv.DictReader(open(sys.argv[2]))}
common = sorted(set(a) & set(b))
worst = max((abs(a[k] - b[k]) / max(abs(a[k]), 1e-12) for k in common), default=float('nan'))
ok = len(common) == len(a) == len(b) and len(common) > 0 and worst <= 1e-3
print(f"{sys.argv[3]} vs cpu: {len(common)} images, max relative image-score difference {worst:.2e} -> {'PASS' if ok else 'FAIL'} (limit 1e-3)")
sys.exit(0 if ok else 1)
PY
  done
  grep -h -i -E "auroc|image" "$OUT/run.log" 2>/dev/null | tail -12
  return $ok
}

export REPO OUT APP PC WEIGHTS
export -f env_info unpack gpu_tests run_e2e compare_scores

step "environment" 30 env.log env_info
step "unpack app" 60 env.log unpack
step "GPU tests (xunit, cuda + gpu classes)" 150 tests.log gpu_tests
step "check cuda fp32" 60 check.log "$PC" bench kernels --backend cuda --check
step "check cuda tf32" 45 check.log "$PC" bench kernels --backend cuda --check --tf32
step "check gpu (ILGPU)" 60 check.log "$PC" bench kernels --backend gpu --check
step "bench kernels cuda (tf32 off/on)" 120 bench.log "$PC" bench kernels --backend cuda --weights "$WEIGHTS" --json "$OUT/bench-cuda.json"
step "bench kernels gpu" 60 bench.log "$PC" bench kernels --backend gpu
step "run transistor cuda" 60 run.log run_e2e cuda
step "run transistor gpu" 60 run.log run_e2e gpu
step "run transistor cpu" 120 run.log run_e2e cpu
step "image scores cuda/gpu vs cpu" 20 run.log compare_scores

{
  echo "## pcnative device check ($(date -u +%Y-%m-%dT%H:%MZ), $(nvidia-smi -L 2>/dev/null | head -1))"
  echo
  echo "| step | result | time |"
  echo "|---|---|---|"
  for l in "${SUMMARY[@]}"; do echo "$l"; done
  echo
  echo "total: $(( $(date +%s) - START )) s; logs: env.log tests.log check.log bench.log run.log"
  grep -h -E "^check (cuda|gpu)" "$OUT/check.log" 2>/dev/null
  grep -h -E "^(ceiling|conv layer3 3x3|nearest|coreset|backbone)" "$OUT/bench.log" 2>/dev/null
  grep -h -E " vs cpu: " "$OUT/run.log" 2>/dev/null
} > "$OUT/summary.md"
echo
cat "$OUT/summary.md"
