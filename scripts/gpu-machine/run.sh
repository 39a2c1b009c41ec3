#!/bin/bash
# On the GPU machine (see prepare.sh): unpack, then, most important first so that what a cut
# loses is the least needed: the adapter, the GPU op tests (and the optimizer split over storage
# bindings), the GEMM tiling sweep, the readback probe, the conv GEMMs' tiles (trimmed, untrimmed, 4×4, 8×8), `npm run train`,
# the Node bench (autotuned, which fills
# autotune's cache) against TF.js webgpu (reference as ground truth only), and what autotune
# picks. Logs and the bench's JSON come back in $OUT/logs.tgz.
#
# NOTE: the device tool kills a command at 600 s, and what was cut is lost with its log's
# tail. Everything here, unpacking included, ends by END (560 s after the start, leaving the
# summary at the end and a margin inside 575 s): each step gets at most its cap, and at most
# what is left before END; a step with under 10 s left is skipped and says so. The caps come
# to 525 s, and unpacking and the adapter probe to ~30 s; where those run long, the last steps
# get less.
cd "$(dirname "$0")/../.."
T0=$(date +%s); END=$((T0 + 560))
el() { echo "=== [$(( $(date +%s) - T0 )) s] $*"; }
# step CAP LOG CMD…: CMD under `timeout` for CAP seconds, or what is left before END if less, output into LOG.
step() {
  local cap=$1 log=$2; shift 2
  LEFT=$(( END - $(date +%s) ))
  if (( LEFT < 10 )); then el "skipped (${LEFT} s left before END): $*" | tee "$log"; pack; return 0; fi
  (( LEFT > cap )) && LEFT=$cap
  el "${LEFT} s: $*"
  timeout -k 5 "$LEFT" "$@" > "$log" 2>&1
  local rc=$?; (( rc == 124 )) && el "cut at ${LEFT} s: $*" | tee -a "$log"
  pack; return 0
}
source scripts/gpu-machine/unpack.sh
# The logs live in $L and travel back as one archive, refreshed after each step (the device tool
# returns at most 8 files, and a cut run keeps what the steps before it wrote).
OUT=${OUT:-/tmp/out}; L=/tmp/gpu-logs; mkdir -p "$OUT" "$L"
pack() { tar czf "$OUT/part.tgz" -C "$L" . && mv "$OUT/part.tgz" "$OUT/logs.tgz"; }
el unpacked
{ timeout 10 nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv
  timeout 15 python3 -c "import torch;print('SMs', torch.cuda.get_device_properties(0).multi_processor_count)" 2>&1 | tail -1
  timeout 20 $TSX scripts/gpu-machine/probe.ts 2>&1; } | tee "$L/gpu.txt"
SMS=$(grep -o 'SMs [0-9]*' "$L/gpu.txt" | cut -d' ' -f2); CLK=$(timeout 10 nvidia-smi --query-gpu=clocks.max.sm --format=csv,noheader,nounits | head -1)
PEAK=$(python3 -c "print(round(${SMS:-132}*128*2*${CLK:-1980}/1e6,1))") # fp32 FMA lanes: 128 per SM (Hopper, Ampere)
echo "fp32 peak $PEAK TFLOP/s" | tee -a "$L/gpu.txt"; pack
step 160 "$L/tests.log" node node_modules/vitest/vitest.mjs run tests/ops.test.ts tests/errors.test.ts tests/autotune.test.ts tests/reliability.test.ts tests/batchnorm.test.ts tests/optimizer.test.ts
step 120 "$L/sweep.log" $TSX bench/gemm-sweep.ts --sizes 1024,2048,4096 --reps 9 --peak "$PEAK" --json "$L/sweep.json"
step 30 "$L/readback.log" $TSX scripts/gpu-machine/readback.ts
step 25 "$L/convtile.log" $TSX scripts/gpu-machine/convtile.ts
step 30 "$L/train.log" $TSX src/cli/train.ts --json
# The bench stops itself at its --time-limit (no new cell in the last quarter) and writes what
# it has; its step's limit is 10 s more, for that. (A full H100 run took 44 s.)
B=$(( END - $(date +%s) )); (( B > 120 )) && B=120
step "$B" "$L/bench.log" $TSX bench/run.ts --node --no-build --gpu --tfjs webgpu --ref-truth-only --no-readme --autotune --out "$L" --time-limit $(( B > 20 ? B - 10 : 10 ))
step 40 "$L/autotune.log" $TSX bench/kernels.ts --autotune --only gemm --sizes 1024,2048,4096
el done
grep -A13 "kernel variant" "$L/sweep.log"; grep -c WRONG "$L/sweep.log"; head -c 600 "$L/autotune.log"; grep GFLOP "$L/autotune.log"; tail -10 "$L/readback.log"; grep "^conv" "$L/convtile.log"; grep "^| " "$L/bench.log" | head -21; grep -E "Tests |Test Files" "$L/tests.log"; tail -4 "$L/train.log"
