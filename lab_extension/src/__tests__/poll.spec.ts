import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { RefreshOutcome } from '../paged';
import { Poller } from '../poll';

/**
 * A poller whose ticks answer `outcome`, counted.
 */
function poller(interval: number, outcome: () => RefreshOutcome | null) {
  const ticks = { count: 0 };
  const instance = new Poller({
    interval,
    tick: async () => {
      ticks.count++;
      return outcome();
    }
  });
  return { poller: instance, ticks };
}

describe('Poller', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it('polls every interval while data changes', async () => {
    const { poller: p, ticks } = poller(10, () => 'changed');
    p.start();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(ticks.count).toBe(1);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(ticks.count).toBe(3);
    expect(p.delay).toBe(10_000);
    p.dispose();
  });

  it('backs off, doubling up to 8 times the interval, while nothing changes', async () => {
    const { poller: p } = poller(10, () => 'same');
    p.start();
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      await vi.advanceTimersByTimeAsync(p.delay);
      delays.push(p.delay);
    }
    expect(delays).toEqual([20_000, 40_000, 80_000, 80_000, 80_000]);
    p.dispose();
  });

  it('backs off on errors too, and a failing tick counts as one', async () => {
    const p = new Poller({
      interval: 1,
      tick: () => Promise.reject(new Error('down'))
    });
    p.start();
    await vi.advanceTimersByTimeAsync(1000);
    expect(p.delay).toBe(2000);
    p.dispose();
  });

  it('goes back to the interval on a nudge or a recorded change', async () => {
    const { poller: p } = poller(10, () => 'same');
    p.start();
    await vi.advanceTimersByTimeAsync(10_000);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(p.delay).toBe(40_000);
    p.nudge();
    expect(p.delay).toBe(10_000);
    p.record('same');
    expect(p.delay).toBe(20_000);
    p.record('changed');
    expect(p.delay).toBe(10_000);
    p.dispose();
  });

  it('does not count a skipped tick', async () => {
    const { poller: p, ticks } = poller(10, () => null);
    p.start();
    await vi.advanceTimersByTimeAsync(30_000);
    expect(ticks.count).toBe(3);
    expect(p.delay).toBe(10_000);
    p.dispose();
  });

  it('stops, resumes, and never polls with an interval of 0', async () => {
    const { poller: p, ticks } = poller(10, () => 'changed');
    p.start();
    p.stop();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(ticks.count).toBe(0);
    expect(p.isRunning).toBe(false);
    p.start();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(ticks.count).toBe(1);
    p.interval = 0;
    await vi.advanceTimersByTimeAsync(600_000);
    expect(ticks.count).toBe(1);
    expect(p.delay).toBe(0);
    p.interval = 5;
    await vi.advanceTimersByTimeAsync(5000);
    expect(ticks.count).toBe(2);
    p.dispose();
  });
});
