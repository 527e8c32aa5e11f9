import { appendSection } from '../../scripts/bench-reward-service';

describe('bench/RESULTS.md: the reward service section', () => {
  it('creates the section in an empty or foreign file, keeping what is there', () => {
    expect(appendSection('', '### run 1\nx\n')).toBe('## Reward service\n\n### run 1\nx\n');
    expect(appendSection('# Results\n\n## Kernels\n\nk1\n', '### run 1\n')).toBe('# Results\n\n## Kernels\n\nk1\n\n## Reward service\n\n### run 1\n');
  });

  it('appends at the end of its own section, before the next section', () => {
    const file = '# Results\n\n## Reward service\n\n### run 1\na\n\n## Kernels\n\nk1\n';
    const out = appendSection(file, '### run 2\nb\n');
    expect(out).toBe('# Results\n\n## Reward service\n\n### run 1\na\n\n### run 2\nb\n\n## Kernels\n\nk1\n');
    const o3 = appendSection(out, '### run 3\n');
    expect(o3.indexOf('### run 2')).toBeLessThan(o3.indexOf('### run 3'));
    expect(o3.indexOf('### run 3')).toBeLessThan(o3.indexOf('## Kernels'));
    expect(o3).toContain('## Kernels\n\nk1\n');
  });
});
