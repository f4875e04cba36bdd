/**
 * The monitoring charts of a version (drift, performance, latency, fairness),
 * with the alert thresholds drawn in, or what to log to get them.
 */

import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { chartData, ChartKind, hasBatches, lastBatch } from '../charts';
import { formatNumber } from '../format';
import { VegaChart } from './chart';
import { Block, Code, ErrorNote, Loading } from './common';
import type { IVersionDetailProps } from './detail';

function emptyChartHint(kind: ChartKind, trans: TranslationBundle): string {
  switch (kind) {
    case 'drift':
      return trans.__(
        'No drift yet: the version needs a reference profile (register it with data=...).'
      );
    case 'performance':
      return trans.__(
        'No performance yet: pass labels= (and predictions=) to log_batch.'
      );
    case 'latency':
      return trans.__('No latency yet: pass latency_ms= to log_batch.');
    default:
      return trans.__(
        'No fairness gap yet: pass sensitive= (and predictions=) to log_batch.'
      );
  }
}

/**
 * Where to learn monitoring.
 */
const MONITORING_NOTEBOOK = 'notebooks/05_monitoring.ipynb';

export function Monitoring(props: IVersionDetailProps): JSX.Element {
  const { trans, monitoring, name, version } = props;
  let body: React.ReactNode;
  if (!monitoring) {
    body = props.monitoringError ? (
      <ErrorNote
        what={trans.__('monitoring')}
        error={props.monitoringError}
        trans={trans}
      />
    ) : (
      <Loading text={trans.__('Loading monitoring…')} />
    );
  } else if (!hasBatches(monitoring)) {
    body = (
      <div className="nbops-placeholder nbops-monitoring-empty">
        <p>{trans.__('No monitoring batches for this version yet.')}</p>
        <p>
          {trans.__('Log one from a notebook:')}{' '}
          <Code>{`nbops.monitor.log_batch("${name}/${version}", features, predictions, labels)`}</Code>
        </p>
        <p>
          {trans.__('or run')} <Code>{MONITORING_NOTEBOOK}</Code>
        </p>
      </div>
    );
  } else {
    const charts = chartData(monitoring, props.alerts, trans, value =>
      formatNumber(value)
    );
    const shown = charts.filter(chart => !chart.empty);
    const missing = charts.filter(chart => chart.empty);
    body = (
      <>
        <p className="nbops-muted">
          {trans.__('Batches 1 to %1', lastBatch(monitoring) ?? 0)}
        </p>
        {props.monitoringError && (
          <ErrorNote
            what={trans.__('monitoring')}
            error={props.monitoringError}
            trans={trans}
          />
        )}
        {shown.map(chart => (
          <figure className="nbops-figure" key={chart.kind}>
            <figcaption className="nbops-figure-title">
              {chart.title}
            </figcaption>
            <VegaChart
              data={chart}
              themeKey={props.themeKey}
              label={`${chart.title}. ${chart.summary}`}
            />
            <p className="nbops-figure-summary">{chart.summary}</p>
          </figure>
        ))}
        {missing.map(chart => (
          <p className="nbops-muted nbops-chart-missing" key={chart.kind}>
            {emptyChartHint(chart.kind, trans)}
          </p>
        ))}
      </>
    );
  }
  return (
    <Block title={trans.__('Monitoring')} className="nbops-monitoring">
      {body}
    </Block>
  );
}
