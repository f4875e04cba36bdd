/**
 * The sidebar's state without its views: the sections and which are open,
 * the tracking store shown in the header, refreshing (on demand, and by
 * polling with back-off while shown) and what is saved across page reloads.
 * No React and no DOM here: `panel.tsx` connects it to a widget.
 */

import {
  ITranslator,
  nullTranslator,
  TranslationBundle
} from '@jupyterlab/translation';
import { ISignal, Signal } from '@lumino/signaling';

import { FetchRuns, INbopsApi, nbopsApi } from '../api';
import { RefreshOutcome } from '../paged';
import { Poller } from '../poll';
import { AlertsModel } from './alerts';
import { AuditModel } from './audit';
import { DeploymentsModel } from './deployments';
import { PromptsModel } from './prompts';
import { ReadinessModel } from './readiness';
import { IRegistryViewState, RegistryModel } from './registry';
import { RunsModel } from './runs';
import {
  combineOutcomes,
  IPanelConfig,
  ISectionHost,
  ISectionModel,
  sanitizeConfig
} from './section';

/**
 * The sections of the panel, in order.
 */
export type SectionId =
  | 'models'
  | 'deployments'
  | 'prompts'
  | 'readiness'
  | 'runs'
  | 'alerts'
  | 'audit';

export const SECTIONS: SectionId[] = [
  'models',
  'deployments',
  'prompts',
  'readiness',
  'runs',
  'alerts',
  'audit'
];

/**
 * What the user opened in the panel (saved across page reloads).
 */
export interface IPanelViewState extends IRegistryViewState {
  sections: { [section in SectionId]: boolean };
}

export class PanelModel implements ISectionHost {
  constructor(options: PanelModel.IOptions = {}) {
    this.trans = (options.translator ?? nullTranslator).load('nbops');
    this.api = {
      ...nbopsApi,
      ...options.api,
      runs: options.fetchRuns ?? options.api?.runs ?? nbopsApi.runs
    };
    this._config = sanitizeConfig({
      refreshInterval: options.refreshInterval,
      pageSize: options.pageSize
    });
    this._isShown = options.isShown ?? (() => true);
    this._isPageVisible = options.isPageVisible ?? (() => true);
    this.registry = new RegistryModel(this);
    this.runs = new RunsModel(this);
    this.alerts = new AlertsModel(this);
    this.audit = new AuditModel(this);
    this.deployments = new DeploymentsModel(this);
    this.prompts = new PromptsModel(this);
    this.readiness = new ReadinessModel(this);
    this._sections = {
      models: this.registry,
      deployments: this.deployments,
      prompts: this.prompts,
      readiness: this.readiness,
      runs: this.runs,
      alerts: this.alerts,
      audit: this.audit
    };
    for (const id of SECTIONS) {
      const section = this._sections[id];
      this._open[id] = section.openByDefault;
      section.changed.connect(this._emitChanged, this);
    }
    this.registry.viewStateChanged.connect(this._emitViewState, this);
    this._poller = new Poller({
      tick: () => this._tick(),
      interval: this._config.refreshInterval
    });
  }

  readonly api: INbopsApi;
  readonly trans: TranslationBundle;
  readonly registry: RegistryModel;
  readonly runs: RunsModel;
  readonly alerts: AlertsModel;
  readonly audit: AuditModel;
  readonly deployments: DeploymentsModel;
  readonly prompts: PromptsModel;
  readonly readiness: ReadinessModel;

  /**
   * Emitted after any change of what the panel shows.
   */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /**
   * Emitted when `viewState` changes.
   */
  get viewStateChanged(): ISignal<this, IPanelViewState> {
    return this._viewStateChanged;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /**
   * The refresh interval (seconds, 0 = no auto refresh) and page size in use.
   */
  get config(): IPanelConfig {
    return { ...this._config };
  }

  /**
   * The polling in use (its delay grows while nothing changes).
   */
  get poller(): Poller {
    return this._poller;
  }

  /**
   * The tracking store the server reads; null until the server said.
   */
  get store(): string | null {
    return this.runs.store ?? this._statusStore;
  }

  /**
   * Whether any section is waiting for the server.
   */
  get refreshing(): boolean {
    return SECTIONS.some(id => this._sections[id].refreshing);
  }

  section(id: SectionId): ISectionModel {
    return this._sections[id];
  }

  isOpen(id: SectionId): boolean {
    return this._open[id];
  }

  get viewState(): IPanelViewState {
    return { sections: { ...this._open }, ...this.registry.viewState };
  }

  /**
   * Open what a saved view state says (unknown or malformed parts are
   * ignored), then refresh when shown.
   */
  restoreViewState(state: unknown): void {
    const saved = readViewState(state);
    if (!saved || this._isDisposed) {
      return;
    }
    this._open = { ...this._open, ...saved.sections };
    this.registry.restore(saved);
    this._emitChanged();
    if (this._isShown()) {
      void this.refresh();
    }
  }

  /**
   * Change the refresh interval and/or page size (from the settings).
   */
  configure(config: Partial<IPanelConfig>): void {
    this._config = sanitizeConfig({ ...this._config, ...config });
    for (const id of SECTIONS) {
      this._sections[id].configure(this._config);
    }
    if (this._poller.interval !== this._config.refreshInterval) {
      this._poller.interval = this._config.refreshInterval;
    }
  }

  /**
   * The panel is shown: poll, and refresh now.
   */
  start(): void {
    this._poller.start();
    void this.refresh();
  }

  /**
   * The panel is hidden: no more polling.
   */
  stop(): void {
    this._poller.stop();
  }

  /**
   * Something probably changed (a notebook ran a cell): poll soon again.
   */
  nudge(): void {
    this._poller.nudge();
  }

  /**
   * Reload what the open sections show, keeping as many items as are shown.
   * Concurrent calls share one request per list. Never rejects: failures are
   * shown in the sections.
   */
  async refresh(): Promise<void> {
    if (this._isDisposed) {
      return;
    }
    const outcome = await this._refreshAll();
    this._poller.record(outcome);
  }

  /**
   * Poll soon again and refresh now (after the user changed something).
   */
  refreshNow(): Promise<void> {
    this._poller.nudge();
    return this.refresh();
  }

  /**
   * Fetch the first page of the leading sections in the background (e.g.
   * while JupyterLab starts), so that the panel opens with data.
   */
  prefetch(): Promise<void> {
    if (this._isDisposed || !this._open.models) {
      return Promise.resolve();
    }
    return this.registry.prefetch();
  }

  /**
   * Open or fold a section; opening refreshes at once. `open` is what the
   * user asked for as they saw the section (clicking a folded title opens).
   */
  toggleSection(id: SectionId, open = !this._open[id]): void {
    if (open === this._open[id]) {
      this._emitChanged();
      return;
    }
    this._open = { ...this._open, [id]: open };
    this._emitViewState();
    this._emitChanged();
    if (open) {
      void this.refreshNow();
    }
  }

  /**
   * Show one version: the Models section open, its model expanded, the
   * version selected.
   */
  reveal(model: string, version: string): void {
    this._open = { ...this._open, models: true };
    this.registry.reveal(model, version);
    this._emitChanged();
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._poller.dispose();
    for (const id of SECTIONS) {
      this._sections[id].dispose();
    }
    Signal.clearData(this);
  }

  private _refreshAll(): Promise<RefreshOutcome> {
    if (this._pendingRefresh) {
      return this._pendingRefresh;
    }
    const due = SECTIONS.filter(
      id => this._open[id] || this._sections[id].alwaysRefresh
    );
    const leading = due
      .filter(id => this._open[id] && this._sections[id].leads)
      .map(id => this._sections[id]);
    const others = due
      .filter(id => !(this._open[id] && this._sections[id].leads))
      .map(id => this._sections[id]);
    const first = (): Promise<RefreshOutcome>[] => [
      ...(this.store === null ? [this._refreshStatus()] : []),
      ...leading.map(section => section.refresh())
    ];
    const rest = () => others.map(section => section.refresh());
    // The first request to a fresh server loads MLflow there: let the leading
    // sections have it to themselves, then ask for the rest. Afterwards, all
    // at once.
    const pending = (
      leading.every(section => section.loaded)
        ? Promise.all([...first(), ...rest()])
        : Promise.all(first()).then(outcomes =>
            Promise.all(rest()).then(more => [...outcomes, ...more])
          )
    )
      .then(combineOutcomes)
      .finally(() => {
        if (this._pendingRefresh === pending) {
          this._pendingRefresh = null;
        }
      });
    this._pendingRefresh = pending;
    return pending;
  }

  private async _tick(): Promise<RefreshOutcome | null> {
    // No requests from a background browser tab or a hidden panel.
    if (this._isDisposed || !this._isShown() || !this._isPageVisible()) {
      return null;
    }
    return this._refreshAll();
  }

  private async _refreshStatus(): Promise<RefreshOutcome> {
    try {
      const status = await this.api.status();
      if (status.store && this.store === null) {
        this._statusStore = status.store;
        this._emitChanged();
        return 'changed';
      }
      return 'same';
    } catch {
      return 'error'; // the sections say what went wrong
    }
  }

  private _emitChanged(): void {
    if (!this._isDisposed) {
      this._changed.emit();
    }
  }

  private _emitViewState(): void {
    this._viewStateChanged.emit(this.viewState);
  }

  private _config: IPanelConfig;
  private _isShown: () => boolean;
  private _isPageVisible: () => boolean;
  private _sections: { [id in SectionId]: ISectionModel };
  private _open = {} as { [id in SectionId]: boolean };
  private _statusStore: string | null = null;
  private _poller: Poller;
  private _pendingRefresh: Promise<RefreshOutcome> | null = null;
  private _isDisposed = false;
  private _changed = new Signal<this, void>(this);
  private _viewStateChanged = new Signal<this, IPanelViewState>(this);
}

export namespace PanelModel {
  export interface IOptions extends Partial<IPanelConfig> {
    /** Fetches a page of runs; defaults to `GET /nbops/api/runs`. */
    fetchRuns?: FetchRuns;
    /** Replaces any of the REST calls (for tests). */
    api?: Partial<INbopsApi>;
    translator?: ITranslator;
    /** Whether the panel is shown (polls are skipped while it is not). */
    isShown?: () => boolean;
    /** Whether the browser tab is visible (polls are skipped while it is not). */
    isPageVisible?: () => boolean;
  }

  /**
   * A saved view state as read back: sections it does not mention keep
   * their state.
   */
  export interface ISavedViewState extends IRegistryViewState {
    sections: Partial<IPanelViewState['sections']>;
  }
}

/**
 * A saved view state, checked; null when it is not one.
 */
export function readViewState(
  value: unknown
): PanelModel.ISavedViewState | null {
  if (value === null || typeof value !== 'object') {
    return null;
  }
  const raw = value as { [key: string]: any };
  const sections: Partial<IPanelViewState['sections']> = {};
  for (const section of SECTIONS) {
    const open = raw.sections?.[section];
    if (typeof open === 'boolean') {
      sections[section] = open;
    }
  }
  const expanded = Array.isArray(raw.expanded)
    ? raw.expanded
        .filter((name: unknown) => typeof name === 'string' && name)
        .slice(0, 20)
    : [];
  const selected =
    raw.selected &&
    typeof raw.selected.model === 'string' &&
    typeof raw.selected.version === 'string' &&
    /^[1-9][0-9]{0,9}$/.test(raw.selected.version)
      ? { model: raw.selected.model, version: raw.selected.version }
      : null;
  const filter =
    typeof raw.filter === 'string' ? raw.filter.trim().slice(0, 200) : '';
  return { sections, expanded, selected, filter };
}
