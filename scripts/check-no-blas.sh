#!/usr/bin/env bash
# Proves the addon needs no BLAS: with every BLAS library and header the loader or compiler could find hidden
# (a private mount namespace; needs root, as in CI), it builds the addon CPU-only into build-noblas/, checks
# that `ldd` names no BLAS, and trains the built-in model a few steps (forward, backward, AdamW) with it.
# Usage (from the project root, after npm ci): scripts/check-no-blas.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null; then
  echo "check-no-blas: SKIPPED: hiding system libraries needs root and unshare (CI runs it as root)"
  exit 0
fi
if [ "${SR_NO_BLAS_INSIDE:-}" != 1 ]; then
  exec unshare --mount --propagation private env SR_NO_BLAS_INSIDE=1 bash "$0" "$@"
fi

# Inside the namespace: hide BLAS files (/dev/null over them; before the folders, while their links resolve),
# then BLAS folders (tmpfs over them).
hidden=0
while IFS= read -r f; do mount --bind /dev/null "$f" 2>/dev/null && hidden=$((hidden + 1)) || true; done < <(
  find /usr/lib /usr/lib64 /usr/local/lib /usr/include /usr/local/include /lib -maxdepth 3 \( -type f -o -type l \) \
    \( -iname 'lib*blas*' -o -iname 'cblas*.h' -o -iname '*blas*.pc' \) 2>/dev/null || true)
while IFS= read -r d; do mount -t tmpfs none "$d" && hidden=$((hidden + 1)); done < <(
  find /usr/lib /usr/lib64 /usr/local/lib /usr/include /usr/local/include -maxdepth 3 -type d -iname '*blas*' 2>/dev/null || true)
echo "check-no-blas: hid $hidden BLAS paths"

export STABLE_REINFORCE_NATIVE=build-noblas/Release/stable_reinforce.node
node node_modules/cmake-js/bin/cmake-js compile --CDSR_CUDA=OFF --log-level warn -O build-noblas
if ldd "$STABLE_REINFORCE_NATIVE" | grep -i blas; then
  echo "check-no-blas: FAILED: the addon links a BLAS library" >&2
  exit 1
fi
node -e '
const { backends, PolicyModel, AdamW, MODEL_PRESETS, meanNllGradient } = require("./dist/lib");
(async () => {
  const gemm = backends().cpu.gemm;
  if (gemm.openblas.available) throw new Error("OpenBLAS is still loadable: " + gemm.openblas.path);
  const model = PolicyModel.create(MODEL_PRESETS.tiny, { seed: 1 });
  const opt = new AdamW(model, { lr: 1e-2 });
  const image = Float32Array.from({ length: 16 * 16 * 3 }, (_, i) => (i % 7) / 7);
  const batch = [{ image, prompt: "Q: colour?\n", response: "red" }];
  const losses = [];
  for (let s = 0; s < 5; s++) {
    const lp = await model.logprobs(batch);
    const { loss, grad } = meanNllGradient(lp);
    await model.backward(grad);
    opt.step();
    model.zeroGrad();
    losses.push(loss);
  }
  if (!losses.every(Number.isFinite) || !(losses[4] < losses[0])) throw new Error("training did not reduce the loss: " + losses);
  console.log(`check-no-blas: OK (kernel ${gemm.kernel}, ${gemm.openblas.reason ? "OpenBLAS not loadable" : ""}; loss ${losses[0].toFixed(3)} -> ${losses[4].toFixed(3)})`);
})().catch((e) => { console.error("check-no-blas: FAILED:", e.message); process.exit(1); });
'
