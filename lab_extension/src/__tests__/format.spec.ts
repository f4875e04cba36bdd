import { describe, expect, it } from 'vitest';

import cases from '../../../tests/data/format_cases.json';
import {
  formatDuration,
  formatNumber,
  formatStart,
  formatTime,
  gateBadges,
  NO_VALUE,
  runDuration,
  severityClass,
  shortenMiddle,
  statusClass,
  versionLabel
} from '../format';

/**
 * The shared definition: the Python side and the notebook widgets check their
 * formatters against the same file.
 */
const canonical = cases as unknown as {
  duration: [number | null, string][];
  value: [number | string | null, string][];
};

describe('the canonical format cases', () => {
  it('has cases for durations and values', () => {
    expect(canonical.duration.length).toBeGreaterThan(5);
    expect(canonical.value.length).toBeGreaterThan(3);
  });

  it.each(canonical.duration)('formatDuration(%j) is %j', (ms, shown) => {
    expect(formatDuration(ms)).toBe(shown);
  });

  it.each(canonical.value)('formatNumber(%j) is %j', (value, shown) => {
    expect(formatNumber(value)).toBe(shown);
  });
});

describe('formatNumber', () => {
  it.each([
    [0.000123456789, '0.000123457'],
    [0.00001234, '1.234e-05'],
    [123456.7, '123457'],
    [1234567, '1234567'],
    [1234567.5, '1.23457e+06'],
    [-0.5e-7, '-5e-08'],
    [-2.50001, '-2.50001'],
    ['0.5', '0.5'],
    [Number.NaN, NO_VALUE],
    ['', NO_VALUE],
    [undefined, NO_VALUE]
  ])('formatNumber(%j) is %j', (value, shown) => {
    expect(formatNumber(value)).toBe(shown);
  });
});

describe('runDuration', () => {
  it('prefers the server duration, else end minus start, else a dash', () => {
    expect(
      runDuration({ duration_ms: 1500, start_time: 0, end_time: 99_000 })
    ).toBe('1.5 s');
    expect(
      runDuration({ duration_ms: null, start_time: 1000, end_time: 66_000 })
    ).toBe('1 min 5 s');
    expect(
      runDuration({ duration_ms: null, start_time: 1000, end_time: null })
    ).toBe(NO_VALUE);
  });
});

describe('times', () => {
  it('gives the ISO form for tooltips and a dash when unknown', () => {
    expect(formatStart(Date.UTC(2025, 0, 31, 9, 30)).iso).toBe(
      '2025-01-31T09:30:00.000Z'
    );
    expect(formatStart(null)).toEqual({ local: NO_VALUE, iso: '' });
    expect(formatStart(Number.NaN)).toEqual({ local: NO_VALUE, iso: '' });
    expect(formatTime('2025-01-31T09:30:00.123Z').iso).toBe(
      '2025-01-31T09:30:00.123Z'
    );
    expect(formatTime('not a time')).toEqual({ local: NO_VALUE, iso: '' });
    expect(formatTime('')).toEqual({ local: NO_VALUE, iso: '' });
  });
});

describe('labels and classes', () => {
  it('maps statuses and severities to known classes only', () => {
    expect(statusClass('FINISHED')).toBe('nbops-status-finished');
    expect(statusClass('weird')).toBe('nbops-status-unknown');
    expect(statusClass(null)).toBe('nbops-status-unknown');
    expect(severityClass('Critical')).toBe('nbops-severity-critical');
    expect(severityClass('<b>')).toBe('nbops-severity-unknown');
  });

  it('labels versions', () => {
    expect(versionLabel('3')).toBe('v3');
    expect(versionLabel(4)).toBe('v4');
    expect(versionLabel(null)).toBe(NO_VALUE);
  });

  it('shortens a long store in the middle, keeping both ends', () => {
    const store = 'postgresql://mlflow.internal.example:5432/' + 'x'.repeat(40);
    const short = shortenMiddle(store);
    expect(short).toHaveLength(44);
    expect(short.startsWith('postgresql://')).toBe(true);
    expect(short.endsWith('xxxx')).toBe(true);
    expect(short).toContain('…');
    expect(shortenMiddle('sqlite:///a.db')).toBe('sqlite:///a.db');
  });
});

describe('gateBadges', () => {
  it('lists required gates in policy order, then the others sorted', () => {
    const badges = gateBadges(
      { latency: 'passed', zeta: 'failed', alpha: 'error' },
      { champion: ['performance', 'latency'], challenger: ['latency'] }
    );
    expect(badges).toEqual([
      {
        gate: 'performance',
        state: 'missing',
        requiredFor: ['champion']
      },
      {
        gate: 'latency',
        state: 'passed',
        requiredFor: ['champion', 'challenger']
      },
      { gate: 'alpha', state: 'error', requiredFor: [] },
      { gate: 'zeta', state: 'failed', requiredFor: [] }
    ]);
  });

  it('shows an unknown verdict as unknown, and nothing for nothing', () => {
    expect(gateBadges({ odd: 'maybe' }, null)[0].state).toBe('unknown');
    expect(gateBadges(null, undefined)).toEqual([]);
  });
});
