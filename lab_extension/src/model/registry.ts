/**
 * The Models section: registered models (paged, filtered by name), the
 * models the user expanded with their versions (paged), and the selected
 * version (`VersionModel`).
 */

import { ISignal, Signal } from '@lumino/signaling';

import { IModelSummary, IVersionSummary } from '../api';
import { IPagedState, PagedList, RefreshOutcome } from '../paged';
import { describeOptional, IErrorInfo } from './errors';
import {
  combineOutcomes,
  IPanelConfig,
  ISectionHost,
  ISectionModel,
  MAX_REGISTRY_PAGE_SIZE
} from './section';
import { IVersionRef, VersionModel } from './version';

/**
 * What the user opened in the Models section (saved across page reloads).
 */
export interface IRegistryViewState {
  expanded: string[];
  selected: IVersionRef | null;
  filter: string;
}

/**
 * The versions of an expanded model, as shown.
 */
export interface IVersionsState {
  state: Readonly<IPagedState<IVersionSummary>>;
  error: IErrorInfo | null;
}

export class RegistryModel implements ISectionModel {
  constructor(host: ISectionHost) {
    this._host = host;
    this._models = new PagedList<IModelSummary>({
      fetch: async (maxResults, pageToken) => {
        const page = await host.api.models(
          maxResults,
          pageToken,
          this._filter || undefined
        );
        return {
          items: page.models ?? [],
          nextPageToken: page.next_page_token ?? null,
          total: page.total ?? null
        };
      },
      key: model => model.name,
      onChange: () => this._changed.emit(),
      pageSize: host.config.pageSize,
      maxPageSize: MAX_REGISTRY_PAGE_SIZE
    });
    this.version = new VersionModel(host);
    this.version.changed.connect(() => this._changed.emit());
  }

  readonly id = 'models';
  readonly openByDefault = true;
  readonly alwaysRefresh = false;
  readonly leads = true;

  /**
   * The selected version, its detail and alias changes.
   */
  readonly version: VersionModel;

  get changed(): ISignal<ISectionModel, void> {
    return this._changed;
  }

  /**
   * Emitted when what the user opened (`viewState`) changes.
   */
  get viewStateChanged(): ISignal<this, void> {
    return this._viewStateChanged;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  get state(): Readonly<IPagedState<IModelSummary>> {
    return this._models.state;
  }

  get error(): IErrorInfo | null {
    return describeOptional(this._models.state.error, this._host.trans);
  }

  get loaded(): boolean {
    return this._models.state.loaded;
  }

  get refreshing(): boolean {
    return this._models.state.refreshing;
  }

  get filter(): string {
    return this._filter;
  }

  get viewState(): IRegistryViewState {
    return {
      expanded: [...this._expanded],
      selected: this.version.selected,
      filter: this._filter
    };
  }

  /**
   * A listed model, by name.
   */
  find(name: string): IModelSummary | undefined {
    return this._models.state.items.find(model => model.name === name);
  }

  isExpanded(name: string): boolean {
    return this._expanded.has(name);
  }

  /**
   * The versions of an expanded model; null when it is not expanded.
   */
  versions(name: string): IVersionsState | null {
    const list = this._versions.get(name);
    return list
      ? {
          state: list.state,
          error: describeOptional(list.state.error, this._host.trans)
        }
      : null;
  }

  async refresh(): Promise<RefreshOutcome> {
    const tasks: Promise<RefreshOutcome>[] = [this._models.refresh()];
    for (const name of this._expanded) {
      const list = this._versions.get(name);
      if (list) {
        tasks.push(list.refresh());
      }
    }
    if (this.version.selected) {
      tasks.push(this.version.refresh());
    }
    return combineOutcomes(await Promise.all(tasks));
  }

  /**
   * Fetch the first page of models only (e.g. while JupyterLab starts); a
   * no-op once loaded.
   */
  prefetch(): Promise<void> {
    if (this._isDisposed || this._models.state.loaded) {
      return Promise.resolve();
    }
    return this._models.refresh().then(() => undefined);
  }

  loadMore(): Promise<void> {
    return this._models.loadMore();
  }

  loadMoreVersions(name: string): Promise<void> {
    return this._versions.get(name)?.loadMore() ?? Promise.resolve();
  }

  /**
   * List only the models whose name contains `text` (trimmed; '' lists all).
   */
  setFilter(text: string): void {
    const filter = text.trim();
    if (filter === this._filter) {
      return;
    }
    this._filter = filter;
    this._viewStateChanged.emit();
    this._models.reset();
    void this._models.refresh();
  }

  /**
   * Expand a model (its versions load), or fold it (unselecting its version).
   * `expand` is what the user asked for as they saw the row: a click on a
   * row shown folded expands it even when a restored view state expanded it
   * a frame before the view caught up.
   */
  toggle(name: string, expand = !this._expanded.has(name)): void {
    if (!expand) {
      if (!this._expanded.has(name)) {
        return;
      }
      this._expanded.delete(name);
      this._viewStateChanged.emit();
      this._versions.get(name)?.dispose();
      this._versions.delete(name);
      if (this.version.selected?.model === name) {
        this.select(null, null);
      }
      this._changed.emit();
    } else {
      this.expand(name);
    }
  }

  /**
   * Expand a model (a no-op when it is expanded).
   */
  expand(name: string): void {
    if (!this._expanded.has(name)) {
      this._expanded.add(name);
      this._viewStateChanged.emit();
    }
    if (!this._versions.has(name)) {
      const list = new PagedList<IVersionSummary>({
        fetch: async (maxResults, pageToken) => {
          const page = await this._host.api.versions(
            name,
            maxResults,
            pageToken
          );
          return {
            items: page.versions ?? [],
            nextPageToken: page.next_page_token ?? null,
            total: page.total ?? null
          };
        },
        key: version => version.version,
        onChange: () => this._changed.emit(),
        pageSize: this._host.config.pageSize,
        maxPageSize: MAX_REGISTRY_PAGE_SIZE
      });
      this._versions.set(name, list);
      void list.refresh();
    }
    this._changed.emit();
  }

  /**
   * Select a version (or unselect it when it is selected; null unselects).
   */
  select(model: string | null, version: string | null): void {
    this.version.select(model, version);
    this._viewStateChanged.emit();
  }

  /**
   * Open or close one version's detail, as the user saw its row: a row
   * shown closed opens whatever the model holds (no toggle on stale views).
   */
  setSelected(model: string, version: string, selected: boolean): void {
    if (selected !== this.version.isSelected(model, version)) {
      this.select(model, selected ? version : null);
    }
  }

  /**
   * Show one version: its model listed (filtering down to it when it is not
   * on the pages loaded) and expanded, the version selected.
   */
  reveal(model: string, version: string): void {
    if (!this.find(model)) {
      this.setFilter(model);
    }
    this.expand(model);
    if (!this.version.isSelected(model, version)) {
      this.select(model, version);
    }
  }

  /**
   * Open what a saved view state says.
   */
  restore(saved: IRegistryViewState): void {
    if (saved.filter !== this._filter) {
      this._filter = saved.filter;
      this._models.reset();
    }
    for (const name of saved.expanded) {
      this.expand(name);
    }
    if (saved.selected && this._expanded.has(saved.selected.model)) {
      this.select(saved.selected.model, saved.selected.version);
    }
  }

  configure(config: IPanelConfig): void {
    for (const list of [this._models, ...this._versions.values()]) {
      list.pageSize = config.pageSize;
    }
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._models.dispose();
    for (const list of this._versions.values()) {
      list.dispose();
    }
    this.version.dispose();
    Signal.clearData(this);
  }

  private _host: ISectionHost;
  private _changed = new Signal<ISectionModel, void>(this);
  private _viewStateChanged = new Signal<this, void>(this);
  private _isDisposed = false;
  private _models: PagedList<IModelSummary>;
  private _filter = '';
  private _expanded = new Set<string>();
  private _versions = new Map<string, PagedList<IVersionSummary>>();
}
