#!/usr/bin/env bash
# Every published-checkpoint adapter through the real grid, at the tiny configuration of its
# architecture with the random weights of its conformance fixture (saved in the official format
# by the official code): synthetic (linear + fine-tune) and LUDB delineation (frozen head).
# The numbers are meaningless (random weights); the plumbing is real.
#
#   bash benchmarks/checkpoint_grid.sh LUDB_ROOT [RESULTS_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
ludb="${1:?give the LUDB folder (ludb.csv and the WFDB records)}"
export BENCH_RESULTS="${2:-results/checkpoint-grid}"
F=tests/fixtures/checkpoints
weights=(
  ecg-jepa-multiblock=$F/ecg-jepa/official_tiny.pth ecg-jepa-random=$F/ecg-jepa/official_tiny.pth
  st-mem=$F/st-mem/encoder.pth merl-vit=$F/merl-vit/encoder.pth
  merl-resnet18=$F/merl-resnet18/weights.pth ecgfm-ked=$F/ecgfm-ked/weights.pt
  ecgfounder-12lead="$(ls $F/ecgfounder/12lead/*.pth)" ecgfounder-1lead="$(ls $F/ecgfounder/1lead/*.pth)"
  hubert-ecg-small=$F/hubert-ecg/model.safetensors
)
args=()
for pair in "${weights[@]}"; do
  name=${pair%%=*}
  args+=(--weights "$pair" --set "profile_overrides.methods.$name.config.size=tiny")
done
methods=(ecg-jepa-multiblock ecg-jepa-random st-mem merl-vit merl-resnet18 ecgfm-ked
         ecgfounder-12lead ecgfounder-1lead hubert-ecg-small random_init[st-mem])
common=(--fractions 1.0 --seeds 1 --no-tracking --no-progress "${args[@]}"
        --set profile_overrides.evaluation.n_boot=100
        --set profile_overrides.evaluation.finetune.epochs=1
        --set profile_overrides.evaluation.finetune.max_steps=20)
python -m bench run --methods "${methods[@]}" --tasks synthetic --protocols linear finetune "${common[@]}"
python -m bench run --methods "${methods[@]}" --tasks ludb-delineation --protocols linear \
  --data-root "ludb=$ludb" "${common[@]}"
