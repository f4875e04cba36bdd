/**
 * Polling with back-off: every `interval` seconds while something changes,
 * slower (doubling, up to `maxFactor` × the interval) while nothing does or
 * while the server fails, and back to the interval on a change or a nudge.
 */

import { RefreshOutcome } from './paged';

export class Poller {
  constructor(options: Poller.IOptions) {
    this._tick = options.tick;
    this._interval = Math.max(0, options.interval);
    this._maxFactor = options.maxFactor ?? Poller.DEFAULT_MAX_FACTOR;
    this._delay = this._interval * 1000;
  }

  /**
   * Seconds between polls while data changes; 0 stops polling.
   */
  get interval(): number {
    return this._interval;
  }

  set interval(seconds: number) {
    this._interval = Math.max(0, seconds);
    this._delay = this._interval * 1000;
    if (this._running) {
      this._schedule();
    }
  }

  /**
   * The delay before the next poll, in milliseconds (0 when not scheduled).
   */
  get delay(): number {
    return this._timer === null ? 0 : this._delay;
  }

  get isRunning(): boolean {
    return this._running;
  }

  /**
   * Start polling (the first poll after one interval).
   */
  start(): void {
    this._running = true;
    this._schedule();
  }

  /**
   * Stop polling; `start()` resumes.
   */
  stop(): void {
    this._running = false;
    this._clear();
  }

  /**
   * Something probably changed (a notebook ran a cell, the user acted): back
   * to the shortest delay.
   */
  nudge(): void {
    this._delay = this._interval * 1000;
    if (this._running) {
      this._schedule();
    }
  }

  /**
   * Account for a refresh made outside the poller (e.g. the Refresh button).
   */
  record(outcome: RefreshOutcome): void {
    const base = this._interval * 1000;
    if (outcome === 'changed') {
      this._delay = base;
    } else {
      this._delay = Math.min(
        Math.max(this._delay, base) * 2,
        base * this._maxFactor
      );
    }
  }

  dispose(): void {
    this.stop();
  }

  private _schedule(): void {
    this._clear();
    if (!this._running || this._interval <= 0) {
      return;
    }
    this._timer = setTimeout(() => {
      this._timer = null;
      void this._run();
    }, this._delay);
  }

  private async _run(): Promise<void> {
    let outcome: RefreshOutcome | null;
    try {
      outcome = await this._tick();
    } catch {
      outcome = 'error';
    }
    if (outcome !== null) {
      this.record(outcome);
    }
    if (this._running && this._timer === null) {
      this._schedule();
    }
  }

  private _clear(): void {
    if (this._timer !== null) {
      clearTimeout(this._timer);
      this._timer = null;
    }
  }

  private _tick: () => Promise<RefreshOutcome | null>;
  private _interval: number;
  private _maxFactor: number;
  private _delay: number;
  private _running = false;
  private _timer: ReturnType<typeof setTimeout> | null = null;
}

export namespace Poller {
  export interface IOptions {
    /** One poll; null when it was skipped (e.g. the page is hidden). */
    tick: () => Promise<RefreshOutcome | null>;
    /** Seconds between polls while data changes; 0 disables polling. */
    interval: number;
    /** The longest delay, as a multiple of the interval. */
    maxFactor?: number;
  }

  export const DEFAULT_MAX_FACTOR = 8;
}
