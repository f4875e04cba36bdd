/**
 * The selected model version: its detail and monitoring series, and the alias
 * changes (promote, roll back) started from it.
 */

import { ISignal, Signal } from '@lumino/signaling';

import { IMonitoringSeries, IVersionDetail } from '../api';
import { MONITORING_METRICS } from '../charts';
import { RefreshOutcome } from '../paged';
import { describeError, IErrorInfo } from './errors';
import { ISectionHost } from './section';

/**
 * A model and one of its versions.
 */
export interface IVersionRef {
  model: string;
  version: string;
}

/**
 * What is known of the selected version.
 */
export interface IVersionDetailState {
  /** `versionKey(model, version)` of the version it describes. */
  key: string;
  data: IVersionDetail | null;
  error: IErrorInfo | null;
  series: IMonitoringSeries | null;
  seriesError: IErrorInfo | null;
}

/**
 * The outcome of the last promote or roll back started from a version.
 */
export interface IActionState {
  /** `versionKey(model, version)` of the version it was started from. */
  key: string;
  busy: boolean;
  /** What happened, on success. */
  done: string | null;
  error: IErrorInfo | null;
}

/**
 * One string naming a version of a model.
 */
export function versionKey(model: string, version: string): string {
  return `${model}\u0000${version}`;
}

function emptyDetail(key: string): IVersionDetailState {
  return { key, data: null, error: null, series: null, seriesError: null };
}

export class VersionModel {
  constructor(host: ISectionHost) {
    this._host = host;
  }

  /**
   * Emitted after any change of the selection, its detail or an action.
   */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /**
   * Emitted when an alias change is over (before the refresh that follows),
   * so that the user can be told.
   */
  get actionFinished(): ISignal<this, IActionState> {
    return this._actionFinished;
  }

  get selected(): IVersionRef | null {
    return this._selected ? { ...this._selected } : null;
  }

  /**
   * The detail of `model`/`version` when it is the selected one, else null.
   */
  detailOf(model: string, version: string): IVersionDetailState | null {
    return this._detail.key === versionKey(model, version)
      ? this._detail
      : null;
  }

  /**
   * The last alias change started from `model`/`version`, if any.
   */
  actionOf(model: string, version: string): IActionState | null {
    return this._action?.key === versionKey(model, version)
      ? this._action
      : null;
  }

  /**
   * Whether `model`/`version` is the selected version.
   */
  isSelected(model: string, version: string): boolean {
    return (
      this._selected?.model === model && this._selected?.version === version
    );
  }

  /**
   * Select a version (its detail loads), or unselect it when it is selected;
   * null unselects.
   */
  select(model: string | null, version: string | null): void {
    if (model === null || version === null || this.isSelected(model, version)) {
      this._selected = null;
      this._detail = emptyDetail('');
      this._changed.emit();
      return;
    }
    this._selected = { model, version };
    this._detail = emptyDetail(versionKey(model, version));
    if (this._action && !this._action.busy) {
      this._action = null;
    }
    this._changed.emit();
    void this.refresh();
  }

  /**
   * Reload the selected version's detail and monitoring series; what fails
   * keeps what was shown, with the error.
   */
  async refresh(): Promise<RefreshOutcome> {
    const selected = this._selected;
    if (!selected) {
      return 'same';
    }
    const key = versionKey(selected.model, selected.version);
    const settle = <T>(promise: Promise<T>) =>
      promise.then(
        value => ({ value, error: null as unknown }),
        (error: unknown) => ({ value: null as T | null, error })
      );
    const api = this._host.api;
    const [detail, series] = await Promise.all([
      settle(api.version(selected.model, selected.version)),
      settle(
        api.monitoring(selected.model, selected.version, MONITORING_METRICS)
      )
    ]);
    if (this._isDisposed || this._detail.key !== key) {
      return 'same';
    }
    const before = this._detail;
    const data = detail.value ?? before.data;
    const seriesData = series.value ?? before.series;
    const changed =
      JSON.stringify(data) !== JSON.stringify(before.data) ||
      JSON.stringify(seriesData) !== JSON.stringify(before.series);
    const trans = this._host.trans;
    this._detail = {
      key,
      data: changed ? data : before.data,
      series: changed ? seriesData : before.series,
      error: detail.error ? describeError(detail.error, trans) : null,
      seriesError: series.error ? describeError(series.error, trans) : null
    };
    this._changed.emit();
    if (detail.error || series.error) {
      return 'error';
    }
    return changed ? 'changed' : 'same';
  }

  /**
   * Point `alias` of `model` at `version`, then refresh the panel.
   */
  promote(
    model: string,
    version: string,
    alias: string,
    reason: string
  ): Promise<IActionState> {
    const trans = this._host.trans;
    return this._changeAlias(model, version, () =>
      this._host.api
        .promote(model, version, alias, reason)
        .then(change =>
          trans.__(
            '%1 of %2 now points at version %3.',
            alias,
            model,
            change.aliases?.[alias] ?? version
          )
        )
    );
  }

  /**
   * Point `alias` of `model` (held by `version`) back at the version it held
   * before, then refresh the panel.
   */
  rollback(
    model: string,
    version: string,
    alias: string,
    reason: string
  ): Promise<IActionState> {
    const trans = this._host.trans;
    return this._changeAlias(model, version, () =>
      this._host.api.rollback(model, alias, reason).then(change => {
        const now = change.aliases?.[alias];
        return now
          ? trans.__(
              '%1 of %2 rolled back: it points at version %3 again.',
              alias,
              model,
              now
            )
          : trans.__('%1 of %2 rolled back: it is unset now.', alias, model);
      })
    );
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    Signal.clearData(this);
  }

  /**
   * Run an alias change, keep its outcome for the version, then refresh.
   */
  private async _changeAlias(
    model: string,
    version: string,
    change: () => Promise<string>
  ): Promise<IActionState> {
    const key = versionKey(model, version);
    this._action = { key, busy: true, done: null, error: null };
    this._changed.emit();
    try {
      const done = await change();
      this._action = { key, busy: false, done, error: null };
    } catch (reason) {
      const error = describeError(reason, this._host.trans);
      this._action = { key, busy: false, done: null, error };
    }
    const outcome = this._action;
    this._actionFinished.emit(outcome);
    this._changed.emit();
    await this._host.refreshNow();
    return outcome;
  }

  private _host: ISectionHost;
  private _changed = new Signal<this, void>(this);
  private _actionFinished = new Signal<this, IActionState>(this);
  private _isDisposed = false;
  private _selected: IVersionRef | null = null;
  private _detail: IVersionDetailState = emptyDetail('');
  private _action: IActionState | null = null;
}
