#!/bin/bash
# On the GPU machine (see prepare.sh): unpack, then the adapter, the GEMM tiling sweep, what autotune picks, the readback probe, the Node
# bench (autotuned, from the cache the step before fills) against TF.js webgpu (reference as ground truth only), the GPU op tests and the
# optimizer split over storage bindings. Logs and the
# bench's JSON land in $OUT (the device tool brings them back).
cd "$(dirname "$0")/../.."
T0=$(date +%s); touch /tmp/t0
el() { echo "=== [$(( $(date +%s) - T0 )) s] $*"; }
for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
xz -dc .dev/node.xz > /usr/local/bin/node && chmod +x /usr/local/bin/node
mkdir -p node_modules && tar xJf .dev/nm.tar.xz -C node_modules
mkdir -p node_modules/webgpu/dist/linux-x64 && xz -dc .dev/dawn.xz > node_modules/webgpu/dist/linux-x64/dawn.node
ICD=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f $ICD ] && export VK_DRIVER_FILES=$ICD VK_ICD_FILENAMES=$ICD
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
el unpacked
{ nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv
  python3 -c "import torch;print('SMs', torch.cuda.get_device_properties(0).multi_processor_count)" 2>&1 | tail -1
  timeout 40 node --import ./scripts/register.mjs scripts/gpu-machine/probe.ts 2>&1; } | tee "$OUT/gpu.txt"
SMS=$(grep -o 'SMs [0-9]*' "$OUT/gpu.txt" | cut -d' ' -f2); CLK=$(nvidia-smi --query-gpu=clocks.max.sm --format=csv,noheader,nounits | head -1)
PEAK=$(python3 -c "print(round(${SMS:-132}*128*2*${CLK:-1980}/1e6,1))") # fp32 FMA lanes: 128 per SM (Hopper, Ampere)
echo "fp32 peak $PEAK TFLOP/s" | tee -a "$OUT/gpu.txt"
el sweep
timeout 150 node --import ./scripts/register.mjs bench/gemm-sweep.ts --sizes 1024,2048,4096 --reps 9 --peak "$PEAK" --json "$OUT/sweep.json" > "$OUT/sweep.log" 2>&1
el autotune
timeout 40 node --import ./scripts/register.mjs bench/kernels.ts --autotune --only gemm --sizes 1024,2048,4096 > "$OUT/autotune.log" 2>&1
el readback
timeout 40 node --import ./scripts/register.mjs scripts/gpu-machine/readback.ts > "$OUT/readback.log" 2>&1
el bench
timeout 180 node --import ./scripts/register.mjs bench/run.ts --node --no-build --gpu --tfjs webgpu --ref-truth-only --no-readme --autotune --time-limit 170 > "$OUT/bench.log" 2>&1
find bench/results -newer /tmp/t0 -name "*nvidia*" -exec cp {} "$OUT/" \;
el tests
timeout 150 node node_modules/vitest/vitest.mjs run tests/ops.test.ts tests/errors.test.ts tests/autotune.test.ts tests/reliability.test.ts tests/batchnorm.test.ts tests/optimizer.test.ts > "$OUT/tests.log" 2>&1
el done
grep -A13 "kernel variant" "$OUT/sweep.log"; grep -c WRONG "$OUT/sweep.log"; head -c 600 "$OUT/autotune.log"; grep GFLOP "$OUT/autotune.log"; tail -10 "$OUT/readback.log"; grep "^| " "$OUT/bench.log" | head -21; grep -E "Tests |Test Files" "$OUT/tests.log"
