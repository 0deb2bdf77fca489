#!/usr/bin/env bash
# The speed issue's GPU figures in one prepared command, for a machine with one CUDA GPU (run
# from the repository root; it needs torch and timm only, not wfdb, mlflow or optuna):
#
#     bash benchmarks/gpu_figures.sh OUT_DIR
#
# OUT_DIR/gpu.txt           the GPU, its memory and driver (nvidia-smi)
# OUT_DIR/paper_eager.csv   every method at paper size, bf16 autocast, eager (MFU, data share)
# OUT_DIR/paper_graphs.csv  cpc and hybrid compiled, CUDA graphs `auto` (on: static shapes)
# OUT_DIR/paper_nograph.csv the same compiled, CUDA graphs `never`: the A/B of the graphs
# OUT_DIR/gpu_tests.log     the tests marked `gpu`, where pytest is installed
# OUT_DIR/perf.log          everything the runs printed
#
# Each part has its own time limit so that the whole ends within about 9 minutes.
set -u -o pipefail
out=${1:?usage: bash benchmarks/gpu_figures.sh OUT_DIR}
mkdir -p "$out"
export PYTHONPATH=. PYTHONUNBUFFERED=1
log="$out/perf.log"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv >"$out/gpu.txt" 2>&1
perf() { timeout "$1" python3 -m bench perf --profile paper --device cuda "${@:2}" 2>&1 | tee -a "$log"; }
perf 200 --steps 20 --csv "$out/paper_eager.csv"
perf 120 --steps 20 --warmup 4 --methods cpc hybrid --compile --cuda-graphs auto \
    --csv "$out/paper_graphs.csv"
perf 120 --steps 20 --warmup 4 --methods cpc hybrid --compile --cuda-graphs never \
    --csv "$out/paper_nograph.csv"
if python3 -c "import pytest" 2>/dev/null; then
    timeout 90 python3 -m pytest -q -p no:cacheprovider -m gpu tests/training tests/perf \
        tests/encoders >"$out/gpu_tests.log" 2>&1
else
    echo "pytest is not installed here: the gpu tests did not run" >"$out/gpu_tests.log"
fi
