/**
 * A list read from the server one page at a time, with a total when the server
 * knows it. Used for runs, models, versions and the audit trail.
 */

/**
 * One page as the list needs it.
 */
export interface IPage<T> {
  items: T[];
  /** Token for the next page; null on the last page. */
  nextPageToken: string | null;
  /** How many items there are in all; null when the server does not say. */
  total: number | null;
}

/**
 * What a refresh found: new data, the same data, or an error.
 */
export type RefreshOutcome = 'changed' | 'same' | 'error';

/**
 * The state of a paged list, as rendered.
 */
export interface IPagedState<T> {
  items: T[];
  nextPageToken: string | null;
  total: number | null;
  /** Whether a first page has been received. */
  loaded: boolean;
  refreshing: boolean;
  loadingMore: boolean;
  /** The last failure, until a request succeeds. */
  error: unknown;
}

export class PagedList<T> {
  constructor(options: PagedList.IOptions<T>) {
    this._fetch = options.fetch;
    this._key = options.key;
    this._onChange = options.onChange;
    this.pageSize = options.pageSize;
    this.maxPageSize = options.maxPageSize;
  }

  /**
   * How many items one page holds.
   */
  pageSize: number;

  /**
   * The largest page the server accepts (a refresh re-reads every item shown
   * in one request, up to this many).
   */
  readonly maxPageSize: number;

  get state(): Readonly<IPagedState<T>> {
    return this._state;
  }

  /**
   * Re-read the first page, keeping as many items as are shown. Concurrent
   * calls share one request; never rejects.
   */
  refresh(): Promise<RefreshOutcome> {
    if (this._pending) {
      return this._pending;
    }
    const generation = ++this._generation;
    const maxResults = Math.min(
      Math.max(this.pageSize, this._state.items.length),
      this.maxPageSize
    );
    this._set({ refreshing: true });
    const pending = this._fetch(maxResults, null)
      .then((page): RefreshOutcome => {
        if (generation !== this._generation) {
          return 'same';
        }
        const items = appendUnique([], page.items ?? [], this._key);
        const before = this._state;
        const changed =
          !before.loaded ||
          before.error !== null ||
          before.total !== page.total ||
          before.nextPageToken !== page.nextPageToken ||
          JSON.stringify(before.items) !== JSON.stringify(items);
        this._set({
          items: changed ? items : before.items,
          nextPageToken: page.nextPageToken ?? null,
          total: page.total ?? null,
          loaded: true,
          refreshing: false,
          loadingMore: false,
          error: null
        });
        return changed ? 'changed' : 'same';
      })
      .catch((reason: unknown): RefreshOutcome => {
        if (generation === this._generation) {
          this._set({ refreshing: false, loadingMore: false, error: reason });
        }
        return 'error';
      })
      .finally(() => {
        if (this._pending === pending) {
          this._pending = null;
        }
      });
    this._pending = pending;
    return pending;
  }

  /**
   * Fetch the next page and append it. A no-op on the last page, while a page
   * is loading, or while a refresh is pending. Never rejects.
   */
  async loadMore(): Promise<void> {
    const token = this._state.nextPageToken;
    if (!token || this._state.loadingMore || this._pending) {
      return;
    }
    const generation = this._generation;
    this._set({ loadingMore: true });
    try {
      const page = await this._fetch(this.pageSize, token);
      if (generation !== this._generation) {
        return;
      }
      this._set({
        items: appendUnique(this._state.items, page.items ?? [], this._key),
        nextPageToken: page.nextPageToken ?? null,
        total: page.total ?? this._state.total,
        loadingMore: false,
        error: null
      });
    } catch (reason) {
      if (generation === this._generation) {
        this._set({ loadingMore: false, error: reason });
      }
    }
  }

  /**
   * Forget everything (e.g. when the filter changes); answers still on their
   * way are dropped.
   */
  reset(): void {
    this._generation++;
    this._pending = null;
    this._set({
      items: [],
      nextPageToken: null,
      total: null,
      loaded: false,
      refreshing: false,
      loadingMore: false,
      error: null
    });
  }

  /**
   * Drop answers still on their way; nothing is reported after this.
   */
  dispose(): void {
    this._generation++;
    this._onChange = () => undefined;
  }

  private _set(change: Partial<IPagedState<T>>): void {
    this._state = { ...this._state, ...change };
    this._onChange();
  }

  private _fetch: PagedList.Fetch<T>;
  private _key: (item: T) => string;
  private _onChange: () => void;
  private _generation = 0;
  private _pending: Promise<RefreshOutcome> | null = null;
  private _state: IPagedState<T> = {
    items: [],
    nextPageToken: null,
    total: null,
    loaded: false,
    refreshing: false,
    loadingMore: false,
    error: null
  };
}

export namespace PagedList {
  export type Fetch<T> = (
    maxResults: number,
    pageToken: string | null
  ) => Promise<IPage<T>>;

  export interface IOptions<T> {
    fetch: Fetch<T>;
    /** The identity of an item (a new item shifts the pages, so the next page may repeat one). */
    key: (item: T) => string;
    /** Called after every state change. */
    onChange: () => void;
    pageSize: number;
    maxPageSize: number;
  }
}

/**
 * `current` followed by the items of `more` not already in it.
 */
export function appendUnique<T>(
  current: T[],
  more: T[],
  key: (item: T) => string
): T[] {
  const seen = new Set(current.map(key));
  const result = current.slice();
  for (const item of more) {
    const id = key(item);
    if (!seen.has(id)) {
      seen.add(id);
      result.push(item);
    }
  }
  return result;
}
