#!/usr/bin/env bash
# Memory checks on the GPU machine (issue 12, memory tiers): streamed DiT blocks against resident
# ones bit for bit at full size, an out-of-memory under --max_vram that fails cleanly, a streamed
# 14B generation under a small --max_vram, and an impossible budget refused before any work.
# Each part fits one device command (≤ 10 min); model sets are reused from WORK_DIR when present.
#   source .device/env.sh && scripts/cuda/memory_checks.sh PART OUT_DIR [WORK_DIR]
#   PART: bench (no files needed) | synth | t2v14b | refuse
set -uo pipefail
cd "$(dirname "$0")/../.."
part=${1:?bench, synth, t2v14b or refuse}; out=${2:-/tmp/td-memory}; work=${3:-/tmp/td-models}
mkdir -p "$out" "$work"
td=${TURBODIFFUSION:-turbodiffusion}
failed=0
step() {   # step LABEL COMMAND...
  local label=$1; shift
  echo "== $label"
  if "$@" > "$out/$label.log" 2>&1; then echo "   ok"; else echo "   FAILED (exit $?)"; failed=1; fi
  grep -E "memory plan|^stage|^encode|^denoise|^decode|done in|peak|saved|error|streamed|loaded|forward on" "$out/$label.log" \
    | grep -v "^\[.*denoise [0-9]" | tail -16
}
case $part in
bench)
  # 14B 720p SLA, one forward: blocks streamed (peak ≈ weights outside the blocks + 2 blocks + activations)
  # and the resident forward on the same device: every value must be bit-identical.
  step bench-14b-720p-stream "$td" bench dit --preset wan2.1-14b --size 1280x720 --attention_type sla --repeats 2 \
    --stream --compare-resident
  # The resident 14B (26.6 GiB of weights) under --max_vram 20 must fail with an out-of-memory that
  # names requested, free and held MiB; streamed it runs under the same limit.
  if "$td" bench dit --preset wan2.1-14b --size 1280x720 --attention_type sla --repeats 1 --max_vram 20 \
       > "$out/bench-14b-resident-20gb.log" 2>&1; then
    echo "== bench-14b-resident-20gb: expected an out-of-memory"; failed=1
  else
    echo "== bench-14b-resident-20gb: failed as expected"; grep -iE "error|requested" "$out/bench-14b-resident-20gb.log" | tail -2
  fi
  step bench-14b-720p-stream-20gb "$td" bench dit --preset wan2.1-14b --size 1280x720 --attention_type sla --repeats 1 \
    --stream --max_vram 20 ;;
synth)
  [ -e "$work/1.3b/umt5-xxl.safetensors" ] || step synthesize-1.3b "$td" synthesize --preset wan2.1-1.3b --dir "$work/1.3b"
  [ -e "$work/14b/dit.safetensors" ] || step synthesize-14b "$td" synthesize --preset wan2.1-14b --dir "$work/14b" --no-text-encoder ;;
t2v14b)
  # 14B bf16 at 480p under 12 GiB: the plan streams the DiT (26.6 GiB of weights) block by block.
  step t2v-14b-480p-12gb "$td" t2v --model Wan2.1-14B --prompt "A cat surfing a wave at sunset" --dit_path "$work/14b/dit.safetensors" \
    --vae_path "$work/1.3b/vae.safetensors" --text_encoder_path "$work/1.3b/umt5-xxl.safetensors" --tokenizer_path "$work/1.3b/tokenizer" \
    --attention_type sla --resolution 480p --num_frames 81 --num_steps 4 --max_vram 12 --save_path "$out/t2v-14b-480p-12gb.mp4"
  grep -q "DiT streamed block by block" "$out/t2v-14b-480p-12gb.log" || { echo "   the plan did not stream the DiT"; failed=1; } ;;
refuse)
  # 14B bf16 at 720p in 9 GiB does not fit in any placement: refused up front, nothing written.
  if "$td" t2v --model Wan2.1-14B --prompt "x" --dit_path "$work/14b/dit.safetensors" --vae_path "$work/1.3b/vae.safetensors" \
       --text_encoder_path "$work/1.3b/umt5-xxl.safetensors" --tokenizer_path "$work/1.3b/tokenizer" --attention_type sla \
       --resolution 720p --max_vram 9 --save_path "$out/never.mp4" > "$out/refuse.log" 2>&1 || [ -e "$out/never.mp4" ]; then
    echo "== refuse: expected a refusal"; failed=1
  else
    echo "== refuse: refused as expected"; grep -E "not enough|^stage|^denoise" "$out/refuse.log" | head -4
    grep -q "loaded" "$out/refuse.log" && { echo "   a model was loaded before the refusal"; failed=1; }
  fi ;;
*) echo "unknown part $part"; exit 2 ;;
esac
exit $failed
