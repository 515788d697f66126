#!/usr/bin/env bash
# The measurements that decide whether the candidate CUDA kernels (CUDAKernelSet) become standard, for the
# device machine after scripts/cuda/gpu_checks.sh passed (which runs the catalogue with them):
#   source .device/env.sh && scripts/cuda/bench_candidates.sh [OUT_DIR]
# Each bench's output goes to OUT_DIR; the lines that decide are printed at the end. About 6 minutes on an H100.
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${1:-/tmp/td-bench-candidates}; mkdir -p "$out"
td=${TURBODIFFUSION:-turbodiffusion}
run() {   # run NAME SECONDS COMMAND...: the command's output in OUT/NAME.txt, its exit status recorded there
  local name=$1 limit=$2; shift 2
  timeout "$limit" "$@" > "$out/$name.txt" 2>&1; echo "exit $?" >> "$out/$name.txt"
}
run w8a8 150 python3 scripts/cuda/bench_w8a8.py --variants tri4,wgmma4 --shapes all --repeat 5
run norms 90 python3 scripts/cuda/bench_norms.py --repeat 10
run dit-sla-w8a8 90 "$td" bench dit --attention_type sla --quant_linear --compare-kernels
run dit-sla 90 "$td" bench dit --attention_type sla --compare-kernels
run dit-sagesla 90 "$td" bench dit --attention_type sagesla --compare-kernels
echo "== W8A8 GEMMs (ms; tri4 = the candidate's kernel with its quantiser and weight tiling)"
grep -E "^(tri4|wgmma4) +(time|RESULT)|summary" "$out/w8a8.txt" | cut -c1-260
echo "== row norms"
grep -E "^(time|check|RESULT)" "$out/norms.txt" | cut -c1-260
for f in dit-sla-w8a8 dit-sla dit-sagesla; do
  echo "== $f: $(grep -E "^kernels standard" "$out/$f.txt" || tail -3 "$out/$f.txt")"
done
failed=$(grep -l "^exit [^0]" "$out"/*.txt | tr "\n" " ")
[ -z "$failed" ] || { echo "== failed (exit status ≠ 0): $failed"; exit 1; }
