/**
 * Re-derives a synthetic row's label from its scene alone: parse the
 * question, recompute the true answer, re-check both responses sentence by
 * sentence, and re-derive the teacher text. Used by `data verify` and the tests.
 */
import { checkResponse } from './claims';
import { teacherAnalysis, teacherOutput } from './generate';
import type { SyntheticRow } from './io';
import { validateSyntheticRow } from './io';
import { Answer, parseQuestion, answerQuestion, questionCategory } from './questions';
import { BACKGROUND_RGB, RgbImage, cellCentrePixel } from './render';
import { COLOUR_RGB, Scene, objectAt } from './scene';

export type RowVerdict = { ok: true; truth: Answer } | { ok: false; reason: string };

export function verifySyntheticRow(value: unknown, where = 'row'): RowVerdict {
  let row: SyntheticRow;
  let truth: Answer;
  try {
    row = validateSyntheticRow(value, where);
    const q = parseQuestion(row.scene.grid, row.question);
    if (questionCategory(q) !== row.category)
      return { ok: false, reason: `${where}: category is ${row.category} but the question is a ${questionCategory(q)} question` };
    truth = answerQuestion(row.scene, q);
    const checks = [checkResponse(row.scene, q, row.response1), checkResponse(row.scene, q, row.response2)];
    const right = checks.map((c) => c.correct);
    if (right[0] === right[1]) return { ok: false, reason: `${where}: ${right[0] ? 'both responses are' : 'neither response is'} correct about the scene` };
    const label = right[0] ? 1 : 2;
    if (label !== row.label) return { ok: false, reason: `${where}: label is ${row.label} but the scene makes response ${label} the correct one` };
    const expected = teacherOutput(teacherAnalysis(row.scene, q, [row.response1, row.response2], label), label);
    if (row.teacher !== expected) return { ok: false, reason: `${where}: teacher text differs from the analysis the scene implies` };
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
  return { ok: true, truth };
}

/**
 * Does the image show the scene? Every cell's centre pixel must be its
 * object's colour (or the background for an empty cell). Returns the first
 * mismatch, or undefined.
 */
export function imageMismatch(scene: Scene, img: RgbImage): string | undefined {
  if (img.width !== img.height) return `image is ${img.width}x${img.height}, not square`;
  for (let row = 0; row < scene.grid; row++) {
    for (let col = 0; col < scene.grid; col++) {
      const { x, y } = cellCentrePixel(img.width, scene.grid, row, col);
      const i = (y * img.width + x) * 3;
      const got = [img.data[i], img.data[i + 1], img.data[i + 2]];
      const o = objectAt(scene, row, col);
      const want = o ? COLOUR_RGB[o.colour] : BACKGROUND_RGB;
      if (got[0] !== want[0] || got[1] !== want[1] || got[2] !== want[2]) {
        return `cell (${row}, ${col}) centre is rgb(${got.join(', ')}), expected ${o ? o.colour : 'background'} rgb(${want.join(', ')})`;
      }
    }
  }
  return undefined;
}
