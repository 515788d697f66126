#!/usr/bin/env bash
# The measurements that decide whether the candidate CUDA kernels (CUDAKernelSet) become standard, for the
# device machine after scripts/cuda/gpu_checks.sh passed (which runs the catalogue with them):
#   source .device/env.sh && scripts/cuda/bench_candidates.sh [OUT_DIR]
# Each bench's output goes to OUT_DIR; the lines that decide are printed at the end. About 4 minutes on an H100.
# The candidates now: the 14B's 5120-wide row norms one warp per row, so the forward compared is the 14B's
# (two backends of its 28 GB of bf16 weights: an 80 GB card holds both).
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${1:-/tmp/td-bench-candidates}; mkdir -p "$out"
td=${TURBODIFFUSION:-turbodiffusion}
run() {   # run NAME SECONDS COMMAND...: the command's output in OUT/NAME.txt, its exit status recorded there
  local name=$1 limit=$2; shift 2
  timeout "$limit" "$@" > "$out/$name.txt" 2>&1; echo "exit $?" >> "$out/$name.txt"
}
run norms 90 python3 scripts/cuda/bench_norms.py --repeat 10
run dit-14b-sla 300 "$td" bench dit --preset wan2.1-14b --size 1280x720 --attention_type sla --compare-kernels --repeats 2
echo "== row norms"
grep -E "^(time|check|RESULT)" "$out/norms.txt" | cut -c1-260
for f in dit-14b-sla; do
  echo "== $f: $(grep -E "^kernels standard" "$out/$f.txt" || tail -3 "$out/$f.txt")"
done
failed=$(grep -l "^exit [^0]" "$out"/*.txt | tr "\n" " ")
[ -z "$failed" ] || { echo "== failed (exit status ≠ 0): $failed"; exit 1; }
