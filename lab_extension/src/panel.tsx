import { ServerConnection } from '@jupyterlab/services';
import {
  ITranslator,
  nullTranslator,
  TranslationBundle
} from '@jupyterlab/translation';
import { ReactWidget, refreshIcon } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import * as React from 'react';

import { FetchRuns, fetchRuns, IRun } from './api';
import { formatStart, runDuration, shortenMiddle, statusClass } from './format';

/**
 * The product name, shown as is in every language.
 */
export const EXTENSION_TITLE = 'nbops';

/**
 * The largest page the panel asks for (the schema's `pageSize` maximum).
 */
export const MAX_PAGE_SIZE = 500;

/**
 * What a new user types to start tracking.
 */
const LOAD_EXT_SNIPPET = '%load_ext nbops';
const TRACK_SNIPPET = '%%track my-first-run';

/**
 * The sidebar panel listing recent nbops runs.
 *
 * It refreshes when shown, every `refreshInterval` seconds while visible, and on
 * demand (`refresh()`, the Refresh button, the `nbops:refresh` command).
 */
export class NbopsPanel extends ReactWidget {
  constructor(options: NbopsPanel.IOptions = {}) {
    super();
    this.addClass('nbops-panel');
    this._fetchRuns = options.fetchRuns ?? fetchRuns;
    this._trans = (options.translator ?? nullTranslator).load('nbops');
    this._config = Private.sanitize({
      refreshInterval: options.refreshInterval,
      pageSize: options.pageSize
    });
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
    return this._state.runs;
  }

  /**
   * Change the refresh interval and/or page size (from the settings).
   */
  configure(config: Partial<NbopsPanel.IConfig>): void {
    const previous = this._config;
    this._config = Private.sanitize({ ...previous, ...config });
    if (
      this._timer !== null &&
      previous.refreshInterval !== this._config.refreshInterval
    ) {
      this._startTimer();
    }
  }

  /**
   * Reload the list from the server, keeping as many runs as are shown.
   *
   * Concurrent calls share one request. Never rejects: failures are shown.
   */
  refresh(): Promise<void> {
    if (this.isDisposed) {
      return Promise.resolve();
    }
    if (this._pendingRefresh) {
      return this._pendingRefresh;
    }
    const generation = ++this._generation;
    const maxResults = Math.min(
      Math.max(this._config.pageSize, this._state.runs.length),
      MAX_PAGE_SIZE
    );
    this._setState({ refreshing: true });

    const pending: Promise<void> = this._fetchFirstPage(
      generation,
      maxResults
    ).then(() => {
      if (this._pendingRefresh === pending) {
        this._pendingRefresh = null;
      }
    });
    this._pendingRefresh = pending;
    return pending;
  }

  /**
   * Fetch the next page and append it. A no-op on the last page, while a page
   * is loading, or while a refresh is pending.
   */
  async loadMore(): Promise<void> {
    const token = this._state.nextPageToken;
    if (
      this.isDisposed ||
      !token ||
      this._state.loadingMore ||
      this._pendingRefresh
    ) {
      return;
    }
    const generation = this._generation;
    this._setState({ loadingMore: true });
    try {
      const page = await this._fetchRuns(this._config.pageSize, token);
      if (generation !== this._generation || this.isDisposed) {
        return;
      }
      this._setState({
        runs: Private.appendUnique(this._state.runs, page.runs ?? []),
        store: page.store ?? this._state.store,
        nextPageToken: page.next_page_token ?? null,
        loadingMore: false,
        error: null
      });
    } catch (reason) {
      if (generation !== this._generation || this.isDisposed) {
        return;
      }
      this._setState({
        loadingMore: false,
        error: Private.describeError(reason, this._trans)
      });
    }
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._stopTimer();
    // Responses arriving after this are dropped.
    this._generation++;
    super.dispose();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    if (this.isVisible) {
      this._startTimer();
      void this.refresh();
    }
  }

  protected onBeforeDetach(msg: Message): void {
    this._stopTimer();
    super.onBeforeDetach(msg);
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._startTimer();
    void this.refresh();
  }

  protected onBeforeHide(msg: Message): void {
    this._stopTimer();
    super.onBeforeHide(msg);
  }

  render(): JSX.Element {
    const trans = this._trans;
    const state = this._state;
    const refreshLabel = trans.__('Refresh runs');
    return (
      <div className="nbops-content">
        <header className="nbops-header">
          <div className="nbops-heading">
            <h2 className="nbops-title">{EXTENSION_TITLE}</h2>
            {state.store && (
              <span className="nbops-store" title={state.store}>
                {shortenMiddle(state.store)}
              </span>
            )}
          </div>
          <button
            type="button"
            className={
              'nbops-refresh' + (state.refreshing ? ' nbops-is-busy' : '')
            }
            aria-label={refreshLabel}
            title={refreshLabel}
            aria-busy={state.refreshing}
            onClick={() => {
              void this.refresh();
            }}
          >
            <refreshIcon.react tag="span" className="nbops-refresh-icon" />
          </button>
        </header>
        <section className="nbops-section">
          <h3 className="nbops-section-title">{trans.__('Recent runs')}</h3>
          {state.error && (
            <div className="nbops-error" role="alert">
              {trans.__(
                'Could not load runs: %1.',
                state.error.message.replace(/[.\s]+$/, '')
              )}{' '}
              <span className="nbops-error-hint">{state.error.hint}</span>
            </div>
          )}
          {this._renderBody()}
        </section>
      </div>
    );
  }

  private _renderBody(): JSX.Element | null {
    const trans = this._trans;
    const state = this._state;
    if (!state.loaded) {
      if (state.error) {
        return null;
      }
      return (
        <div className="nbops-loading" role="status">
          <span className="nbops-spinner" aria-hidden="true" />
          {trans.__('Loading runs…')}
        </div>
      );
    }
    if (state.runs.length === 0) {
      return (
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
    }
    return (
      <>
        <p className="nbops-count" aria-live="polite">
          {trans._n('Showing %1 run', 'Showing %1 runs', state.runs.length)}
        </p>
        <ul className="nbops-runs" aria-label={trans.__('Recent runs')}>
          {state.runs.map(run => this._renderRun(run))}
        </ul>
        {state.nextPageToken && (
          <button
            type="button"
            className="nbops-load-more"
            aria-busy={state.loadingMore}
            onClick={() => {
              void this.loadMore();
            }}
          >
            {state.loadingMore ? trans.__('Loading…') : trans.__('Load more')}
          </button>
        )}
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

  /**
   * Fetch the first `maxResults` runs and replace the list. Never rejects.
   */
  private async _fetchFirstPage(
    generation: number,
    maxResults: number
  ): Promise<void> {
    try {
      const page = await this._fetchRuns(maxResults, null);
      if (generation !== this._generation || this.isDisposed) {
        return;
      }
      this._setState({
        runs: Private.appendUnique([], page.runs ?? []),
        store: page.store ?? null,
        nextPageToken: page.next_page_token ?? null,
        loaded: true,
        refreshing: false,
        loadingMore: false,
        error: null
      });
    } catch (reason) {
      if (generation !== this._generation || this.isDisposed) {
        return;
      }
      this._setState({
        refreshing: false,
        loadingMore: false,
        error: Private.describeError(reason, this._trans)
      });
    }
  }

  private _setState(change: Partial<Private.IState>): void {
    this._state = { ...this._state, ...change };
    this.update();
  }

  private _startTimer(): void {
    this._stopTimer();
    const seconds = this._config.refreshInterval;
    if (seconds > 0) {
      this._timer = window.setInterval(() => {
        this._onTick();
      }, seconds * 1000);
    }
  }

  private _stopTimer(): void {
    if (this._timer !== null) {
      window.clearInterval(this._timer);
      this._timer = null;
    }
  }

  private _onTick(): void {
    // No requests from a background browser tab or a hidden panel.
    if (!this.isVisible || document.visibilityState === 'hidden') {
      return;
    }
    void this.refresh();
  }

  private _config: NbopsPanel.IConfig;
  private _fetchRuns: FetchRuns;
  private _generation = 0;
  private _pendingRefresh: Promise<void> | null = null;
  private _state: Private.IState = {
    runs: [],
    store: null,
    nextPageToken: null,
    loaded: false,
    refreshing: false,
    loadingMore: false,
    error: null
  };
  private _timer: number | null = null;
  private _trans: TranslationBundle;
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
    /** How many runs one page holds (1 to 500). */
    pageSize: number;
  }

  export interface IOptions extends Partial<IConfig> {
    /** Fetches a page of runs; defaults to `GET /nbops/api/runs`. */
    fetchRuns?: FetchRuns;
    translator?: ITranslator;
  }

  export const DEFAULT_REFRESH_INTERVAL = 15;
  export const DEFAULT_PAGE_SIZE = 50;
}

namespace Private {
  export interface IErrorInfo {
    message: string;
    hint: string;
  }

  export interface IState {
    runs: IRun[];
    store: string | null;
    nextPageToken: string | null;
    /** Whether a first page has been received. */
    loaded: boolean;
    refreshing: boolean;
    loadingMore: boolean;
    error: IErrorInfo | null;
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

  /**
   * `current` followed by the runs of `more` not already in it (a new run
   * shifts the pages, so the next page may repeat the last run shown).
   */
  export function appendUnique(current: IRun[], more: IRun[]): IRun[] {
    const seen = new Set(current.map(run => run.run_id));
    const result = current.slice();
    for (const run of more) {
      if (!seen.has(run.run_id)) {
        seen.add(run.run_id);
        result.push(run);
      }
    }
    return result;
  }

  /**
   * A one-line message and a hint for a failed request.
   */
  export function describeError(
    reason: unknown,
    trans: TranslationBundle
  ): IErrorInfo {
    if (reason instanceof ServerConnection.ResponseError) {
      const status = reason.response.status;
      let hint: string;
      if (status === 404) {
        hint = trans.__(
          'Is the nbops server extension enabled? Check with `jupyter server extension list`.'
        );
      } else if (status === 401 || status === 403) {
        hint = trans.__('Your session may have expired: reload the page.');
      } else if (status >= 500) {
        hint = trans.__('The Jupyter server log has the details.');
      } else {
        hint = trans.__('Use Refresh to try again.');
      }
      return { message: reason.message, hint };
    }
    if (reason instanceof ServerConnection.NetworkError) {
      return {
        message: reason.message,
        hint: trans.__('Is the Jupyter server running?')
      };
    }
    return {
      message: reason instanceof Error ? reason.message : String(reason),
      hint: trans.__('Use Refresh to try again.')
    };
  }
}
