#!/usr/bin/env bash
# Every GPU check in one run, for the device machine (no Swift there): the op catalogue on CUDA,
# then each model's forward command on CUDA against the committed reference fixtures, then the demo
# pipeline on CUDA and on the CPU from the same seed. Prints one summary table; exits 1 on a failure.
#   ../shared/tools/device-pack            (here)
#   source .device/env.sh && scripts/cuda/gpu_checks.sh [OUT_DIR]      (there)
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${1:-/tmp/td-gpu-checks}; mkdir -p "$out"
dev0=${DEVICE:-cuda}   # DEVICE=cpu runs the same checks on the CPU (to check the script itself)
fx=Tests/ModelsTests/Fixtures
td=${TURBODIFFUSION:-turbodiffusion}
summary=(); failed=0
check() {   # check LABEL COMMAND...: runs it, records ok/FAILED with its wall time
  local label=$1; shift
  local t0=$EPOCHREALTIME
  if "$@" > "$out/$label.log" 2>&1; then r=ok; else r=FAILED; failed=1; fi
  local dt=$(awk "BEGIN{print $EPOCHREALTIME - $t0}")
  summary+=("$(printf '%-34s %-7s %6.1f s  %s' "$label" "$r" "$dt" "$(grep -E 'relative L2|passed,|mean absolute' "$out/$label.log" | tail -1)")")
  [ $r = ok ] || { echo "== $label FAILED"; tail -25 "$out/$label.log"; }
}
dit() {     # dit LABEL WEIGHTS IO BOUND HEADS(0: width/128) TEXTLEN [flags...]
  local label=$1 w=$2 io=$3 bound=$4 heads=$5 tl=$6; shift 6
  check "$label" bash -c "$td forward dit --device $dev0 --weights $fx/$w --inputs $fx/$io --output $out/$label.safetensors \
    $([ $heads = 0 ] || echo --num_heads $heads) --text_len $tl $* && $td compare $out/$label.safetensors $fx/$io --bound $bound --label $label"
}

check test-backend "$td" test-backend --device $dev0 --quiet
# The same catalogue planned for 99 KiB of shared memory per block (Ada, consumer Ampere and Blackwell):
# the fallbacks those GPUs take, run on this one.
[ "$dev0" = cpu ] || check test-backend-99KiB "$td" test-backend --device $dev0 --quiet --shared-memory-limit 101376
# Candidate kernels (CUDAKernelSet): the catalogue with them, and with them at 160 KiB (the 128-row
# W8A8 kernel they fall back to), so a candidate becomes standard only after this passes.
[ "$dev0" = cpu ] || check test-backend-candidate "$td" test-backend --device $dev0 --quiet --cuda-kernels candidate
[ "$dev0" = cpu ] || check test-backend-candidate-160KiB "$td" test-backend --device $dev0 --quiet --cuda-kernels candidate --shared-memory-limit 163840
dit dit-t2v-hd64-f32 dit_t2v_hd64.safetensors dit_t2v_hd64_io.safetensors 1e-4 2 16
dit dit-t2v-hd64-bf16 dit_t2v_hd64.safetensors dit_t2v_hd64_io.safetensors 2e-2 2 16 --dtype bf16
dit dit-i2v-hd128-f32 dit_i2v_hd128.pth dit_i2v_hd128_io.safetensors 1e-4 0 12
dit dit-bf16-odd-bf16 dit_t2v_bf16_odd.safetensors dit_t2v_bf16_odd_io.safetensors 2e-2 2 16 --dtype bf16
dit dit-sla-f32 dit_sla_hd64.pth dit_sla_hd64_io.safetensors 1e-3 2 16 --attention_type sla --sla_topk 0.25 --sla_block_q 16 --sla_block_k 8
dit dit-sagesla-f32 dit_sla_hd64.pth dit_sla_hd64_sagesla_io.safetensors 1e-3 2 16 --attention_type sagesla --sla_topk 0.25 --sla_block_q 16 --sla_block_k 8
# bf16: the fused block map and linear-branch kernels (the f32 runs compose the linear branch); 3.8e-3 on the CPU
dit dit-sla-bf16 dit_sla_hd64.pth dit_sla_hd64_io.safetensors 2e-2 2 16 --dtype bf16 --attention_type sla --sla_topk 0.25 --sla_block_q 16 --sla_block_k 8
dit dit-sagesla-bf16 dit_sla_hd64.pth dit_sla_hd64_sagesla_io.safetensors 2e-2 2 16 --dtype bf16 --attention_type sagesla --sla_topk 0.25 --sla_block_q 16 --sla_block_k 8
dit dit-w8a8-f32 dit_quant_hd128.pth dit_quant_hd128_io.safetensors 1e-4 0 16 --quant_linear
[ "$dev0" = cpu ] || dit dit-w8a8-f32-candidate dit_quant_hd128.pth dit_quant_hd128_io.safetensors 1e-4 0 16 --quant_linear --cuda-kernels candidate
[ "$dev0" = cpu ] || dit dit-bf16-candidate dit_t2v_hd64.safetensors dit_t2v_hd64_io.safetensors 2e-2 2 16 --dtype bf16 --cuda-kernels candidate
for m in "tiny padded" "tiny unpadded" "wide holes" "wide padded"; do
  set -- $m
  for dt in f32 bf16; do
    b=1e-4; [ $dt = bf16 ] && b=5e-3
    check "t5-$1-$2-$dt" bash -c "$td forward t5 --device $dev0 --dtype $dt --weights $fx/t5_$1.pth --inputs $fx/t5_$1_$2_io.safetensors \
      --output $out/t5-$1-$2-$dt.safetensors && $td compare $out/t5-$1-$2-$dt.safetensors $fx/t5_$1_$2_io.safetensors --ref-key out_$dt --bound $b --label t5-$1-$2-$dt \
      $([ $2 = unpadded ] || echo --rows-from-mask mask)"
  done
done
for v in "decode dec wide 2 z video" "decode dec square 1 z video" "encode enc wide 4 video z" "encode enc square 3 video z"; do
  set -- $v
  check "vae-$1-$3" bash -c "$td forward vae-$1 --device $dev0 --random-weights $4 --random-width 8 --inputs $fx/vae_$2_$3_io.safetensors \
    --output $out/vae-$1-$3.safetensors && $td compare $out/vae-$1-$3.safetensors $fx/vae_$2_$3_io.safetensors --key $6 --bound 1e-4 --label vae-$1-$3"
done
# The demo pipeline on both devices from the same seed; frames compared by mean absolute difference.
for dev in $dev0 cpu; do
  check "demo-t2v-$dev" "$td" t2v --model demo --device $dev --prompt "A yellow star moves up on a gray background." \
    --seed 3 --save_path "$out/demo-$dev.mp4" --frames_dir "$out/frames-$dev"
done
# Mixed placement: text encoder and VAE on the CPU, the DiT on the device.
check "demo-t2v-mixed" "$td" t2v --model demo --device $dev0 --text_encoder_device cpu --vae_device cpu \
  --prompt "A yellow star moves up on a gray background." --seed 3 --save_path "$out/demo-mixed.mp4" --frames_dir "$out/frames-mixed"
check demo-mixed-vs-cpu "$td" compare-frames "$out/frames-mixed" "$out/frames-cpu" --bound 2.0
check demo-cuda-vs-cpu "$td" compare-frames "$out/frames-$dev0" "$out/frames-cpu" --bound 3.0
# The same with the VAE in f32 on both (on a GPU it defaults to bf16): only the DiT's bf16 noise remains.
check "demo-t2v-$dev0-vae-f32" "$td" t2v --model demo --device $dev0 --vae_dtype f32 --prompt "A yellow star moves up on a gray background." \
  --seed 3 --save_path "$out/demo-vae-f32.mp4" --frames_dir "$out/frames-vae-f32"
check demo-vae-f32-vs-cpu "$td" compare-frames "$out/frames-vae-f32" "$out/frames-cpu" --bound 2.0

echo; echo "== GPU checks ($(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1))"
printf '%s\n' "${summary[@]}"
exit $failed
