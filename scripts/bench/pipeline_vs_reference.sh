#!/usr/bin/env bash
# Runs `turbodiffusion bench pipeline` and the PyTorch reference stack (scripts/bench/reference.py
# pipeline) one after the other on the same GPU and prints both tables and, per stage, our time over
# the reference's (below 1: we are faster) with the reference's over ours beside it.
#
# Usage on the GPU machine (after `source .device/env.sh`; `.whl` carried with the wan22==2.2.11
# wheel and, for --attention_type sla, upstream's SLA package as .whl/SLA):
#   scripts/bench/pipeline_vs_reference.sh --preset wan2.1-1.3b-480p [--attention_type sla] [--num_steps 4] …
# Both sides take --preset, --attention_type, --sla_topk, --quant_linear, --num_steps, --frames,
# --size and --layers. Outputs are kept in $OUT (or a temporary folder) as ours.txt / reference.txt.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-$(mktemp -d)}
if ! python3 -c "import wan" 2>/dev/null && [ ! -d /tmp/site/wan ]; then
    python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/wan22-*.whl
fi
export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}

turbodiffusion bench pipeline --device cuda "$@" | tee "$out/ours.txt"
echo
python3 scripts/bench/reference.py pipeline "$@" | tee "$out/reference.txt"
echo
python3 - "$out/ours.txt" "$out/reference.txt" <<'PY'
import sys

def stages(path):
    rows, skipped, peak = {}, {}, None
    for line in open(path):
        f = line.split()
        if f[:1] == ["STAGE"] and len(f) == 5:
            rows[f[1]] = (float(f[2]), float(f[3]), int(f[4]))
        elif f[:1] == ["SKIP"]:
            skipped[f[1]] = " ".join(f[2:])
        elif f[:2] == ["PEAK", "gemm_tflops"]:
            peak = float(f[2])
    return rows, skipped, peak

ours, _, our_peak = stages(sys.argv[1])
ref, ref_skipped, ref_peak = stages(sys.argv[2])
print(f"GEMM peak: ours {our_peak} TFLOP/s, reference {ref_peak} TFLOP/s")
print(f"{'stage':20} {'ours s':>9} {'ref s':>9} {'ours/ref':>9} {'ref/ours':>9} {'ours GiB':>9} {'ref GiB':>9}  note")
common = [n for n in ours if n in ref and n != "total"]
for name in ours:
    if name == "total":
        continue
    o = ours[name]
    if name not in ref:
        print(f"{name:20} {o[0]:9.3f} {'—':>9} {'—':>9} {'—':>9}  reference: {ref_skipped.get(name, 'no such stage')}")
        continue
    r = ref[name]
    note = "" if abs(o[1] - r[1]) <= 1e-3 * max(o[1], r[1], 1e-12) else f"FLOP counts differ: {o[1]:.3f} vs {r[1]:.3f} TFLOP"
    gib = lambda b: "n/a" if b < 0 else f"{b / 2**30:.2f}"
    print(f"{name:20} {o[0]:9.3f} {r[0]:9.3f} {o[0] / r[0]:9.2f} {r[0] / o[0]:9.2f} {gib(o[2]):>9} {gib(r[2]):>9}  {note}")
to, tr = sum(ours[n][0] for n in common), sum(ref[n][0] for n in common)
print(f"{'total (both ran)':20} {to:9.3f} {tr:9.3f} {to / tr:9.2f} {tr / to:9.2f}")
for name in ref:
    if name not in ours:
        print(f"{name:20} reference only")
PY
echo "outputs in $out"
