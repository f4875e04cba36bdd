/**
 * The Deployments section: one row per model server (live, stale or
 * stopped) with the model and alias it serves, the version behind the alias,
 * its traffic split, URL and start time, and its traffic figures when the
 * server reports them; or how to start a first server.
 */

import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { IDeployment, IDeploymentTraffic } from '../api';
import { chartLabels } from '../charts';
import { formatNumber, formatStart, versionLabel } from '../format';
import {
  canaryControls,
  DeploymentsModel,
  ICanaryAction,
  trafficCharts,
  trafficSplit,
  trafficStats
} from '../model/deployments';
import { IErrorInfo } from '../model/errors';
import { VegaChart } from './chart';
import { Code, ErrorNote, ISectionView, IViewContext, Loading } from './common';

type CanaryEnding = 'promote' | 'abort';

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
  traffic?: ReadonlyMap<string, IDeploymentTraffic>;
  action?: ICanaryAction | null;
  themeKey?: number;
  onEndCanary?: (model: string, alias: string, ending: CanaryEnding) => void;
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
            traffic={props.traffic?.get(deployment.id) ?? null}
            action={
              props.action?.model === deployment.model ? props.action : null
            }
            themeKey={props.themeKey ?? 0}
            onEndCanary={props.onEndCanary}
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
  traffic: IDeploymentTraffic | null;
  action: ICanaryAction | null;
  themeKey: number;
  onEndCanary?: (model: string, alias: string, ending: CanaryEnding) => void;
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
      {props.traffic && (
        <TrafficCharts
          traffic={props.traffic}
          trans={trans}
          themeKey={props.themeKey}
        />
      )}
      {d.status !== 'stopped' && (
        <CanaryPanel
          deployment={d}
          traffic={props.traffic}
          action={props.action}
          trans={trans}
          onEndCanary={props.onEndCanary}
        />
      )}
    </li>
  );
}

function TrafficCharts(props: {
  traffic: IDeploymentTraffic;
  trans: TranslationBundle;
  themeKey: number;
}): JSX.Element {
  const { traffic, trans } = props;
  const charts = trafficCharts(
    traffic,
    {
      rate: trans.__('Requests per minute'),
      latency: trans.__('p95 latency (ms)'),
      errors: trans.__('Error rate (%)')
    },
    chartLabels(trans),
    (version, role) => trans.__('v%1 (%2)', version, role)
  );
  if (charts.every(chart => chart.empty)) {
    return (
      <p className="nbops-muted nbops-deployment-traffic-empty">
        {trans.__('No inference batches logged since the server started.')}
      </p>
    );
  }
  return (
    <div className="nbops-deployment-traffic" data-traffic-charts="true">
      {charts.map(chart => (
        <figure key={chart.title} className="nbops-deployment-chart">
          <figcaption className="nbops-muted">{chart.title}</figcaption>
          <VegaChart
            data={chart}
            themeKey={props.themeKey}
            label={`${chart.title}. ${chart.summary}`}
          />
        </figure>
      ))}
    </div>
  );
}

function CanaryPanel(props: {
  deployment: IDeployment;
  traffic: IDeploymentTraffic | null;
  action: ICanaryAction | null;
  trans: TranslationBundle;
  onEndCanary?: (model: string, alias: string, ending: CanaryEnding) => void;
}): JSX.Element {
  const { deployment: d, trans, action } = props;
  const canary = props.traffic?.canary ?? null;
  const controls = canaryControls(d, canary, trans);
  const busy = action?.busy === true;
  const off = !controls.enabled || busy;
  // aria-disabled (not disabled) keeps the button focusable and its tooltip
  // shown, so a keyboard or pointer user learns why it does not act.
  const button = (ending: CanaryEnding, label: string) => (
    <button
      type="button"
      className={`nbops-button nbops-canary-button nbops-canary-${ending}`}
      aria-disabled={off}
      title={controls.why ?? label}
      onClick={() => {
        if (!off) {
          props.onEndCanary?.(d.model, d.alias, ending);
        }
      }}
    >
      {label}
    </button>
  );
  return (
    <div
      className="nbops-deployment-canary"
      data-canary-state={canary?.state ?? 'none'}
    >
      {canary && (
        <div className="nbops-row-line nbops-row-meta">
          <span className="nbops-canary-verdict" data-verdict={canary.verdict}>
            {trans.__(
              'Canary v%1 vs v%2: step %3 of %4 at %5 %, %6 (%7)',
              canary.version,
              canary.champion_version,
              canary.step,
              canary.steps.length,
              canary.share,
              canary.verdict,
              canary.reason
            )}
          </span>
        </div>
      )}
      {canary && canary.rules.length > 0 && (
        <ul className="nbops-canary-rules">
          {canary.rules.map(rule => (
            <li key={rule.rule} data-rule={rule.rule}>
              {trans.__(
                '%1: %2 (limit %3) %4',
                rule.rule,
                rule.value === null ? '–' : formatNumber(rule.value),
                formatNumber(rule.limit),
                rule.passed === null
                  ? trans.__('waiting')
                  : rule.passed
                    ? trans.__('pass')
                    : trans.__('fail')
              )}
            </li>
          ))}
        </ul>
      )}
      <div className="nbops-row-line nbops-canary-actions">
        {button('promote', trans.__('Promote canary'))}
        {button('abort', trans.__('Abort'))}
      </div>
      {action?.error && (
        <div className="nbops-error" role="alert">
          {action.error.missingGates.length
            ? trans.__(
                'Refused: %1 Missing gates: %2.',
                action.error.message,
                action.error.missingGates.join(', ')
              )
            : action.error.message}
        </div>
      )}
    </div>
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
        traffic={model.traffic}
        action={model.action}
        themeKey={context.themeKey}
        onEndCanary={context.endCanary}
      />
    )
  };
}
