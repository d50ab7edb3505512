#!/bin/bash
# Proof on a real Slurm, on this one machine: start Debian's slurm-wlm (munge, slurmctld, slurmd), submit a sweep
# as a job array of N parts (tools/slurm/sweep-array.sh), wait, merge, run the same sweep unsharded locally, and
# check the two summaries are equal (all columns but the wall-clock total_s_mean). Needs root (apt-get, daemons).
#
#   tools/slurm/local-cluster.sh [SWEEP.json] [N]      (default tools/sweeps/demo-small.json, 2 parts)
#
# Leaves the daemons running (tools/slurm/local-cluster.sh stop ends them); writes under /tmp/pcnative-slurm/.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
WORK=/tmp/pcnative-slurm
CONF=/etc/slurm/slurm.conf

stop() {
    for d in slurmd slurmctld munged; do
        if [ -f "$WORK/$d.pid" ]; then kill "$(cat "$WORK/$d.pid")" 2>/dev/null || true; rm -f "$WORK/$d.pid"; fi
    done
}
if [ "${1:-}" = stop ]; then stop; exit 0; fi

SWEEP=${1:-tools/sweeps/demo-small.json}
N=${2:-2}
PCNATIVE=$REPO/src/PatchCore.Cli/bin/Release/net10.0/pcnative
[ -x "$PCNATIVE" ] || { echo "build first: dotnet build src/PatchCore.Cli -c Release" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "needs root (apt-get install, munge and slurm daemons)" >&2; exit 1; }

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge
fi
mkdir -p "$WORK"
stop

# munge: a key, its folders, the daemon as the munge user.
[ -s /etc/munge/munge.key ] || { dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none; }
chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key
mkdir -p /run/munge /var/log/munge /var/lib/munge; chown munge:munge /run/munge /var/log/munge /var/lib/munge
runuser -u munge -- /usr/sbin/munged --force
sleep 1; pgrep -u munge -n munged > "$WORK/munged.pid"
munge -n | unmunge >/dev/null

# slurm: one node (this machine), one partition, no cgroups, no accounting.
HOST=$(hostname -s)
CPUS=$(nproc)
MEM=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
cat > "$CONF" <<CONF
ClusterName=pcnative
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=$WORK/slurmctld.pid
SlurmdPidFile=$WORK/slurmd.pid
SlurmctldLogFile=$WORK/slurmctld.log
SlurmdLogFile=$WORK/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
NodeName=$HOST CPUs=$CPUS RealMemory=$MEM State=UNKNOWN
PartitionName=local Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF
slurmctld -c -i
slurmd -c
for _ in $(seq 60); do
    if sinfo -h -o %T 2>/dev/null | grep -qE '^idle'; then break; fi
    sleep 1
done
sinfo

OUT=$WORK/sharded; LOCAL=$WORK/local
rm -rf "$OUT" "$LOCAL"
echo "== submit: sbatch --array=0-$((N - 1)) tools/slurm/sweep-array.sh $SWEEP $OUT"
JOB=$(sbatch --parsable --chdir="$REPO" --output="$WORK/slurm-%A_%a.out" --array=0-$((N - 1)) \
    tools/slurm/sweep-array.sh "$SWEEP" "$OUT")
echo "job $JOB"
t0=$(date +%s)
while [ -n "$(squeue -h -j "$JOB" 2>/dev/null)" ]; do sleep 2; done
echo "== array done in $(( $(date +%s) - t0 ))s"
for f in "$WORK"/slurm-"$JOB"_*.out; do echo "--- $f"; cat "$f"; done
echo "== merge: pcnative sweep $SWEEP --out $OUT --merge"
"$PCNATIVE" sweep "$SWEEP" --out "$OUT" --merge
echo "== unsharded: pcnative sweep $SWEEP --out $LOCAL"
"$PCNATIVE" sweep "$SWEEP" --out "$LOCAL" > /dev/null
# Equal in every column but the last (total_s_mean, wall-clock seconds).
strip_csv() { sed 's/,[^,]*$//' "$1"; }
strip_md() { sed 's/ [^|]* |$/ |/' "$1"; }
if cmp <(strip_csv "$OUT/summary.csv") <(strip_csv "$LOCAL/summary.csv") && cmp <(strip_md "$OUT/summary.md") <(strip_md "$LOCAL/summary.md"); then
    echo "== PASS: the sharded (Slurm array of $N) and unsharded summaries are equal (total_s_mean aside)"
else
    echo "== FAIL: summaries differ"; diff "$OUT/summary.csv" "$LOCAL/summary.csv" || true; exit 1
fi
