#!/usr/bin/env bash
# The reproduction grid on one GPU, as SHARDS processes sharing it (one process training a
# ResNet-18 on 32x32 images leaves the GPU idle between steps), each starting no run that would
# end past BUDGET seconds (and each stopped at HARD seconds at the latest). The shards' results
# are merged into OUT (results.json, results.md).
# Run from the repository root:
#   DATA=/path/to/fashion-mnist bash benchmarks/repro/gpu_grid.sh
# An interrupted grid resumes: each shard keeps its finished runs in WORK and skips them next time.
# ONLY="byol-standard byol-mscn" runs those experiments alone; the merge keeps the runs already in
# OUT/results.json, so rows run later join the table. Shard I runs the same runs of the whole grid
# whatever ONLY says (its share of ONLY's runs may be small or none), so calls with other ONLY sets
# never run a run twice across shards. A run is reused or merged only if it was made with the
# grid's current settings; KEEP_OLD=1 also takes runs that older versions stored without them.
set -uo pipefail
grid=${GRID:-gpu}
data=${DATA:?set DATA to the Fashion-MNIST folder}
out=${OUT:-benchmarks/repro/results/$grid}
work=${WORK:-runs/repro/$grid-shards}
shards=${SHARDS:-4}
budget=${BUDGET:-540}
hard=${HARD:-$((budget * 5 / 4 + 60))}
python=${PYTHON:-python3}
only=()
[[ -n ${ONLY:-} ]] && only=(--only $ONLY)
keep_old=()
[[ -n ${KEEP_OLD:-} ]] && keep_old=(--keep-old)
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" OMP_NUM_THREADS=${OMP_NUM_THREADS:-4} PYTHONUNBUFFERED=1
mkdir -p "$work" "$out"
pids=()
for ((i = 0; i < shards; i++)); do
    # the budget only stops new runs; the timeout ends a run that overshoots it by far
    timeout --signal=INT --kill-after=30 "$hard" "$python" -m benchmarks.repro --grid "$grid" --data "$data" \
        --out "$work/shard$i" --shard "$i/$shards" --time-budget "$budget" "${only[@]}" "${keep_old[@]}" >"$work/shard$i.log" 2>&1 &
    pids+=($!)
done
status=0
for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || { echo "shard $i failed or was stopped: see $work/shard$i.log"; status=1; }
done
sources=()
for ((i = 0; i < shards; i++)); do
    [[ -f $work/shard$i/results.json ]] && sources+=("$work/shard$i")
done
if ((${#sources[@]} == 0)); then
    echo "no shard finished a run: see $work/shard*.log"
    exit 1
fi
"$python" -m benchmarks.repro --grid "$grid" --out "$out" --merge "${sources[@]}" "${keep_old[@]}" || status=1
exit $status
