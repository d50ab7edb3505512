#!/bin/bash
# One part of a pcnative sweep per Slurm array task: task K of N runs `pcnative sweep FILE --out DIR --shard K/N`.
# Parts are disjoint and cover the sweep; a part that is killed and resubmitted skips its runs that have DONE.
#
#   JOB=$(sbatch --parsable --array=0-3 tools/slurm/sweep-array.sh tools/sweeps/demo-small.json runs/sweeps/demo-small)
#   sbatch --dependency=afterok:$JOB --wrap "$PWD/src/PatchCore.Cli/bin/Release/net10.0/pcnative sweep tools/sweeps/demo-small.json --out runs/sweeps/demo-small --merge"
#
# N is the array's size (--array=0-(N-1)); DIR must be on a file system every node sees. Extra arguments after
# DIR go to pcnative (e.g. --weights, --backend). PCNATIVE overrides the binary's path.
#SBATCH --job-name=pcnative-sweep
#SBATCH --cpus-per-task=1
#SBATCH --output=slurm-%A_%a.out
set -euo pipefail
if [ $# -lt 2 ]; then echo "usage: sbatch --array=0-(N-1) $0 SWEEP.json DIR [pcnative flags...]" >&2; exit 2; fi
SWEEP=$1; OUT=$2; shift 2
: "${SLURM_ARRAY_TASK_ID:?run this through sbatch --array=0-(N-1)}"
N=${SLURM_ARRAY_TASK_COUNT:-$((SLURM_ARRAY_TASK_MAX + 1))}
PCNATIVE=${PCNATIVE:-src/PatchCore.Cli/bin/Release/net10.0/pcnative}
echo "pcnative sweep $SWEEP: shard $SLURM_ARRAY_TASK_ID/$N on $(hostname) with ${SLURM_CPUS_PER_TASK:-all} cpus"
exec "$PCNATIVE" sweep "$SWEEP" --out "$OUT" --shard "$SLURM_ARRAY_TASK_ID/$N" --threads "${SLURM_CPUS_PER_TASK:-0}" "$@"
