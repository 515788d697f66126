#!/usr/bin/env bash
# Full-size generation on the GPU machine from synthetic model sets (turbodiffusion synthesize):
# T2V Wan2.1-1.3B 480p 81 frames 4 steps, bf16 weights and W8A8 under --max_vram 12, plus an
# impossible budget that must be refused. Per-stage times and peak device memory are in the logs.
#   source .device/env.sh && scripts/cuda/acceptance.sh OUT_DIR [WORK_DIR]
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${1:-/tmp/td-acceptance}; work=${2:-/tmp/td-models}; mkdir -p "$out" "$work"
td=${TURBODIFFUSION:-turbodiffusion}
failed=0
step() {   # step LABEL COMMAND...
  local label=$1; shift
  echo "== $label"
  if "$@" > "$out/$label.log" 2>&1; then echo "   ok"; else echo "   FAILED"; failed=1; fi
  grep -E "done in|peak|saved|error|refus|memory" "$out/$label.log" | grep -v "^\[.*denoise [0-9]" | tail -12
}
prompt="A cat surfing a wave at sunset"
step synthesize-1.3b "$td" synthesize --preset wan2.1-1.3b --dir "$work/1.3b"
step synthesize-1.3b-quant "$td" synthesize --preset wan2.1-1.3b --dir "$work/1.3b-quant" --quant --no-text-encoder
shared=(--vae_path "$work/1.3b/vae.safetensors" --text_encoder_path "$work/1.3b/umt5-xxl.safetensors" --tokenizer_path "$work/1.3b/tokenizer")
step t2v-1.3b-480p "$td" t2v --prompt "$prompt" --dit_path "$work/1.3b/dit.safetensors" "${shared[@]}" \
  --resolution 480p --num_frames 81 --num_steps 4 --save_path "$out/t2v-1.3b-480p.mp4"
step t2v-1.3b-480p-quant-12gb "$td" t2v --prompt "$prompt" --dit_path "$work/1.3b-quant/dit.safetensors" "${shared[@]}" \
  --quant_linear --max_vram 12 --resolution 480p --num_frames 81 --num_steps 4 --save_path "$out/t2v-1.3b-480p-quant.mp4"
# An impossible budget must fail with the numbers and write nothing.
if "$td" t2v --prompt "$prompt" --dit_path "$work/1.3b/dit.safetensors" "${shared[@]}" --max_vram 1 \
     --num_frames 81 --save_path "$out/never.mp4" > "$out/t2v-1gb.log" 2>&1 || [ -e "$out/never.mp4" ]; then
  echo "== t2v-1gb: expected a refusal"; failed=1
else
  echo "== t2v-1gb: refused as expected"; grep -E "error" "$out/t2v-1gb.log" | tail -2
fi
exit $failed
