/** Built-in synthetic multimodal preference data, dataset files, prompts and R1-Reward's data format. See README.md here. */
export { Rng, hashSeed } from './rng';
export type { Seed } from './rng';
export {
  SHAPE_KINDS,
  DEFAULT_KINDS,
  COLOURS,
  COLOUR_RGB,
  DEFAULT_COLOURS,
  DIRECTIONS,
  validateScene,
  randomScene,
  cellName,
  parseCellName,
  objectAt,
  countMatching,
  sceneCaption,
  CAPTION_PROMPT,
} from './scene';
export type { Scene, SceneObject, ShapeKind, Colour, Filter, Direction } from './scene';
export { CATEGORIES, questionText, questionCategory, parseQuestion, answerQuestion, answerQuestionText } from './questions';
export type { Category, Question, Answer } from './questions';
export { claimText, parseClaim, parseResponse, claimHolds, checkResponse } from './claims';
export type { Claim, ResponseCheck } from './claims';
export {
  LEVELS,
  LEVEL_IDS,
  DEFAULT_LEVELS,
  DEFAULT_BUDGETS,
  levelCategories,
  generateSample,
  teacherAnalysis,
  teacherReasoning,
  teacherOutput,
} from './generate';
export type { Level, LevelSpec, EditOp, GeneratorOptions, SampleSpec, SynthSample } from './generate';
export { renderScene, renderScenePng, encodePng, decodeImage, cellCentrePixel, insideShape, BACKGROUND_RGB, DEFAULT_IMAGE_SIZE, PREVIEW_SIZE } from './render';
export type { RgbImage, RenderOptions } from './render';
// The prompt builders live in lib/eval/prompt.ts (one prompt module); lib/data has always exported them too.
export { buildR1Prompt, parseR1Prompt, buildCompactPrompt, buildStyledPrompt as buildPrompt } from '../eval/prompt';
export type { PromptStyle } from '../eval/prompt';
export { SPLITS, validateRow, validateSyntheticRow, orderRow, parseJsonl, readJsonl, writeJsonl, readRows, writeRows, imagePath, splitFile } from './io';
export type { PreferenceRow, SyntheticRow, Split } from './io';
export { toR1Row, fromR1Row, readR1Jsonl, writeR1Jsonl } from './r1-format';
export type { R1RewardRow, ToR1Options } from './r1-format';
export { synthesize, writeSynthetic, resolveSynthOptions, testSize, labelCounts } from './synth';
export type { SynthOptions, ResolvedSynthOptions, SynthDataset, SynthSummary, WriteSynthOptions } from './synth';
export { verifySyntheticRow, imageMismatch } from './verify';
export type { RowVerdict } from './verify';
