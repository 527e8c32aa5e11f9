/** Tolerance checks of kernel outputs against float64 references, with useful failure messages. */
import { seedNote } from './random';

// Globals bound once: inside jest's sandbox each global lookup in a hot loop is slow.
const { abs } = Math;
const isNaN = Number.isNaN;
const isFinite = Number.isFinite;

export interface Tolerance {
  rtol: number;
  atol: number;
}

/** f32 kernels computed in f32: a few ulp per operation. */
export const F32: Tolerance = { rtol: 2e-5, atol: 1e-6 };
/** bf16 inputs, f32 accumulation: the inputs are exact in the reference, so f32 tolerance applies. */
export const BF16_INPUT: Tolerance = { rtol: 5e-5, atol: 1e-5 };

/**
 * Asserts |actual - expected| <= atol + rtol * |expected| elementwise. NaN must
 * match NaN and infinities must match exactly.
 */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance, what: string): void {
  if (actual.length !== expected.length) {
    throw new Error(`${what}: length ${actual.length} != expected ${expected.length} ${seedNote}`);
  }
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (isNaN(e) || isNaN(a)) {
      if (isNaN(e) !== isNaN(a)) throw new Error(`${what}[${i}]: got ${a}, expected ${e} ${seedNote}`);
      continue;
    }
    if (!isFinite(e) || !isFinite(a)) {
      if (a !== e) throw new Error(`${what}[${i}]: got ${a}, expected ${e} ${seedNote}`);
      continue;
    }
    const excess = abs(a - e) - (tol.atol + tol.rtol * abs(e));
    if (excess > worstExcess) {
      worstExcess = excess;
      worst = i;
    }
  }
  if (worst >= 0) {
    throw new Error(
      `${what}[${worst}]: got ${actual[worst]}, expected ${expected[worst]} ` +
        `(|diff| ${abs(actual[worst] - expected[worst]).toExponential(3)} > atol ${tol.atol} + rtol ${tol.rtol} * |expected|) ${seedNote}`,
    );
  }
}

export function expectScalarClose(actual: number, expected: number, tol: Tolerance, what: string): void {
  expectClose([actual], [expected], tol, what);
}
