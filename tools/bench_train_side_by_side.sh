#!/usr/bin/env bash
# pcnative's fine-tuning step beside PyTorch CPU's (issue 13's speed goal), in ONE command:
#   tools/bench_train_side_by_side.sh [ROUNDS] [STEPS] [TASKS]      (defaults 3, 3, "rotation contrastive")
# For each task, an AVX-512 pass and an AVX2-only pass; in each pass ROUNDS rounds that ALTERNATE the two
# implementations (pcnative `bench train`, then tools/bench_torch_train.py), each run 1 warm-up + STEPS timed steps
# (its median). The table gives the median over the rounds of each run's median, and the peak RSS. Alternation
# matters on a shared VM: load that comes and goes hits both sides alike.
#   AVX2-only pass: pcnative with DOTNET_EnableAVX512=0 (.NET 10 ignores DOTNET_EnableAVX512F; the "backend:"
#   line must say AVX2, checked below); PyTorch with ATEN_CPU_CAPABILITY=avx2, ONEDNN_MAX_CPU_ISA=AVX2 (oneDNN's
#   convolutions; DNNL_MAX_CPU_ISA for older oneDNN) and OPENBLAS_CORETYPE=Haswell (Debian's torch calls OpenBLAS).
#   AVX-512 pass: pcnative as is; PyTorch with ATEN_CPU_CAPABILITY=avx512 (Debian's torch 1.13 picks AVX2 by
#   default even here; oneDNN uses AVX-512 either way) — each side at its best.
# Same network (ResNet18 to layer3, layer3 trained, BN frozen with gamma/beta trained), batch 8 source images
# (rotation: 32 rows; contrastive: 2 views + 4 CutMix = 20 rows), 224x224, SGD momentum, 2 threads both.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}; steps=${2:-3}; tasks=${3:-rotation contrastive}
py=/usr/bin/python3
[ -x ./pcnative ] || { echo "bench_train_side_by_side: ./pcnative missing (./build.sh)" >&2; exit 1; }
$py -c "import torch, torchvision" 2>/dev/null || { echo "bench_train_side_by_side: $py lacks torch (apt-get install python3-torch python3-torchvision)" >&2; exit 1; }
out=$(mktemp -d)
echo "commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src || echo ' (+ uncommitted src changes)'); $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; $(date -u '+%F %H:%M UTC'); load $(cut -d' ' -f1-3 /proc/loadavg)"

run_pc() { # task isa round
  local envs=(); [ "$2" = avx2 ] && envs=(DOTNET_EnableAVX512=0)
  env "${envs[@]}" ./pcnative bench train --task "$1" --batch 8 --crop 224 --threads 2 --steps "$steps" --warmup 1 > "$out/pc-$1-$2-$3.txt"
  local want="AVX-512"; [ "$2" = avx2 ] && want="AVX2"
  grep -q "^backend:.*, $want\$" "$out/pc-$1-$2-$3.txt" || { echo "pcnative did not report $want:"; grep '^backend:' "$out/pc-$1-$2-$3.txt"; exit 1; }
}
run_torch() {
  local envs=(ATEN_CPU_CAPABILITY=avx512)
  [ "$2" = avx2 ] && envs=(ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 DNNL_MAX_CPU_ISA=AVX2 OPENBLAS_CORETYPE=Haswell)
  env "${envs[@]}" $py tools/bench_torch_train.py --task "$1" --batch 8 --crop 224 --threads 2 --steps "$steps" --warmup 1 > "$out/torch-$1-$2-$3.txt"
}
field() { sed -n "s/^RESULT .*$2=\([^ ]*\).*/\1/p" "$1"; }
median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

printf '%-12s %-8s %5s %12s %12s %9s %10s %10s  %s\n' task pass rows "pcnative ms" "torch ms" "speed-up" "pc RSS" "torch RSS" "per-round pcnative/torch ms"
for task in $tasks; do
  for isa in avx512 avx2; do
    for r in $(seq 1 "$rounds"); do run_pc "$task" "$isa" "$r"; run_torch "$task" "$isa" "$r"; done
    pcs=""; ts=""; pairs=""
    for r in $(seq 1 "$rounds"); do
      a=$(field "$out/pc-$task-$isa-$r.txt" median_ms); b=$(field "$out/torch-$task-$isa-$r.txt" median_ms)
      pcs+="$a"$'\n'; ts+="$b"$'\n'; pairs+="$a/$b "
    done
    pm=$(printf '%s' "$pcs" | median); tm=$(printf '%s' "$ts" | median)
    rows=$(field "$out/pc-$task-$isa-1.txt" rows); trows=$(field "$out/torch-$task-$isa-1.txt" rows)
    [ "$rows" = "$trows" ] || echo "warning: rows differ (pcnative $rows, torch $trows)"
    prss=$(for r in $(seq 1 "$rounds"); do field "$out/pc-$task-$isa-$r.txt" peak_rss_mib; done | sort -g | tail -1)
    trss=$(for r in $(seq 1 "$rounds"); do field "$out/torch-$task-$isa-$r.txt" peak_rss_mib; done | sort -g | tail -1)
    printf '%-12s %-8s %5s %12s %12s %8.2fx %7s MiB %6s MiB  %s\n' "$task" "$isa" "$rows" "$pm" "$tm" "$(echo "$tm / $pm" | bc -l)" "$prss" "$trss" "$pairs"
  done
done
echo "(speed-up = torch ms / pcnative ms: above 1 means pcnative's step is faster; RSS = the largest peak over the rounds; logs in $out)"
