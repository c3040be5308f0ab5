#!/usr/bin/env bash
# Compare ways of submitting many tiny jobs through profiles/slurm on the
# local cluster (cluster/start_slurm.sh must be up). Prints a markdown table.
#
#   cluster/bench_submission.sh [NBATCH] [NFILES] [MODES...]
#   e.g. cluster/bench_submission.sh 10 20            # 200 tiny jobs + train
#
# Modes: perjob  (no group: one sbatch per job)
#        array   (no group, --slurm-array-jobs=all: one array per rule)
#        array300 (same with --jobs 300, i.e. more than all jobs of the DAG)
#        group50 (group "featurize", --group-components featurize=50)
#        group100 (same, featurize=100)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$HERE")
NBATCH=${1:-10}
NFILES=${2:-20}
shift 2 || true
MODES=("$@")
((${#MODES[@]})) || MODES=(group100 group50 array perjob)
STATE=${GENREFLOW_SLURM_STATE:-/tmp/genreflow-slurm}
CTLD_LOG=$STATE/slurmctld.log
LIMIT=${BENCH_TIMEOUT:-1800}
WORK=$(mktemp -d /tmp/genreflow-bench.XXXXXX)

sinfo -h >/dev/null || {
    echo "cluster not running (sinfo fails)" >&2
    exit 1
}

echo "| mode | extra options | sbatch calls | SLURM jobs (incl. array tasks) | wall time [s] | result |"
echo "|---|---|---|---|---|---|"
for mode in "${MODES[@]}"; do
    case $mode in
    perjob)
        desc="group= (no group)"
        extra=(group=)
        ;;
    array)
        desc="group= --slurm-array-jobs all"
        extra=(group= --slurm-array-jobs all)
        ;;
    array300)
        desc="group= --slurm-array-jobs all --jobs 300"
        extra=(group= --slurm-array-jobs all --jobs 300)
        ;;
    group50)
        desc="--group-components featurize=50"
        extra=(--group-components featurize=50)
        ;;
    group100)
        desc="--group-components featurize=100"
        extra=(--group-components featurize=100)
        ;;
    *)
        echo "unknown mode $mode" >&2
        exit 2
        ;;
    esac
    d=$WORK/$mode
    mkdir -p "$d"
    sub0=$(grep -c '_slurm_rpc_submit_batch_job' "$CTLD_LOG" || true)
    run0=$(grep -cE 'sched: Allocate|_start_job: Started' "$CTLD_LOG" || true)
    t0=$(date +%s.%N)
    if timeout -k 10 "$LIMIT" snakemake -s "$HERE/toy/Snakefile" -d "$d" \
        --profile "$REPO/profiles/slurm" --workflow-profile none \
        --config nbatch="$NBATCH" nfiles="$NFILES" "${extra[@]}" >"$d.log" 2>&1; then
        res=ok
    else
        res="failed rc=$? (log $d.log)"
    fi
    t1=$(date +%s.%N)
    sub1=$(grep -c '_slurm_rpc_submit_batch_job' "$CTLD_LOG" || true)
    run1=$(grep -cE 'sched: Allocate|_start_job: Started' "$CTLD_LOG" || true)
    nout=$( (find "$d/spec" -name '*.png' 2>/dev/null || true) | wc -l)
    [[ $res == ok && $nout -ne $((NBATCH * NFILES)) ]] && res="only $nout outputs"
    printf '| %s | `%s` | %d | %d | %s | %s |\n' "$mode" "$desc" \
        $((sub1 - sub0)) $((run1 - run0)) "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", b - a}')" "$res"
done
echo
echo "($((NBATCH * NFILES)) tiny jobs in $NBATCH rules + 1 GPU train job; logs in $WORK)"
