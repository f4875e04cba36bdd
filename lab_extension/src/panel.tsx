import { Notification, Sanitizer } from '@jupyterlab/apputils';
import {
  ITranslator,
  nullTranslator,
  TranslationBundle
} from '@jupyterlab/translation';
import { ReactWidget, refreshIcon } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import { ISignal, Signal } from '@lumino/signaling';
import * as React from 'react';

import { AlertsSection, AuditSection, IAlertsView } from './activity';
import {
  FetchRuns,
  IAlert,
  IAuditEvent,
  IModelSummary,
  IMonitoringSeries,
  INbopsApi,
  IRun,
  IVersionDetail,
  IVersionSummary,
  nbopsApi
} from './api';
import { MONITORING_METRICS } from './charts';
import { IActionState, VersionDetail } from './detail';
import { askPromote, askRollback } from './dialogs';
import { formatStart, runDuration, shortenMiddle, statusClass } from './format';
import { ModelsSection } from './models';
import { PagedList, RefreshOutcome } from './paged';
import { Poller } from './poll';
import {
  describeError,
  ErrorNote,
  IErrorInfo,
  LoadMoreButton,
  Loading,
  Section
} from './views';

/**
 * The product name, shown as is in every language.
 */
export const EXTENSION_TITLE = 'nbops';

/**
 * The largest page of runs the panel asks for (the schema's `pageSize` maximum).
 */
export const MAX_PAGE_SIZE = 500;

/**
 * The largest page of models, versions or audit events (the server's limit).
 */
export const MAX_REGISTRY_PAGE_SIZE = 1000;

/**
 * Resolved alerts shown at first, and added by each "Show more".
 */
const RESOLVED_ALERTS_STEP = 10;

/**
 * What a new user types to start tracking.
 */
const LOAD_EXT_SNIPPET = '%load_ext nbops';
const TRACK_SNIPPET = '%%track my-first-run';

/**
 * The sections of the panel, in order.
 */
export type SectionId = 'models' | 'runs' | 'alerts' | 'audit';

export const SECTIONS: SectionId[] = ['models', 'runs', 'alerts', 'audit'];

/**
 * The sidebar panel: registered models (versions, gates, model cards,
 * monitoring charts, promote and roll back), recent runs, monitoring alerts
 * and the audit trail.
 *
 * It refreshes when shown, by polling while visible (every `refreshInterval`
 * seconds while something changes, backing off while nothing does or the server
 * fails), and on demand (`refresh()`, the Refresh button, `nbops:refresh`).
 */
export class NbopsPanel extends ReactWidget {
  constructor(options: NbopsPanel.IOptions = {}) {
    super();
    this.addClass('nbops-panel');
    this._trans = (options.translator ?? nullTranslator).load('nbops');
    this._api = {
      ...nbopsApi,
      ...options.api,
      runs: options.fetchRuns ?? options.api?.runs ?? nbopsApi.runs
    };
    const sanitizer = options.sanitizer ?? new Sanitizer();
    this._sanitize = html => sanitizer.sanitize(html);
    this._config = Private.sanitize({
      refreshInterval: options.refreshInterval,
      pageSize: options.pageSize
    });
    const onChange = () => this.update();
    this._runs = new PagedList<IRun>({
      fetch: async (maxResults, pageToken) => {
        const page = await this._api.runs(maxResults, pageToken);
        if (page.store) {
          this._store = page.store;
        }
        return {
          items: page.runs ?? [],
          nextPageToken: page.next_page_token ?? null,
          total: null
        };
      },
      key: run => run.run_id,
      onChange,
      pageSize: this._config.pageSize,
      maxPageSize: MAX_PAGE_SIZE
    });
    this._models = new PagedList<IModelSummary>({
      fetch: async (maxResults, pageToken) => {
        const page = await this._api.models(
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
      onChange,
      pageSize: this._config.pageSize,
      maxPageSize: MAX_REGISTRY_PAGE_SIZE
    });
    this._audit = new PagedList<IAuditEvent>({
      fetch: async (maxResults, pageToken) => {
        const page = await this._api.audit(maxResults, pageToken);
        return {
          items: page.events ?? [],
          nextPageToken: page.next_page_token ?? null,
          total: page.total ?? null
        };
      },
      key: event => String(event.seq),
      onChange,
      pageSize: this._config.pageSize,
      maxPageSize: MAX_REGISTRY_PAGE_SIZE
    });
    this._poller = new Poller({
      tick: () => this._tick(),
      interval: this._config.refreshInterval
    });
    document.addEventListener('visibilitychange', this._onVisibility);
  }

  /**
   * The refresh interval (seconds, 0 = no auto refresh) and page size in use.
   */
  get config(): NbopsPanel.IConfig {
    return { ...this._config };
  }

  /**
   * The runs currently listed.
   */
  get runs(): ReadonlyArray<IRun> {
    return this._runs.state.items;
  }

  /**
   * The models currently listed.
   */
  get models(): ReadonlyArray<IModelSummary> {
    return this._models.state.items;
  }

  /**
   * The polling in use (its delay grows while nothing changes).
   */
  get poller(): Poller {
    return this._poller;
  }

  /**
   * What the user opened: sections, expanded models, the selected version and
   * the models filter (saved across page reloads).
   */
  get viewState(): NbopsPanel.IViewState {
    return {
      sections: { ...this._sections },
      expanded: [...this._expanded],
      selected: this._selected ? { ...this._selected } : null,
      filter: this._filter
    };
  }

  /**
   * Emitted when `viewState` changes.
   */
  get viewStateChanged(): ISignal<this, NbopsPanel.IViewState> {
    return this._viewStateChanged;
  }

  /**
   * Open what a saved view state says (unknown or malformed parts are ignored).
   */
  restoreViewState(state: unknown): void {
    const saved = Private.readViewState(state);
    if (!saved || this.isDisposed) {
      return;
    }
    this._sections = { ...this._sections, ...saved.sections };
    if (saved.filter !== this._filter) {
      this._filter = saved.filter;
      this._models.reset();
    }
    for (const name of saved.expanded) {
      this._expandModel(name);
    }
    if (saved.selected && this._expanded.has(saved.selected.model)) {
      this._select(saved.selected.model, saved.selected.version);
    }
    this.update();
    if (this.isVisible) {
      void this.refresh();
    }
  }

  /**
   * Change the refresh interval and/or page size (from the settings).
   */
  configure(config: Partial<NbopsPanel.IConfig>): void {
    this._config = Private.sanitize({ ...this._config, ...config });
    for (const list of this._lists()) {
      list.pageSize = this._config.pageSize;
    }
    if (this._poller.interval !== this._config.refreshInterval) {
      this._poller.interval = this._config.refreshInterval;
    }
  }

  /**
   * Reload what the open sections show, keeping as many items as are shown.
   *
   * Concurrent calls share one request per list. Never rejects: failures are
   * shown in the panel.
   */
  async refresh(): Promise<void> {
    if (this.isDisposed) {
      return;
    }
    const outcome = await this._refreshAll();
    this._poller.record(outcome);
  }

  /**
   * Fetch the next page of runs and append it. A no-op on the last page, while
   * a page is loading, or while a refresh is pending.
   */
  loadMore(): Promise<void> {
    return this._runs.loadMore();
  }

  /**
   * Something probably changed (a notebook ran a cell): poll soon again.
   */
  nudge(): void {
    this._poller.nudge();
  }

  /**
   * Open (expand) a section and scroll to it.
   */
  showSection(section: SectionId): void {
    if (!this._sections[section]) {
      this._toggleSection(section);
    }
    this._afterRender(() => {
      this.node
        .querySelector(`.nbops-section-${section} .nbops-section-toggle`)
        ?.scrollIntoView({ block: 'nearest' });
    });
  }

  /**
   * Show one version of a model: the Models section open, the model expanded,
   * the version's detail shown and scrolled to.
   */
  reveal(model: string, version: string): void {
    if (!this._models.state.items.some(item => item.name === model)) {
      // Not on the pages loaded: filter the list down to it.
      this._setFilter(model);
    }
    this._sections = { ...this._sections, models: true };
    this._expandModel(model);
    if (
      this._selected?.model !== model ||
      this._selected?.version !== version
    ) {
      this._select(model, version);
    }
    this.update();
    this._afterRender(() => {
      const item = this.node.querySelector<HTMLElement>(
        `.nbops-model[data-model="${CSS.escape(model)}"] .nbops-version[data-version="${CSS.escape(version)}"] .nbops-version-row`
      );
      item?.scrollIntoView({ block: 'start' });
      item?.focus();
    });
  }

  /**
   * Redraw the charts in the colours of the (new) theme.
   */
  themeChanged(): void {
    this._themeKey++;
    this.update();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    document.removeEventListener('visibilitychange', this._onVisibility);
    this._poller.dispose();
    for (const list of this._lists()) {
      list.dispose();
    }
    this._generation++;
    Signal.clearData(this);
    super.dispose();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    if (this.isVisible) {
      this._poller.start();
      void this.refresh();
    }
  }

  protected onBeforeDetach(msg: Message): void {
    this._poller.stop();
    super.onBeforeDetach(msg);
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._poller.start();
    void this.refresh();
  }

  protected onBeforeHide(msg: Message): void {
    this._poller.stop();
    super.onBeforeHide(msg);
  }

  protected onUpdateRequest(msg: Message): void {
    super.onUpdateRequest(msg);
    const callbacks = this._renderCallbacks.splice(0);
    if (callbacks.length) {
      void this.renderPromise?.then(() => {
        for (const callback of callbacks) {
          callback();
        }
      });
    }
  }

  render(): JSX.Element {
    const trans = this._trans;
    const refreshing =
      this._runs.state.refreshing ||
      this._models.state.refreshing ||
      this._audit.state.refreshing ||
      this._alertsRefreshing;
    const refreshLabel = trans.__('Refresh');
    const models = this._models.state;
    const audit = this._audit.state;
    const openAlerts = this._alerts.open.length;
    return (
      <div className="nbops-content">
        <header className="nbops-header">
          <div className="nbops-heading">
            <h2 className="nbops-title">{EXTENSION_TITLE}</h2>
            {this._store && (
              <span className="nbops-store" title={this._store}>
                {shortenMiddle(this._store)}
              </span>
            )}
          </div>
          <button
            type="button"
            className={'nbops-refresh' + (refreshing ? ' nbops-is-busy' : '')}
            aria-label={refreshLabel}
            title={refreshLabel}
            aria-busy={refreshing}
            onClick={() => {
              this._poller.nudge();
              void this.refresh();
            }}
          >
            <refreshIcon.react tag="span" className="nbops-refresh-icon" />
          </button>
        </header>
        <Section
          id="models"
          title={trans.__('Models')}
          count={
            models.loaded && models.total !== null ? String(models.total) : null
          }
          countTitle={trans.__('Registered models')}
          expanded={this._sections.models}
          onToggle={() => this._toggleSection('models')}
        >
          <ModelsSection
            trans={trans}
            list={models}
            error={this._describe(models.error)}
            filter={this._filter}
            onFilter={text => this._setFilter(text)}
            onLoadMore={() => void this._models.loadMore()}
            isExpanded={name => this._expanded.has(name)}
            onToggleModel={name => this._toggleModel(name)}
            versions={name => {
              const list = this._versions.get(name);
              return list
                ? { state: list.state, error: this._describe(list.state.error) }
                : null;
            }}
            onLoadMoreVersions={name =>
              void this._versions.get(name)?.loadMore()
            }
            selected={this._selected}
            onSelect={(model, version) => {
              this._select(model, version);
              this.update();
            }}
            renderDetail={(model, version) =>
              this._renderDetail(model, version)
            }
          />
        </Section>
        <Section
          id="runs"
          title={trans.__('Recent runs')}
          expanded={this._sections.runs}
          onToggle={() => this._toggleSection('runs')}
        >
          {this._renderRuns()}
        </Section>
        <Section
          id="alerts"
          title={trans.__('Alerts')}
          count={this._alertsLoaded ? String(openAlerts) : null}
          countTitle={trans._n('%1 open alert', '%1 open alerts', openAlerts)}
          attention={openAlerts > 0}
          expanded={this._sections.alerts}
          onToggle={() => this._toggleSection('alerts')}
        >
          <AlertsSection
            trans={trans}
            view={this._alertsView()}
            onShowMoreResolved={() => {
              this._resolvedShown += RESOLVED_ALERTS_STEP;
              this.update();
            }}
            onReveal={(model, version) => this.reveal(model, version)}
          />
        </Section>
        <Section
          id="audit"
          title={trans.__('Audit trail')}
          count={
            audit.loaded && audit.total !== null ? String(audit.total) : null
          }
          countTitle={trans.__('Registry changes recorded')}
          expanded={this._sections.audit}
          onToggle={() => this._toggleSection('audit')}
        >
          <AuditSection
            trans={trans}
            list={audit}
            error={this._describe(audit.error)}
            onLoadMore={() => void this._audit.loadMore()}
          />
        </Section>
      </div>
    );
  }

  private _renderRuns(): JSX.Element | null {
    const trans = this._trans;
    const state = this._runs.state;
    const error = this._describe(state.error);
    let body: JSX.Element | null;
    if (!state.loaded) {
      body = error ? null : <Loading text={trans.__('Loading runs…')} />;
    } else if (state.items.length === 0) {
      body = (
        <div className="nbops-empty">
          <p className="nbops-empty-title">{trans.__('No runs yet.')}</p>
          <ol className="nbops-empty-steps">
            <li>
              {trans.__('In a notebook cell, run')}{' '}
              <code>{LOAD_EXT_SNIPPET}</code>
            </li>
            <li>
              {trans.__('Then start a cell with')} <code>{TRACK_SNIPPET}</code>{' '}
              {trans.__('and run it.')}
            </li>
          </ol>
          <p>{trans.__('The run will show up here.')}</p>
        </div>
      );
    } else {
      body = (
        <>
          <p className="nbops-count" aria-live="polite">
            {trans._n('Showing %1 run', 'Showing %1 runs', state.items.length)}
          </p>
          <ul className="nbops-runs" aria-label={trans.__('Recent runs')}>
            {state.items.map(run => this._renderRun(run))}
          </ul>
          {state.nextPageToken && (
            <LoadMoreButton
              className="nbops-load-more"
              loading={state.loadingMore}
              onClick={() => void this.loadMore()}
              trans={trans}
            />
          )}
        </>
      );
    }
    return (
      <>
        {error && (
          <ErrorNote what={trans.__('runs')} error={error} trans={trans} />
        )}
        {body}
      </>
    );
  }

  private _renderRun(run: IRun): JSX.Element {
    const trans = this._trans;
    const name = run.run_name || run.run_id;
    const status = run.status || '';
    const start = formatStart(run.start_time);
    const duration = runDuration(run);
    return (
      <li
        key={run.run_id}
        className="nbops-run"
        data-run-id={run.run_id}
        tabIndex={0}
        aria-label={trans.__(
          '%1, %2, started %3, duration %4',
          name,
          status,
          start.local,
          duration
        )}
        title={trans.__(
          '%1 — experiment: %2 — run ID: %3',
          name,
          run.experiment_name || run.experiment_id,
          run.run_id
        )}
      >
        <div className="nbops-run-line">
          <span className="nbops-run-name">{name}</span>
          <span className={`nbops-run-status ${statusClass(status)}`}>
            {status}
          </span>
        </div>
        <div className="nbops-run-line nbops-run-meta">
          <time
            className="nbops-run-start"
            dateTime={start.iso || undefined}
            title={start.iso || undefined}
          >
            {start.local}
          </time>
          <span className="nbops-run-duration">{duration}</span>
        </div>
      </li>
    );
  }

  private _renderDetail(model: IModelSummary, version: string): JSX.Element {
    const key = Private.versionKey(model.name, version);
    const detail = this._detail.key === key ? this._detail : null;
    const alerts = [...this._alerts.open, ...this._alerts.resolved].filter(
      alert => alert.model === model.name && String(alert.version) === version
    );
    return (
      <VersionDetail
        key={key}
        trans={this._trans}
        model={model}
        name={model.name}
        version={version}
        detail={detail?.data ?? null}
        detailError={detail?.error ?? null}
        monitoring={detail?.series ?? null}
        monitoringError={detail?.seriesError ?? null}
        alerts={alerts}
        themeKey={this._themeKey}
        action={this._action?.key === key ? this._action : null}
        sanitize={this._sanitize}
        onPromote={alias => void this._promote(model.name, version, alias)}
        onRollback={alias => void this._rollback(model.name, version, alias)}
      />
    );
  }

  private _alertsView(): IAlertsView {
    return {
      open: this._alerts.open,
      resolved: this._alerts.resolved,
      loaded: this._alertsLoaded,
      error: this._alertsError,
      resolvedShown: this._resolvedShown
    };
  }

  // --- refreshing -------------------------------------------------------------

  private _refreshAll(): Promise<RefreshOutcome> {
    if (this._pendingRefresh) {
      return this._pendingRefresh;
    }
    const first: Promise<RefreshOutcome>[] = [];
    if (this._store === null) {
      first.push(this._refreshStatus());
    }
    if (this._sections.models) {
      first.push(this._models.refresh());
      for (const name of this._expanded) {
        const list = this._versions.get(name);
        if (list) {
          first.push(list.refresh());
        }
      }
      if (this._selected) {
        first.push(this._refreshDetail());
      }
    }
    const rest = (): Promise<RefreshOutcome>[] => {
      const tasks: Promise<RefreshOutcome>[] = [];
      if (this._sections.runs) {
        tasks.push(this._runs.refresh());
      }
      // Always: the Alerts title shows the number of open alerts.
      tasks.push(this._refreshAlerts());
      if (this._sections.audit) {
        tasks.push(this._audit.refresh());
      }
      return tasks;
    };
    // The first request to a fresh server loads MLflow there: let the models
    // have it to themselves, then ask for the rest. Afterwards, all at once.
    const pending = (
      this._models.state.loaded || !this._sections.models
        ? Promise.all([...first, ...rest()])
        : Promise.all(first).then(outcomes =>
            Promise.all(rest()).then(more => [...outcomes, ...more])
          )
    )
      .then(Private.combine)
      .finally(() => {
        if (this._pendingRefresh === pending) {
          this._pendingRefresh = null;
        }
      });
    this._pendingRefresh = pending;
    return pending;
  }

  /**
   * Fetch the first page of models in the background (e.g. once JupyterLab
   * has started), so that the panel opens with data. A no-op once loaded.
   */
  prefetch(): Promise<void> {
    if (
      this.isDisposed ||
      !this._sections.models ||
      this._models.state.loaded
    ) {
      return Promise.resolve();
    }
    return this._models.refresh().then(() => undefined);
  }

  private async _tick(): Promise<RefreshOutcome | null> {
    // No requests from a background browser tab or a hidden panel.
    if (
      this.isDisposed ||
      !this.isVisible ||
      document.visibilityState === 'hidden'
    ) {
      return null;
    }
    return this._refreshAll();
  }

  private _onVisibility = (): void => {
    if (document.visibilityState === 'visible' && this.isVisible) {
      this._poller.nudge();
      void this.refresh();
    }
  };

  private async _refreshStatus(): Promise<RefreshOutcome> {
    try {
      const status = await this._api.status();
      if (status.store && this._store === null) {
        this._store = status.store;
        this.update();
        return 'changed';
      }
      return 'same';
    } catch {
      return 'error'; // the lists say what went wrong
    }
  }

  private async _refreshAlerts(): Promise<RefreshOutcome> {
    const generation = this._generation;
    this._alertsRefreshing = true;
    try {
      const [open, resolved] = await Promise.all([
        this._api.alerts('open'),
        this._api.alerts('resolved')
      ]);
      if (generation !== this._generation) {
        return 'same';
      }
      const next = {
        open: Private.sortAlerts(open ?? [], 'opened_at'),
        resolved: Private.sortAlerts(resolved ?? [], 'resolved_at')
      };
      const changed =
        !this._alertsLoaded ||
        this._alertsError !== null ||
        JSON.stringify(next) !== JSON.stringify(this._alerts);
      if (changed) {
        this._alerts = next;
      }
      this._alertsLoaded = true;
      this._alertsError = null;
      return changed ? 'changed' : 'same';
    } catch (reason) {
      if (generation === this._generation) {
        this._alertsError = describeError(reason, this._trans);
      }
      return 'error';
    } finally {
      this._alertsRefreshing = false;
      if (!this.isDisposed) {
        this.update();
      }
    }
  }

  private async _refreshDetail(): Promise<RefreshOutcome> {
    const selected = this._selected;
    if (!selected) {
      return 'same';
    }
    const key = Private.versionKey(selected.model, selected.version);
    const settle = <T,>(promise: Promise<T>) =>
      promise.then(
        value => ({ value, error: null as unknown }),
        (error: unknown) => ({ value: null as T | null, error })
      );
    const [detail, series] = await Promise.all([
      settle(this._api.version(selected.model, selected.version)),
      settle(
        this._api.monitoring(
          selected.model,
          selected.version,
          MONITORING_METRICS
        )
      )
    ]);
    if (this.isDisposed || this._detail.key !== key) {
      return 'same';
    }
    const before = this._detail;
    const data = detail.value ?? before.data;
    const seriesData = series.value ?? before.series;
    const changed =
      JSON.stringify(data) !== JSON.stringify(before.data) ||
      JSON.stringify(seriesData) !== JSON.stringify(before.series);
    this._detail = {
      key,
      data: changed ? data : before.data,
      series: changed ? seriesData : before.series,
      error: detail.error ? describeError(detail.error, this._trans) : null,
      seriesError: series.error
        ? describeError(series.error, this._trans)
        : null
    };
    this.update();
    if (detail.error || series.error) {
      return 'error';
    }
    return changed ? 'changed' : 'same';
  }

  // --- user actions -----------------------------------------------------------

  private _toggleSection(section: SectionId): void {
    const open = !this._sections[section];
    this._sections = { ...this._sections, [section]: open };
    this._viewChanged();
    this.update();
    if (open) {
      this._poller.nudge();
      void this.refresh();
    }
  }

  private _setFilter(text: string): void {
    const filter = text.trim();
    if (filter === this._filter) {
      return;
    }
    this._filter = filter;
    this._viewChanged();
    this._models.reset();
    void this._models.refresh();
  }

  private _toggleModel(name: string): void {
    if (this._expanded.has(name)) {
      this._expanded.delete(name);
      this._viewChanged();
      this._versions.get(name)?.dispose();
      this._versions.delete(name);
      if (this._selected?.model === name) {
        this._select(null, null);
      }
      this.update();
    } else {
      this._expandModel(name);
      this.update();
    }
  }

  private _expandModel(name: string): void {
    if (!this._expanded.has(name)) {
      this._expanded.add(name);
      this._viewChanged();
    }
    let list = this._versions.get(name);
    if (!list) {
      list = new PagedList<IVersionSummary>({
        fetch: async (maxResults, pageToken) => {
          const page = await this._api.versions(name, maxResults, pageToken);
          return {
            items: page.versions ?? [],
            nextPageToken: page.next_page_token ?? null,
            total: page.total ?? null
          };
        },
        key: version => version.version,
        onChange: () => this.update(),
        pageSize: this._config.pageSize,
        maxPageSize: MAX_REGISTRY_PAGE_SIZE
      });
      this._versions.set(name, list);
      void list.refresh();
    }
  }

  /**
   * Select a version (its detail opens), or unselect it when it is selected.
   */
  private _select(model: string | null, version: string | null): void {
    if (
      model === null ||
      version === null ||
      (this._selected?.model === model && this._selected?.version === version)
    ) {
      this._selected = null;
      this._detail = Private.emptyDetail('');
      this._viewChanged();
      return;
    }
    this._selected = { model, version };
    this._viewChanged();
    this._detail = Private.emptyDetail(Private.versionKey(model, version));
    if (this._action && !this._action.busy) {
      this._action = null;
    }
    void this._refreshDetail();
  }

  private async _promote(
    model: string,
    version: string,
    alias: string | null
  ): Promise<void> {
    const trans = this._trans;
    const summary = this._models.state.items.find(m => m.name === model);
    const choice = await askPromote({
      trans,
      model,
      version,
      alias,
      current: alias ? (summary?.aliases?.[alias] ?? null) : null
    });
    if (!choice) {
      return;
    }
    await this._changeAlias(model, version, () =>
      this._api
        .promote(model, version, choice.alias, choice.reason)
        .then(change =>
          trans.__(
            '%1 of %2 now points at version %3.',
            choice.alias,
            model,
            change.aliases?.[choice.alias] ?? version
          )
        )
    );
  }

  private async _rollback(
    model: string,
    version: string,
    alias: string
  ): Promise<void> {
    const trans = this._trans;
    const choice = await askRollback({ trans, model, alias, current: version });
    if (!choice) {
      return;
    }
    await this._changeAlias(model, version, () =>
      this._api.rollback(model, alias, choice.reason).then(change => {
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

  /**
   * Run an alias change, show its outcome on the version, then refresh.
   */
  private async _changeAlias(
    model: string,
    version: string,
    change: () => Promise<string>
  ): Promise<void> {
    const key = Private.versionKey(model, version);
    this._action = { key, busy: true, done: null, error: null };
    this.update();
    try {
      const done = await change();
      this._action = { key, busy: false, done, error: null };
      Notification.success(done, { autoClose: 5000 });
    } catch (reason) {
      const error = describeError(reason, this._trans);
      this._action = { key, busy: false, done: null, error };
      Notification.error(
        error.missingGates.length
          ? this._trans.__(
              'Refused: %1 Missing gates: %2.',
              error.message,
              error.missingGates.join(', ')
            )
          : error.message,
        { autoClose: 8000 }
      );
    }
    this.update();
    this._poller.nudge();
    await this.refresh();
  }

  // --- helpers ----------------------------------------------------------------

  private _viewChanged(): void {
    this._viewStateChanged.emit(this.viewState);
  }

  private _describe(error: unknown): IErrorInfo | null {
    return error === null || error === undefined
      ? null
      : describeError(error, this._trans);
  }

  private _lists(): PagedList<any>[] {
    return [this._runs, this._models, this._audit, ...this._versions.values()];
  }

  /**
   * Run `callback` once the next render is on the page.
   */
  private _afterRender(callback: () => void): void {
    this._renderCallbacks.push(callback);
    this.update();
  }

  private _api: INbopsApi;
  private _config: NbopsPanel.IConfig;
  private _trans: TranslationBundle;
  private _sanitize: (html: string) => string;
  private _poller: Poller;
  private _generation = 0;
  private _pendingRefresh: Promise<RefreshOutcome> | null = null;
  private _renderCallbacks: (() => void)[] = [];
  private _sections: { [section in SectionId]: boolean } = {
    models: true,
    runs: true,
    alerts: true,
    audit: false
  };
  private _store: string | null = null;
  private _runs: PagedList<IRun>;
  private _models: PagedList<IModelSummary>;
  private _filter = '';
  private _expanded = new Set<string>();
  private _versions = new Map<string, PagedList<IVersionSummary>>();
  private _selected: { model: string; version: string } | null = null;
  private _detail: Private.IDetail = Private.emptyDetail('');
  private _action: IActionState | null = null;
  private _alerts: { open: IAlert[]; resolved: IAlert[] } = {
    open: [],
    resolved: []
  };
  private _alertsLoaded = false;
  private _alertsRefreshing = false;
  private _alertsError: IErrorInfo | null = null;
  private _resolvedShown = RESOLVED_ALERTS_STEP;
  private _audit: PagedList<IAuditEvent>;
  private _themeKey = 0;
  private _viewStateChanged = new Signal<this, NbopsPanel.IViewState>(this);
}

/**
 * The namespace for `NbopsPanel` statics.
 */
export namespace NbopsPanel {
  /**
   * What the settings control.
   */
  export interface IConfig {
    /** Seconds between automatic refreshes while visible; 0 disables them. */
    refreshInterval: number;
    /** How many items (runs, models, versions, events) one page holds (1 to 500). */
    pageSize: number;
  }

  export interface IOptions extends Partial<IConfig> {
    /** Fetches a page of runs; defaults to `GET /nbops/api/runs`. */
    fetchRuns?: FetchRuns;
    /** Replaces any of the REST calls (for tests). */
    api?: Partial<INbopsApi>;
    /** Sanitises the model card's HTML once more; JupyterLab's by default. */
    sanitizer?: { sanitize(html: string): string };
    translator?: ITranslator;
  }

  /**
   * What the user opened in the panel.
   */
  export interface IViewState {
    sections: { [section in SectionId]: boolean };
    expanded: string[];
    selected: { model: string; version: string } | null;
    filter: string;
  }

  export const DEFAULT_REFRESH_INTERVAL = 15;
  export const DEFAULT_PAGE_SIZE = 50;
}

namespace Private {
  export interface IDetail {
    key: string;
    data: IVersionDetail | null;
    error: IErrorInfo | null;
    series: IMonitoringSeries | null;
    seriesError: IErrorInfo | null;
  }

  export function emptyDetail(key: string): IDetail {
    return { key, data: null, error: null, series: null, seriesError: null };
  }

  export function versionKey(model: string, version: string): string {
    return `${model}\u0000${version}`;
  }

  /**
   * One outcome for several refreshes: changed if any changed, else error if
   * any failed, else same.
   */
  export function combine(outcomes: RefreshOutcome[]): RefreshOutcome {
    if (outcomes.includes('changed')) {
      return 'changed';
    }
    return outcomes.includes('error') ? 'error' : 'same';
  }

  const SEVERITY_ORDER = ['critical', 'warning', 'info'];

  /**
   * Most severe first, then newest first.
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

  /**
   * A saved view state, checked; null when it is not one.
   */
  export function readViewState(value: unknown): NbopsPanel.IViewState | null {
    if (value === null || typeof value !== 'object') {
      return null;
    }
    const raw = value as { [key: string]: any };
    const sections = {} as { [section in SectionId]: boolean };
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

  /**
   * Clamp settings to what the schema allows, falling back to the defaults.
   */
  export function sanitize(
    config: Partial<NbopsPanel.IConfig>
  ): NbopsPanel.IConfig {
    const interval = Number(config.refreshInterval);
    const size = Number(config.pageSize);
    return {
      refreshInterval:
        config.refreshInterval === undefined || !Number.isFinite(interval)
          ? NbopsPanel.DEFAULT_REFRESH_INTERVAL
          : Math.max(0, Math.floor(interval)),
      pageSize:
        config.pageSize === undefined || !Number.isFinite(size)
          ? NbopsPanel.DEFAULT_PAGE_SIZE
          : Math.min(MAX_PAGE_SIZE, Math.max(1, Math.floor(size)))
    };
  }
}
