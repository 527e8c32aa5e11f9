/**
 * The subcommands of `stable-reinforce`. To add one, write lib/cli/commands/<name>.ts exporting `usage`
 * and `run` (see ../types.ts), then add ONE line below.
 */
import type { CommandEntry } from '../types';

export const COMMANDS: CommandEntry[] = [
  { name: 'data', summary: 'draw the built-in synthetic data; verify it; convert to/from R1-Reward format', load: () => import('./data') },
  { name: 'eval', summary: 'score a reward model on a benchmark (Voting@k, swap, report.html)', load: () => import('./eval') },
  { name: 'train', summary: 'two-stage R1-Reward training: SFT cold start, difficulty, StableReinforce, report', load: () => import('./train') },
  { name: 'pretrain', summary: 'pretrain the built-in backbone (captions, recall, VQA, answer checks); export it', load: () => import('./pretrain') },
  { name: 'report', summary: 'HTML + PNG report of one or several training runs (ablation overlays)', load: () => import('./report') },
  { name: 'serve', summary: 'HTTP reward service: OpenRLHF /get_reward, /score, /health', load: () => import('./serve') },
];
