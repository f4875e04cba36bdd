/**
 * The Recent runs section: name, status, start and duration of each run, or
 * what a new user types to track a first run.
 */

import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { IRun } from '../api';
import { formatStart, runDuration, statusClass } from '../format';
import { IErrorInfo } from '../model/errors';
import { RunsModel } from '../model/runs';
import { IPagedState } from '../paged';
import {
  ErrorNote,
  ISectionView,
  IViewContext,
  LoadMoreButton,
  Loading
} from './common';

/**
 * What a new user types to start tracking.
 */
const LOAD_EXT_SNIPPET = '%load_ext nbops';
const TRACK_SNIPPET = '%%track my-first-run';

export function RunsSection(props: {
  trans: TranslationBundle;
  list: Readonly<IPagedState<IRun>>;
  error: IErrorInfo | null;
  onLoadMore: () => void;
}): JSX.Element {
  const { trans, list: state, error } = props;
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
          {state.items.map(run => (
            <RunItem key={run.run_id} run={run} trans={trans} />
          ))}
        </ul>
        {state.nextPageToken && (
          <LoadMoreButton
            className="nbops-load-more"
            loading={state.loadingMore}
            onClick={props.onLoadMore}
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

function RunItem(props: { run: IRun; trans: TranslationBundle }): JSX.Element {
  const { run, trans } = props;
  const name = run.run_name || run.run_id;
  const status = run.status || '';
  const start = formatStart(run.start_time);
  const duration = runDuration(run);
  return (
    <li
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
 * The Recent runs section of the panel.
 */
export function runsSection(
  model: RunsModel,
  context: IViewContext
): ISectionView {
  const { trans } = context;
  return {
    title: trans.__('Recent runs'),
    body: (
      <RunsSection
        trans={trans}
        list={model.state}
        error={model.error}
        onLoadMore={() => void model.loadMore()}
      />
    )
  };
}
