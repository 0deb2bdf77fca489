#!/usr/bin/env bash
# The GPU check of a machine with one CUDA GPU in one call, from the repository root. It
# installs nothing and runs the package from this checkout (PYTHONPATH): it needs torch, timm,
# scikit-learn, pandas, scipy and PyYAML (pytest for part 2), not wfdb, MLflow or Optuna.
#
#     bash benchmarks/gpu_check.sh OUT_DIR [--device cpu] [--reduced]
#
# 1. the quickstart grid, `bench run --methods all --tasks synthetic --no-tracking`, pretraining
#    and evaluating on the device (4 worker processes share the GPU and the CPU cores); it
#    passes when its dry run counts every cell done and none failed
#      OUT_DIR/grid.log, OUT_DIR/grid_cells.txt (that count), OUT_DIR/leaderboard/
# 2. the tests marked `gpu`                              OUT_DIR/gpu_tests.log
# 3. bench perf at paper size in bf16: every method eager, then cpc and hybrid compiled with
#    CUDA graphs `auto` (on: static shapes) and `never` (the graphs' A/B)
#      OUT_DIR/paper_eager.csv, paper_graphs.csv, paper_nograph.csv, OUT_DIR/perf.log
# OUT_DIR/machine.txt: GPU, driver, torch; OUT_DIR/summary.txt: one line per step.
#
# Each step has its own time limit, about 9 minutes in all; the exit status is 0 when every
# step passed. Rerun it to continue a grid cut off by its limit (finished cells are kept).
# --device cpu runs the same steps on the CPU (the `gpu` tests then skip); --reduced shrinks
# them (one fraction and seed, 2 training steps; perf: cpc alone at smoke size) and gives each
# step 4 times its limit: together they dry-run this script on a small machine without a GPU.
# PYTHON picks the interpreter (default python3).
set -u -o pipefail
usage="usage: bash benchmarks/gpu_check.sh OUT_DIR [--device cpu] [--reduced]"
out=${1:?$usage}
shift
device=cuda reduced=0 scale=1
while (($#)); do
    case $1 in
        --device) device=${2:?$usage}; shift 2 ;;
        --reduced) reduced=1 scale=4; shift ;;
        *) echo "$usage" >&2; exit 2 ;;
    esac
done
mkdir -p "$out"
py=${PYTHON:-python3}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
summary="$out/summary.txt"
: >"$summary"
failed=0

# step NAME SECONDS LOG COMMAND...: run COMMAND under its limit (times scale), output
# appended to LOG, its outcome to the summary.
step() {
    local name=$1 limit=$(($2 * scale)) log=$3 start=$SECONDS status
    timeout "$limit" "${@:4}" >>"$log" 2>&1
    status=$?
    case $status in
        0) echo "$name: ok ($((SECONDS - start)) s)" ;;
        124) echo "$name: TIMED OUT after $limit s" ;;
        *) echo "$name: FAILED, exit $status ($((SECONDS - start)) s; see $log)" ;;
    esac | tee -a "$summary"
    ((status == 0)) || failed=1
}

{
    if command -v nvidia-smi >/dev/null; then
        nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
    else
        echo "no nvidia-smi here"
    fi
    "$py" -c "import sys, torch; print(sys.version.split()[0], 'torch', torch.__version__,
        'cuda', torch.version.cuda, 'available', torch.cuda.is_available())"
} >"$out/machine.txt"

# 1. the quickstart grid on the device
results="$out/results"
grid=(run --methods all --tasks synthetic --no-tracking --no-progress --jobs 4
    --set "profile_overrides.train.device=$device"
    --set "profile_overrides.evaluation.device=$device")
if ((reduced)); then
    grid+=(--fractions 1 --seeds 1
        --set profile_overrides.train.max_steps=2
        --set profile_overrides.evaluation.n_boot=20
        --set "profile_overrides.evaluation.linear.c_grid=[1.0]"
        --set profile_overrides.evaluation.finetune.min_steps=2
        --set profile_overrides.evaluation.finetune.evaluations=1)
fi
export BENCH_RESULTS="$results"
step "grid" 210 "$out/grid.log" "$py" -m bench "${grid[@]}"
timeout $((20 * scale)) "$py" -m bench "${grid[@]}" --dry-run 2>&1 | tail -n 1 \
    >"$out/grid_cells.txt"
if grep -q " 0 failed, 0 pending$" "$out/grid_cells.txt"; then verdict=ok; else verdict=FAILED; fi
echo "grid cells: $verdict ($(cat "$out/grid_cells.txt"))" | tee -a "$summary"
[[ $verdict == ok ]] || failed=1
step "leaderboard" 20 "$out/grid.log" "$py" -m bench leaderboard --results "$results" \
    --out "$out/leaderboard"

# 2. the tests marked gpu
if "$py" -c "import pytest" 2>/dev/null; then
    step "gpu tests" 50 "$out/gpu_tests.log" "$py" -m pytest -q -p no:cacheprovider -m gpu \
        tests/training tests/perf tests/encoders
else
    echo "gpu tests: not run, pytest is not installed" | tee -a "$summary"
fi

# 3. the paper-size perf figures
perf=(perf --profile paper --device "$device" --steps 20)
compiled=(--warmup 4 --methods cpc hybrid --compile)
if ((reduced)); then
    perf=(perf --profile smoke --device "$device" --steps 2 --warmup 1 --methods cpc)
    compiled=(--compile)
fi
step "perf eager" 110 "$out/perf.log" "$py" -m bench "${perf[@]}" --csv "$out/paper_eager.csv"
step "perf graphs auto" 65 "$out/perf.log" "$py" -m bench "${perf[@]}" "${compiled[@]}" \
    --cuda-graphs auto --csv "$out/paper_graphs.csv"
step "perf graphs never" 65 "$out/perf.log" "$py" -m bench "${perf[@]}" "${compiled[@]}" \
    --cuda-graphs never --csv "$out/paper_nograph.csv"
exit "$failed"
