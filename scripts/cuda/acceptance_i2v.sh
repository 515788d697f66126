#!/usr/bin/env bash
# I2V Wan2.2-A14B at 720p, 81 frames, 4 steps, both experts (boundary 0.9), W8A8, from a synthetic
# full-size model set (two 14.5 GB experts + the 11.4 GB umT5-XXL: ~41 GB of disk in WORK_DIR).
# Per-stage times and peak device memory are in the log.
#   source .device/env.sh && scripts/cuda/acceptance_i2v.sh OUT_DIR [WORK_DIR] [extra i2v flags…]
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${1:-/tmp/td-acceptance}; work=${2:-/tmp/td-models}; shift 2 2>/dev/null || true
mkdir -p "$out" "$work"
td=${TURBODIFFUSION:-turbodiffusion}
"$td" synthesize --preset wan2.2-i2v-a14b --quant --dir "$work/a14b" 2>&1 | grep -E "wrote|error" || exit 1
"$td" i2v --prompt "The cat jumps into the water" --image_path models/demo/sample_i2v.png \
  --high_noise_model_path "$work/a14b/high_noise.safetensors" --low_noise_model_path "$work/a14b/low_noise.safetensors" \
  --vae_path "$work/a14b/vae.safetensors" --text_encoder_path "$work/a14b/umt5-xxl.safetensors" \
  --tokenizer_path "$work/a14b/tokenizer" --quant_linear --resolution 720p --num_frames 81 --num_steps 4 --boundary 0.9 \
  --save_path "$out/i2v-a14b-720p.mp4" "$@" > "$out/i2v-a14b-720p.log" 2>&1
rc=$?
grep -vE "^\[.*(denoise|decode|encode) [0-9]+/" "$out/i2v-a14b-720p.log" | tail -20
exit $rc
