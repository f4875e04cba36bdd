/**
 * A section that shows one list fetched whole (not paged): the base of the
 * Deployments section. Concurrent refreshes share one request; an answer
 * that arrives after `dispose` is dropped.
 */

import { ISignal, Signal } from '@lumino/signaling';

import { RefreshOutcome } from '../paged';
import { describeError, IErrorInfo } from './errors';
import { ISectionHost, ISectionModel } from './section';

export abstract class FetchedSection<T> implements ISectionModel {
  constructor(host: ISectionHost) {
    this.host = host;
  }

  abstract readonly id: string;
  abstract readonly openByDefault: boolean;
  readonly alwaysRefresh: boolean = false;
  readonly leads: boolean = false;

  get changed(): ISignal<ISectionModel, void> {
    return this._changed;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  get items(): readonly T[] {
    return this._items;
  }

  get loaded(): boolean {
    return this._loaded;
  }

  get refreshing(): boolean {
    return this._pending !== null;
  }

  get error(): IErrorInfo | null {
    return this._error;
  }

  refresh(): Promise<RefreshOutcome> {
    if (!this._pending) {
      this._pending = this._refresh().finally(() => {
        this._pending = null;
        this.emitChanged();
      });
      this.emitChanged();
    }
    return this._pending;
  }

  configure(): void {
    // Not paged.
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    Signal.clearData(this);
  }

  /**
   * The whole list from the server.
   */
  protected abstract fetch(): Promise<T[]>;

  protected emitChanged(): void {
    if (!this._isDisposed) {
      this._changed.emit();
    }
  }

  private async _refresh(): Promise<RefreshOutcome> {
    try {
      const next = (await this.fetch()) ?? [];
      if (this._isDisposed) {
        return 'same';
      }
      const changed =
        !this._loaded ||
        this._error !== null ||
        JSON.stringify(next) !== JSON.stringify(this._items);
      if (changed) {
        this._items = next;
      }
      this._loaded = true;
      this._error = null;
      return changed ? 'changed' : 'same';
    } catch (reason) {
      if (!this._isDisposed) {
        this._error = describeError(reason, this.host.trans);
      }
      return 'error';
    }
  }

  protected readonly host: ISectionHost;
  private _changed = new Signal<ISectionModel, void>(this);
  private _isDisposed = false;
  private _items: T[] = [];
  private _loaded = false;
  private _error: IErrorInfo | null = null;
  private _pending: Promise<RefreshOutcome> | null = null;
}
