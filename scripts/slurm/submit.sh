#!/bin/bash
# Submits a mammorecall study to Slurm: an array of N shards, then a collect job that
# runs only if every shard succeeded (--dependency=afterok).
#
#   scripts/slurm/submit.sh study.toml /shared/studies/run1 16
set -euo pipefail
CONFIG=${1:?usage: submit.sh STUDY.toml OUT_DIR N_SHARDS}
OUT=${2:?usage: submit.sh STUDY.toml OUT_DIR N_SHARDS}
N=${3:?usage: submit.sh STUDY.toml OUT_DIR N_SHARDS}
HERE=$(cd "$(dirname "$0")" && pwd)
ARRAY=$(sbatch --parsable --array=0-$((N - 1)) "$HERE/study.sbatch" "$CONFIG" "$OUT")
ARRAY=${ARRAY%%;*}
COLLECT=$(sbatch --parsable --dependency=afterok:"$ARRAY" "$HERE/collect.sbatch" "$OUT")
echo "submitted shards as job $ARRAY (array 0-$((N - 1))) and the report as job $COLLECT"
