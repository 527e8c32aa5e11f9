#!/usr/bin/env bash
# One call on a GPU machine: every CUDA test, compute-sanitizer over the kernel tests, and the kernel benchmarks
# (with PyTorch eager and torch.compile as baselines), logs under $OUT (or ./gpu-check-out).
# Prepare here (no GPU needed):  npm run build && bash /work/shared/device/pack-node.sh   (puts node in .device/)
# Run there, carrying build, dist, node_modules and .device:   bash scripts/gpu-check.sh
set -uo pipefail
out="${OUT:-$PWD/gpu-check-out}"
mkdir -p "$out"
[ -f .device/unpack-node.sh ] && . .device/unpack-node.sh
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
node -e "console.log(JSON.stringify(require('./dist/lib').backends(), null, 1))" | tee "$out/backends.json"

echo "== CUDA tests (all suites; CUDA cases run because a GPU is usable)"
npx jest --ci test/kernels test/core 2>&1 | tee "$out/jest.log" | tail -40

echo "== compute-sanitizer (memcheck) on the kernel tests"
if command -v compute-sanitizer >/dev/null; then
  compute-sanitizer --tool memcheck --leak-check none --error-exitcode 9 \
    node node_modules/jest/bin/jest.js --ci -i test/kernels 2>&1 | tee "$out/sanitizer.log" | tail -15
  echo "compute-sanitizer exit: ${PIPESTATUS[0]}"
else
  echo "compute-sanitizer not found" | tee "$out/sanitizer.log"
fi

echo "== benchmarks"
node dist/scripts/bench-kernels.js --device all --min-seconds 0.3 2>&1 | tee "$out/bench.log" | tail -40
cp bench/RESULTS.md "$out/RESULTS.md" 2>/dev/null || true
