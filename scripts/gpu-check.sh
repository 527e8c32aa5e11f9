#!/usr/bin/env bash
# One call on a GPU machine: every CUDA test, compute-sanitizer over the kernel tests, and the kernel benchmarks
# (with PyTorch eager and torch.compile as baselines), then the built-in model on CUDA (its tests against the CPU,
# compute-sanitizer over a subset, the model benchmark), logs under $OUT (or ./gpu-check-out).
# Prepare here (no GPU needed):  npm run build && bash /work/shared/device/pack-node.sh   (puts node in .device/)
# Run there, carrying build, dist, node_modules and .device:   bash scripts/gpu-check.sh
# GPU_CHECK_SECTIONS="model" (or "kernels") runs one part only; default: both.
set -uo pipefail
out="${OUT:-$PWD/gpu-check-out}"
sections=" ${GPU_CHECK_SECTIONS:-kernels model} "
mkdir -p "$out"
[ -f .device/unpack-node.sh ] && . .device/unpack-node.sh
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
node -e "console.log(JSON.stringify(require('./dist/lib').backends(), null, 1))" | tee "$out/backends.json"

if [[ "$sections" == *" kernels "* ]]; then
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
fi

if [[ "$sections" == *" model "* ]]; then
  # The model's CUDA path (native/model/ops/*/*_cuda.cu) had never run before this section's first results:
  # read jest-model.log first (CUDA vs CPU per op and for the whole model), then the sanitizer logs.
  echo "== model on CUDA: op-level GEMM, whole model vs the CPU, entropy gradient (all of test/model)"
  npx jest --ci test/model 2>&1 | tee "$out/jest-model.log" | tail -60

  echo "== compute-sanitizer on the model (GEMM op test; one odd-sized config of the model test)"
  if command -v compute-sanitizer >/dev/null; then
    for tool in memcheck racecheck; do
      compute-sanitizer --tool "$tool" --error-exitcode 9 $([ "$tool" = memcheck ] && echo --leak-check none) \
        node node_modules/jest/bin/jest.js --ci -i test/model/model-matmul.test.ts test/model/cuda-model.test.ts \
        -t "matmul.*\[cuda\]|fixed odd sizes \(tf32\)" 2>&1 | tee "$out/sanitizer-model-$tool.log" | tail -15
      echo "compute-sanitizer $tool (model) exit: ${PIPESTATUS[0]}"
    done
  else
    echo "compute-sanitizer not found" | tee "$out/sanitizer-model-memcheck.log"
  fi

  echo "== model benchmark on CUDA (native TF32 vs PyTorch eager on the GPU when torch has CUDA)"
  node dist/scripts/bench-model.js --device cuda 2>&1 | tee "$out/bench-model.log" | tail -20
fi
cp bench/RESULTS.md "$out/RESULTS.md" 2>/dev/null || true
