// Swapped copies of training pairs (rl.swapAugment's pool).
import { swappedRow, withSwapped, type TrainRow } from '../../lib/train/dataset';

function row(i: number, label: 1 | 2): TrainRow {
  return {
    id: `r${i}`,
    index: i,
    image: `images/r${i}.png`,
    question: `q${i}`,
    response1: `a${i}`,
    response2: `b${i}`,
    label,
    difficulty: 3,
    teacher: `<think>t${i}</think><answer>${label}</answer>`,
  } as TrainRow;
}

describe('swapped rows', () => {
  test('the responses are exchanged, the label flips, the index stays, the teacher text goes', () => {
    const s = swappedRow(row(7, 2));
    expect(s).toMatchObject({ id: 'r7:swapped', index: 7, question: 'q7', response1: 'b7', response2: 'a7', label: 1 });
    expect(s).not.toHaveProperty('teacher');
    expect(swappedRow(row(3, 1)).label).toBe(2);
  });

  test('withSwapped: each row then its copy, so the pool answers 1 and 2 equally often', () => {
    const rows = [row(0, 1), row(1, 1), row(2, 2)];
    const out = withSwapped(rows);
    expect(out.map((r) => r.id)).toEqual(['r0', 'r0:swapped', 'r1', 'r1:swapped', 'r2', 'r2:swapped']);
    expect(out.filter((r) => r.label === 1)).toHaveLength(3);
    expect(withSwapped([])).toEqual([]);
  });
});
