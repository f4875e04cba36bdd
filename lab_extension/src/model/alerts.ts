/**
 * The Alerts section: open alerts (most severe, then newest, first) and the
 * resolved ones (newest first, shown a few at a time). Refreshed while folded
 * too: the section's title shows how many are open.
 */

import { ISignal, Signal } from '@lumino/signaling';

import { IAlert } from '../api';
import { RefreshOutcome } from '../paged';
import { describeError, IErrorInfo } from './errors';
import { ISectionHost, ISectionModel } from './section';

/**
 * Resolved alerts shown at first, and added by each "Show more".
 */
export const RESOLVED_ALERTS_STEP = 10;

export class AlertsModel implements ISectionModel {
  constructor(host: ISectionHost) {
    this._host = host;
  }

  readonly id = 'alerts';
  readonly openByDefault = true;
  readonly alwaysRefresh = true;
  readonly leads = false;

  get changed(): ISignal<ISectionModel, void> {
    return this._changed;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  get open(): IAlert[] {
    return this._alerts.open;
  }

  get resolved(): IAlert[] {
    return this._alerts.resolved;
  }

  get loaded(): boolean {
    return this._loaded;
  }

  get refreshing(): boolean {
    return this._refreshing;
  }

  get error(): IErrorInfo | null {
    return this._error;
  }

  /**
   * How many resolved alerts are shown.
   */
  get resolvedShown(): number {
    return this._resolvedShown;
  }

  /**
   * The alerts (open, then resolved) of one version: their thresholds are
   * drawn on its charts.
   */
  forVersion(model: string, version: string): IAlert[] {
    return [...this._alerts.open, ...this._alerts.resolved].filter(
      alert => alert.model === model && String(alert.version) === version
    );
  }

  /**
   * Show more of the resolved alerts.
   */
  showMoreResolved(): void {
    this._resolvedShown += RESOLVED_ALERTS_STEP;
    this._changed.emit();
  }

  async refresh(): Promise<RefreshOutcome> {
    const generation = this._generation;
    this._refreshing = true;
    try {
      const [open, resolved] = await Promise.all([
        this._host.api.alerts('open'),
        this._host.api.alerts('resolved')
      ]);
      if (generation !== this._generation) {
        return 'same';
      }
      const next = {
        open: sortAlerts(open ?? [], 'opened_at'),
        resolved: sortAlerts(resolved ?? [], 'resolved_at')
      };
      const changed =
        !this._loaded ||
        this._error !== null ||
        JSON.stringify(next) !== JSON.stringify(this._alerts);
      if (changed) {
        this._alerts = next;
      }
      this._loaded = true;
      this._error = null;
      return changed ? 'changed' : 'same';
    } catch (reason) {
      if (generation === this._generation) {
        this._error = describeError(reason, this._host.trans);
      }
      return 'error';
    } finally {
      this._refreshing = false;
      if (!this._isDisposed) {
        this._changed.emit();
      }
    }
  }

  configure(): void {
    // Alerts are not paged.
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._generation++;
    Signal.clearData(this);
  }

  private _host: ISectionHost;
  private _changed = new Signal<ISectionModel, void>(this);
  private _isDisposed = false;
  private _generation = 0;
  private _alerts: { open: IAlert[]; resolved: IAlert[] } = {
    open: [],
    resolved: []
  };
  private _loaded = false;
  private _refreshing = false;
  private _error: IErrorInfo | null = null;
  private _resolvedShown = RESOLVED_ALERTS_STEP;
}

const SEVERITY_ORDER = ['critical', 'warning', 'info'];

/**
 * Most severe first (open alerts only), then newest first.
 */
export function sortAlerts(
  alerts: IAlert[],
  time: 'opened_at' | 'resolved_at'
): IAlert[] {
  const rank = (alert: IAlert) => {
    const at = SEVERITY_ORDER.indexOf(String(alert.severity));
    return at < 0 ? SEVERITY_ORDER.length : at;
  };
  return alerts.slice().sort((a, b) => {
    if (time === 'opened_at' && rank(a) !== rank(b)) {
      return rank(a) - rank(b);
    }
    const ta = String(a[time] ?? a.opened_at ?? '');
    const tb = String(b[time] ?? b.opened_at ?? '');
    return ta < tb ? 1 : ta > tb ? -1 : 0;
  });
}
