/**
 * The Alerts section: open alerts first, then the resolved ones a few at a
 * time; each shows its model version in the Models section when clicked.
 */

import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { IAlert, IDelivery } from '../api';
import {
  formatNumber,
  formatTime,
  severityClass,
  versionLabel
} from '../format';
import { AlertsModel } from '../model/alerts';
import { IErrorInfo } from '../model/errors';
import {
  activateOnKey,
  Code,
  CountLine,
  ErrorNote,
  ISectionView,
  IViewContext,
  LoadMoreButton,
  Loading
} from './common';

/**
 * Where alert rules live, and what checks them.
 */
const ALERTS_TABLE = '[tool.nbops.alerts]';
const LOG_BATCH_SNIPPET = 'nbops.monitor.log_batch(...)';

export interface IAlertsView {
  open: IAlert[];
  resolved: IAlert[];
  loaded: boolean;
  error: IErrorInfo | null;
  /** How many resolved alerts are shown. */
  resolvedShown: number;
}

export function AlertsSection(props: {
  trans: TranslationBundle;
  view: IAlertsView;
  onShowMoreResolved: () => void;
  onReveal: (model: string, version: string) => void;
}): JSX.Element {
  const { trans, view } = props;
  if (!view.loaded) {
    return view.error ? (
      <ErrorNote what={trans.__('alerts')} error={view.error} trans={trans} />
    ) : (
      <Loading text={trans.__('Loading alerts…')} />
    );
  }
  const resolved = view.resolved.slice(0, view.resolvedShown);
  return (
    <>
      {view.error && (
        <ErrorNote what={trans.__('alerts')} error={view.error} trans={trans} />
      )}
      {view.open.length === 0 ? (
        <div className="nbops-placeholder nbops-alerts-empty">
          <p>{trans.__('No open alerts.')}</p>
          {view.resolved.length === 0 && (
            <p>
              {trans.__('Alert rules live in')} <Code>{ALERTS_TABLE}</Code>{' '}
              {trans.__('of pyproject.toml; each')}{' '}
              <Code>{LOG_BATCH_SNIPPET}</Code> {trans.__('checks them.')}
            </p>
          )}
        </div>
      ) : (
        <ul className="nbops-alerts" aria-label={trans.__('Open alerts')}>
          {view.open.map(alert => (
            <AlertItem key={alert.id} alert={alert} {...props} />
          ))}
        </ul>
      )}
      {view.resolved.length > 0 && (
        <>
          <h4 className="nbops-subtitle">{trans.__('Resolved')}</h4>
          <CountLine
            text={
              view.resolved.length > resolved.length
                ? trans.__(
                    'Showing %1 of %2 resolved alerts',
                    resolved.length,
                    view.resolved.length
                  )
                : trans._n(
                    'Showing %1 resolved alert',
                    'Showing %1 resolved alerts',
                    resolved.length
                  )
            }
          />
          <ul
            className="nbops-alerts nbops-alerts-resolved"
            aria-label={trans.__('Resolved alerts')}
          >
            {resolved.map(alert => (
              <AlertItem key={alert.id} alert={alert} {...props} />
            ))}
          </ul>
          {view.resolved.length > resolved.length && (
            <LoadMoreButton
              className="nbops-more nbops-alerts-more"
              loading={false}
              onClick={props.onShowMoreResolved}
              trans={trans}
              label={trans.__('Show more')}
            />
          )}
        </>
      )}
    </>
  );
}

function AlertItem(props: {
  trans: TranslationBundle;
  alert: IAlert;
  onReveal: (model: string, version: string) => void;
}): JSX.Element {
  const { trans, alert } = props;
  const opened = formatTime(alert.opened_at ?? null);
  const resolved = formatTime(alert.resolved_at ?? null);
  const reveal = () => props.onReveal(alert.model, alert.version);
  const target = `${alert.model} ${versionLabel(alert.version)}`;
  return (
    <li
      className={`nbops-alert nbops-alert-${alert.state}`}
      data-alert-id={alert.id}
      data-state={alert.state}
    >
      <div
        className="nbops-alert-row"
        role="button"
        tabIndex={0}
        title={trans.__('Show %1 in Models', target)}
        onClick={reveal}
        onKeyDown={activateOnKey(reveal)}
      >
        <div className="nbops-row-line">
          <span className={`nbops-severity ${severityClass(alert.severity)}`}>
            {alert.severity}
          </span>
          <span className="nbops-alert-rule">{alert.rule}</span>
          <span className="nbops-alert-target">{target}</span>
        </div>
        {alert.message && (
          <p className="nbops-alert-message">{alert.message}</p>
        )}
        <div className="nbops-row-line nbops-row-meta">
          <span>
            {alert.state === 'resolved' && resolved.iso
              ? trans.__('resolved %1', resolved.local)
              : trans.__('opened %1', opened.local)}
            {alert.opened_batch !== undefined &&
              ' ' + trans.__('(batch %1)', alert.opened_batch)}
          </span>
          <span className="nbops-alert-value">
            {trans.__(
              '%1 %2 %3',
              formatNumber(alert.value ?? null),
              alert.op,
              formatNumber(alert.threshold)
            )}
          </span>
        </div>
        {alert.retrain_state && (
          <p className="nbops-alert-retrain" data-retrain={alert.retrain_state}>
            {trans.__('Retraining: %1', alert.retrain_state)}
            {alert.challenger_version &&
              ' — ' +
                trans.__(
                  'challenger %1',
                  versionLabel(alert.challenger_version)
                )}
            {alert.gates && ' — ' + trans.__('gates: %1', alert.gates)}
            {alert.promoted === 'true' &&
              ' — ' + trans.__('promoted to champion')}
            {alert.retrain_error && (
              <span className="nbops-alert-retrain-error">
                {' — '}
                {alert.retrain_error}
              </span>
            )}
          </p>
        )}
      </div>
      {alert.deliveries && alert.deliveries.length > 0 && (
        <Deliveries deliveries={alert.deliveries} trans={trans} />
      )}
    </li>
  );
}

/**
 * Each notification channel's latest outcome: delivered, retrying or failed,
 * with the receiver's answer (or why it failed) and when.
 */
function Deliveries(props: {
  deliveries: IDelivery[];
  trans: TranslationBundle;
}): JSX.Element {
  const { trans } = props;
  return (
    <ul className="nbops-deliveries" aria-label={trans.__('Notifications')}>
      {props.deliveries.map(delivery => {
        const at = formatTime(delivery.at ?? null);
        const stage =
          delivery.stage === 'resolved'
            ? trans.__('resolved')
            : trans.__('opened');
        const state = deliveryStateText(delivery.state, trans);
        return (
          <li
            key={`${delivery.stage}-${delivery.channel}`}
            className={`nbops-delivery nbops-delivery-${delivery.state}`}
            data-channel={delivery.channel}
            data-stage={delivery.stage}
            data-state={delivery.state}
            tabIndex={0}
            aria-label={trans.__(
              'Notification of %1 to %2: %3 after %4 attempts, %5: %6',
              stage,
              delivery.channel,
              state,
              delivery.attempts,
              at.local,
              delivery.detail
            )}
          >
            <div className="nbops-row-line">
              <span className="nbops-delivery-channel">{delivery.channel}</span>
              <span className="nbops-muted">{stage}</span>
              <span className="nbops-delivery-state">{state}</span>
              <time
                className="nbops-row-meta"
                dateTime={at.iso || undefined}
                title={at.iso || undefined}
              >
                {at.local}
              </time>
            </div>
            {delivery.detail && (
              <p className="nbops-delivery-detail">
                {delivery.attempts > 1
                  ? trans.__(
                      '%1 (attempt %2)',
                      delivery.detail,
                      delivery.attempts
                    )
                  : delivery.detail}
              </p>
            )}
          </li>
        );
      })}
    </ul>
  );
}

function deliveryStateText(state: string, trans: TranslationBundle): string {
  switch (state) {
    case 'delivered':
      return trans.__('delivered');
    case 'retrying':
      return trans.__('retrying');
    case 'failed':
      return trans.__('failed');
    default:
      return state;
  }
}

/**
 * The Alerts section of the panel; its title counts the open alerts.
 */
export function alertsSection(
  model: AlertsModel,
  context: IViewContext
): ISectionView {
  const { trans } = context;
  const open = model.open.length;
  return {
    title: trans.__('Alerts'),
    count: model.loaded ? String(open) : null,
    countTitle: trans._n('%1 open alert', '%1 open alerts', open),
    attention: open > 0,
    body: (
      <AlertsSection
        trans={trans}
        view={model}
        onShowMoreResolved={() => model.showMoreResolved()}
        onReveal={context.reveal}
      />
    )
  };
}
