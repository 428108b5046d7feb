#!/usr/bin/env bash
# Fine-tune mvtrack's networks on one GPU machine: build a fresh synthetic sample cache on every
# CPU core, then train the named networks side by side on the GPU, augmenting on the CPU cores.
#
#   scripts/train_on_gpu.sh OUT SUBJECTS SEED MINUTES INIT_RUNS NETWORK...
#
# NETWORK is <view>_stage<n> (2ch_stage1 ...); INIT_RUNS/<network>/best.pt is where each one starts
# (INIT_RUNS=scratch: random weights). Each OUT/<network>/ gets best.pt and summary.json. Uses
# `python3` with mvtrack importable (PYTHONPATH=src) and torch with CUDA; DEVICE=cpu runs the same
# steps on the CPU (for a dry run). Optional environment:
#   GENERATOR  JSON keyword arguments of generate_subject, e.g. the issue-13 variants at once:
#              '{"random_contrast_probability": 0.5, "hinge_look_probability": 0.35, "busy_probability": 0.35,
#                "dark_wall_probability": 0.25, "dark_groove_probability": 0.25}'   (default: the shipped mix)
#   ARCH       network options (default "--depth 10 --width 32 --max-width 128", the shipped size;
#              capacity, issue 13 lever 6: "--depth 18 --width 64 --max-width 512")
#   BATCH, LR  (default 64, 2e-4); APPEARANCE=1 adds --randomise-appearance (GIN / BigAug-like looks)
set -euo pipefail
out=$1 subjects=$2 seed=$3 minutes=$4 init_runs=$5
shift 5
device=${DEVICE:-cuda}
cores=$(nproc)
cache=${CACHE:-/tmp/mvtrack_gpu_cache}
generator=${GENERATOR:-"{}"}
arch=${ARCH:-"--depth 10 --width 32 --max-width 128"}
batch=${BATCH:-64} lr=${LR:-2e-4}
appearance=$([ "${APPEARANCE:-0}" = 1 ] && echo --randomise-appearance || true)
mkdir -p "$out"
start=$SECONDS
python3 - "$cache" "$subjects" "$seed" "$cores" "$generator" <<'PY'
import json, sys
from mvtrack.train.data import PerturbationConfig, _synthetic_job, build_cache, synthetic_jobs
cache, subjects, seed, cores = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
jobs = synthetic_jobs(subjects, seed, PerturbationConfig(copies=1), generator_options=json.loads(sys.argv[5]))
build_cache(cache, jobs, _synthetic_job, workers=cores)
PY
echo "cache of $subjects subjects built in $((SECONDS - start)) s on $cores cores"
loader_workers=$(( (cores - $#) / $# ))
for network in "$@"; do
    view=${network%%_*}; stage=${network##*stage}
    init=()
    [ "$init_runs" = scratch ] || init=(--init-from "$init_runs/$network/best.pt")
    # shellcheck disable=SC2086  # ARCH is a list of options
    python3 -m mvtrack train --view "${view^^}" --stage "$stage" --cache "$cache" --out "/tmp/runs/$network" \
        $arch --head softargmax --epochs 1000 --minutes "$minutes" $appearance \
        --batch-size "$batch" --lr "$lr" --device "$device" --loader-workers "$loader_workers" --threads 1 \
        "${init[@]}" > "/tmp/runs_$network.log" 2>&1 &
done
wait
for network in "$@"; do
    mkdir -p "$out/$network"
    cp "/tmp/runs/$network/best.pt" "/tmp/runs/$network/summary.json" "$out/$network/"
    tail -c 300 "/tmp/runs_$network.log"; echo
done
echo "done in $((SECONDS - start)) s"
