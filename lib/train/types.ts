/**
 * What a training run produces, as the phases (phases/*.ts) hand it on, the checkpoint carries it and
 * summary.json and the report (lib/report) read it.
 */
import type { EffectiveRl } from './config';
import type { AccuracySummary, VisionSummary, VotingSummary } from './evaluate';
import type { PairedChange } from './summary';

/** One greedy test evaluation (evals/<tag>.json). */
export interface EvalRecord {
  tag: string;
  stage: 'sft' | 'rl';
  step: number;
  globalStep: number;
  summary: AccuracySummary;
}

export interface DifficultySummary {
  histogram: Record<number, number>;
  hard: number;
  total: number;
}

/** The results a run carries from phase to phase (and across resumes, in the checkpoint state). */
export interface Results {
  evals: EvalRecord[];
  skippedUpdates: number;
  stage1?: AccuracySummary;
  vision?: VisionSummary;
  difficulty?: DifficultySummary;
  rlPool?: { size: number; fallback: boolean };
  rewardJudge?: Record<string, number | string>;
  stage2?: AccuracySummary;
  voting?: VotingSummary;
}

/** summary.json. */
export interface RunSummary {
  out: string;
  preset: string;
  seed: number;
  algo: string;
  /** The algorithm's switches and baseline as the run used them (config.ts effectiveRl). */
  switches: EffectiveRl;
  device: { requested: string; model: string };
  data: { dir: string; train: number; test: number; dropped: { train: number; test: number } };
  sftSteps: number;
  rlSteps: number;
  stage1: AccuracySummary;
  /** Caption test of the stage-1 model (null: no vision warm-up, or data without scenes). */
  vision: VisionSummary | null;
  stage2: AccuracySummary | null;
  /** blindSpots: where data.teacherSlip's teacher misreads (absent in runs from before it; null without one). */
  change: { overall: PairedChange | null; hard: PairedChange | null; blindSpots?: PairedChange | null };
  evals: EvalRecord[];
  difficulty: DifficultySummary | null;
  rlPool: { size: number; fallback: boolean } | null;
  voting: VotingSummary | null;
  rewardJudge: Record<string, number | string>;
  skippedUpdates: number;
  seconds: Record<string, number>;
  lines: string[];
  finishedAt: string;
}
