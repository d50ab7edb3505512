#!/usr/bin/env bash
# Regenerate the project's results from the sweep files in experiments/ (issue 14, part 6):
#   every experiments/*.json sweep → OUT/<name>/ (resumable: finished runs are not redone),
#   experiments/results.md → OUT/RESULTS.md and experiments/report.md → OUT/report-prose.md (pcnative fill),
#   OUT/report/report.html + report.pdf (pcnative report over all sweeps, with the prose first).
# With --publish, OUT/RESULTS.md and OUT/report/report.pdf are copied to docs/RESULTS.md and docs/report.pdf.
# Usage: experiments/regenerate.sh [--out OUT] [--only NAME[,NAME…]] [--publish]   (OUT default experiments/out)
set -euo pipefail
cd "$(dirname "$0")/.."
out=experiments/out; only=""; publish=0
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    --publish) publish=1; shift ;;
    *) echo "regenerate.sh: unknown argument '$1' (--out OUT, --only NAMES, --publish)" >&2; exit 2 ;;
  esac
done
[ -x ./pcnative ] || ./build.sh
mkdir -p "$out"
for f in experiments/*.json; do
  name=$(basename "$f" .json)
  if [ -n "$only" ] && [[ ",$only," != *",$name,"* ]]; then continue; fi
  echo "regenerate.sh: sweep $name"
  ./pcnative sweep "$f" --out "$out/$name"
done
[ -n "$only" ] && { echo "regenerate.sh: --only given: sweeps done, documents not rebuilt"; exit 0; }
./pcnative fill experiments/results.md --sweeps "$out" --out "$out/RESULTS.md"
./pcnative fill experiments/report.md --sweeps "$out" --out "$out/report-prose.md"
./pcnative report "$out" --prose "$out/report-prose.md" --title "pcnative: PatchCore without a framework" --max-runs 3 --gallery 3 --out "$out/report"
if [ "$publish" = 1 ]; then
  cp "$out/RESULTS.md" docs/RESULTS.md
  cp "$out/report/report.pdf" docs/report.pdf
  echo "regenerate.sh: published docs/RESULTS.md and docs/report.pdf"
fi
