/**
 * The Deployments section: one row per model server (live, stale or
 * stopped) with the model and alias it serves, the version behind the alias,
 * its traffic split, URL and start time, and its traffic figures when the
 * server reports them; or how to start a first server.
 */

import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { IDeployment } from '../api';
import { formatNumber, formatStart, versionLabel } from '../format';
import {
  DeploymentsModel,
  trafficSplit,
  trafficStats
} from '../model/deployments';
import { IErrorInfo } from '../model/errors';
import { Code, ErrorNote, ISectionView, IViewContext, Loading } from './common';

/**
 * How a user starts a server: from a notebook or a terminal.
 */
const SERVE_MAGIC = '%serve MODEL@ALIAS';
const SERVE_CLI = 'nbops serve MODEL@ALIAS';

export function DeploymentsSection(props: {
  trans: TranslationBundle;
  deployments: readonly IDeployment[];
  loaded: boolean;
  error: IErrorInfo | null;
}): JSX.Element {
  const { trans, deployments, error } = props;
  let body: JSX.Element | null;
  if (!props.loaded) {
    body = error ? null : <Loading text={trans.__('Loading deployments…')} />;
  } else if (deployments.length === 0) {
    body = (
      <div className="nbops-empty nbops-deployments-empty">
        <p className="nbops-empty-title">
          {trans.__('No model servers running.')}
        </p>
        <p>
          {trans.__('In a notebook cell, run')} <Code>{SERVE_MAGIC}</Code>{' '}
          {trans.__('or, in a terminal,')} <Code>{SERVE_CLI}</Code>
          {trans.__('; the server will show up here.')}
        </p>
      </div>
    );
  } else {
    body = (
      <ul className="nbops-deployments" aria-label={trans.__('Model servers')}>
        {deployments.map(deployment => (
          <DeploymentItem
            key={deployment.id}
            deployment={deployment}
            trans={trans}
          />
        ))}
      </ul>
    );
  }
  return (
    <>
      {error && (
        <ErrorNote what={trans.__('deployments')} error={error} trans={trans} />
      )}
      {body}
    </>
  );
}

function statusText(status: string, trans: TranslationBundle): string {
  switch (status) {
    case 'live':
      return trans.__('live');
    case 'stale':
      return trans.__('stale');
    case 'stopped':
      return trans.__('stopped');
    default:
      return status;
  }
}

function DeploymentItem(props: {
  deployment: IDeployment;
  trans: TranslationBundle;
}): JSX.Element {
  const { deployment: d, trans } = props;
  const started = formatStart(d.started === null ? null : d.started * 1000);
  const shares = trafficSplit(d);
  const stats = trafficStats(d);
  const status = statusText(d.status, trans);
  const target = `${d.model}@${d.alias}`;
  const figures: [string, string, string][] = [];
  if (stats.requestsPerMinute !== null) {
    figures.push([
      'rpm',
      trans.__('Requests/min'),
      formatNumber(stats.requestsPerMinute)
    ]);
  }
  if (stats.p95Ms !== null) {
    figures.push([
      'p95',
      trans.__('p95 latency'),
      trans.__('%1 ms', formatNumber(stats.p95Ms))
    ]);
  }
  if (stats.errorRate !== null) {
    figures.push([
      'errors',
      trans.__('Error rate'),
      `${formatNumber(Math.round(stats.errorRate * 10000) / 100)} %`
    ]);
  }
  return (
    <li
      className={`nbops-deployment nbops-deployment-${d.status}`}
      data-deployment-id={d.id}
      data-status={d.status}
      tabIndex={0}
      aria-label={trans.__(
        '%1, %2, serving %3, at %4, started %5',
        target,
        status,
        versionLabel(d.version),
        d.url,
        started.local
      )}
    >
      <div className="nbops-row-line">
        <span className="nbops-deployment-target">{target}</span>
        <span className="nbops-deployment-version">
          {versionLabel(d.version)}
        </span>
        <span
          className={`nbops-deployment-status nbops-deployment-status-${d.status}`}
          title={
            d.status === 'stale'
              ? trans.__(
                  'No heartbeat for %1 s: the server may have died.',
                  Math.round(d.heartbeat_age ?? 0)
                )
              : status
          }
        >
          {status}
        </span>
      </div>
      <div className="nbops-row-line nbops-row-meta nbops-deployment-split">
        <span className="nbops-muted">{trans.__('Traffic')}</span>
        {shares.map(share => (
          <span
            key={`${share.role}-${share.alias}`}
            className={`nbops-split nbops-split-${share.role}`}
            data-alias={share.alias}
            data-role={share.role}
          >
            {share.percent === null
              ? trans.__('%1 (shadow copy)', share.alias)
              : trans.__('%1 %2 %', share.alias, share.percent)}
          </span>
        ))}
      </div>
      <div className="nbops-row-line nbops-row-meta">
        <span className="nbops-mono nbops-deployment-url">{d.url}</span>
        <time
          dateTime={started.iso || undefined}
          title={started.iso || undefined}
        >
          {trans.__('started %1', started.local)}
        </time>
      </div>
      {figures.length > 0 && (
        <dl className="nbops-facts nbops-deployment-stats">
          {figures.map(([key, label, value]) => (
            <React.Fragment key={key}>
              <dt>{label}</dt>
              <dd data-stat={key}>{value}</dd>
            </React.Fragment>
          ))}
        </dl>
      )}
    </li>
  );
}

/**
 * The Deployments section of the panel; its title counts the live servers.
 */
export function deploymentsSection(
  model: DeploymentsModel,
  context: IViewContext
): ISectionView {
  const { trans } = context;
  const live = model.items.filter(d => d.status === 'live').length;
  return {
    title: trans.__('Deployments'),
    count: model.loaded ? String(live) : null,
    countTitle: trans._n('%1 live server', '%1 live servers', live),
    body: (
      <DeploymentsSection
        trans={trans}
        deployments={model.items}
        loaded={model.loaded}
        error={model.error}
      />
    )
  };
}
