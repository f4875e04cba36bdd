/**
 * A section that shows one paged list (runs, the audit trail): the base the
 * simple sections share.
 */

import { ISignal, Signal } from '@lumino/signaling';

import { IPage, IPagedState, PagedList, RefreshOutcome } from '../paged';
import { IErrorInfo, describeOptional } from './errors';
import { IPanelConfig, ISectionHost, ISectionModel } from './section';

export abstract class ListSection<T> implements ISectionModel {
  constructor(host: ISectionHost, maxPageSize: number) {
    this.host = host;
    this.list = new PagedList<T>({
      fetch: (maxResults, pageToken) => this.fetchPage(maxResults, pageToken),
      key: item => this.key(item),
      onChange: () => this._changed.emit(),
      pageSize: host.config.pageSize,
      maxPageSize
    });
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

  get state(): Readonly<IPagedState<T>> {
    return this.list.state;
  }

  /**
   * The last failure, as shown.
   */
  get error(): IErrorInfo | null {
    return describeOptional(this.list.state.error, this.host.trans);
  }

  get loaded(): boolean {
    return this.list.state.loaded;
  }

  get refreshing(): boolean {
    return this.list.state.refreshing;
  }

  refresh(): Promise<RefreshOutcome> {
    return this.list.refresh();
  }

  /**
   * Fetch the next page and append it (see `PagedList.loadMore`).
   */
  loadMore(): Promise<void> {
    return this.list.loadMore();
  }

  configure(config: IPanelConfig): void {
    this.list.pageSize = config.pageSize;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this.list.dispose();
    Signal.clearData(this);
  }

  /**
   * Tell the view that what the section shows changed.
   */
  protected emitChanged(): void {
    if (!this._isDisposed) {
      this._changed.emit();
    }
  }

  /**
   * One page from the server.
   */
  protected abstract fetchPage(
    maxResults: number,
    pageToken: string | null
  ): Promise<IPage<T>>;

  /**
   * The identity of an item.
   */
  protected abstract key(item: T): string;

  protected readonly host: ISectionHost;
  protected readonly list: PagedList<T>;
  private _changed = new Signal<ISectionModel, void>(this);
  private _isDisposed = false;
}
