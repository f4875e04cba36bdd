/**
 * One model version in detail: aliases and the actions on them, gates, the
 * monitoring charts, training metrics, lineage and the model card.
 */

import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import {
  IAlert,
  IModelSummary,
  IMonitoringSeries,
  IVersionDetail
} from '../api';
import { formatNumber, formatStart, formatTime, NO_VALUE } from '../format';
import { IErrorInfo } from '../model/errors';
import { IActionState } from '../model/version';
import {
  AliasChips,
  Block,
  Code,
  ErrorNote,
  GateBadges,
  Loading
} from './common';
import { Monitoring } from './monitoring';
import { Reproduction } from './reproduction';

export interface IVersionDetailProps {
  trans: TranslationBundle;
  model: IModelSummary | null;
  name: string;
  version: string;
  detail: IVersionDetail | null;
  detailError: IErrorInfo | null;
  monitoring: IMonitoringSeries | null;
  monitoringError: IErrorInfo | null;
  /** The alerts of this version (their thresholds are drawn on the charts). */
  alerts: IAlert[];
  themeKey: number;
  action: IActionState | null;
  sanitize: (html: string) => string;
  onPromote: (alias: string | null) => void;
  onRollback: (alias: string) => void;
}

export function VersionDetail(props: IVersionDetailProps): JSX.Element {
  const { trans, detail, name, version } = props;
  const label = trans.__('%1 version %2', name, version);
  if (!detail) {
    return (
      <div className="nbops-detail" role="region" aria-label={label}>
        {props.detailError ? (
          <ErrorNote
            what={trans.__('version %1', version)}
            error={props.detailError}
            trans={trans}
          />
        ) : (
          <Loading text={trans.__('Loading version %1…', version)} />
        )}
      </div>
    );
  }
  const registered = formatStart(detail.created);
  const run = detail.lineage?.source_run ?? null;
  return (
    <div
      className="nbops-detail"
      role="region"
      aria-label={label}
      data-model={name}
      data-version={version}
    >
      {props.detailError && (
        <ErrorNote
          what={trans.__('version %1', version)}
          error={props.detailError}
          trans={trans}
        />
      )}
      {detail.description && (
        <p className="nbops-detail-description">{detail.description}</p>
      )}
      <dl className="nbops-facts">
        <dt>{trans.__('Status')}</dt>
        <dd>{detail.status || NO_VALUE}</dd>
        <dt>{trans.__('Registered')}</dt>
        <dd>
          <time dateTime={registered.iso || undefined}>{registered.local}</time>
        </dd>
        <dt>{trans.__('Training run')}</dt>
        <dd className="nbops-mono" title={detail.run_id ?? undefined}>
          {run?.run_name || detail.run_id || NO_VALUE}
        </dd>
        {detail.deploy?.image && (
          <>
            <dt>{trans.__('Image')}</dt>
            <dd
              className="nbops-mono nbops-deploy-image"
              title={
                detail.deploy.image_digest
                  ? trans.__('pushed, digest %1', detail.deploy.image_digest)
                  : trans.__(
                      'built, not pushed (image ID %1): pinned manifests name it by tag',
                      detail.deploy.image_id ?? NO_VALUE
                    )
              }
            >
              {detail.deploy.image_digest
                ? `${detail.deploy.image}@${detail.deploy.image_digest.slice(0, 19)}…`
                : detail.deploy.image}
            </dd>
          </>
        )}
        {detail.deploy?.manifests && (
          <>
            <dt>{trans.__('Manifests')}</dt>
            <dd
              className="nbops-mono nbops-deploy-manifests"
              title={detail.deploy.manifests.folder}
            >
              {trans.__(
                '%1 in %2',
                detail.deploy.manifests.target,
                detail.deploy.manifests.folder
              )}
            </dd>
          </>
        )}
      </dl>
      <Actions {...props} detail={detail} />
      <Gates {...props} detail={detail} />
      <Monitoring {...props} />
      <Metrics trans={trans} detail={detail} />
      <Reproduction
        trans={trans}
        name={name}
        version={version}
        reproduction={detail.reproduction}
      />
      <Lineage trans={trans} detail={detail} />
      <ModelCard
        trans={trans}
        html={detail.card_html}
        sanitize={props.sanitize}
      />
    </div>
  );
}

/**
 * Aliases held (with Roll back) and the aliases this version may be promoted
 * to (disabled, saying which gates are missing, when the policy would refuse).
 */
function Actions(
  props: IVersionDetailProps & { detail: IVersionDetail }
): JSX.Element {
  const { trans, detail, model, action } = props;
  const held = new Set(detail.aliases ?? []);
  const candidates = [
    ...new Set([
      ...Object.keys(detail.policy ?? {}),
      ...Object.keys(model?.aliases ?? {})
    ])
  ]
    .filter(alias => !held.has(alias))
    .sort();
  const busy = action?.busy ?? false;
  return (
    <Block title={trans.__('Aliases')} className="nbops-actions">
      {held.size === 0 && (
        <p className="nbops-muted">
          {trans.__('This version holds no alias.')}
        </p>
      )}
      {[...held].sort().map(alias => (
        <div className="nbops-action-row" key={alias}>
          <AliasChips aliases={[[alias, null]]} trans={trans} />
          <button
            type="button"
            className="nbops-button nbops-rollback"
            data-alias={alias}
            disabled={busy || detail.rollback?.[alias] === null}
            title={
              detail.rollback?.[alias] === null
                ? trans.__(
                    '%1 has held no other version: nothing to roll back to',
                    alias
                  )
                : trans.__(
                    'Point %1 back at version %2 (asks for a reason)',
                    alias,
                    detail.rollback?.[alias] ?? '?'
                  )
            }
            onClick={() => props.onRollback(alias)}
          >
            {trans.__('Roll back %1', alias)}
          </button>
        </div>
      ))}
      {candidates.map(alias => {
        const missing = detail.policy?.[alias]?.missing ?? [];
        const gaps = missing.map(gate => {
          const result = detail.gates?.[gate]?.result;
          return result
            ? trans.__('%1 (%2)', gate, result)
            : trans.__('%1 (not run)', gate);
        });
        const blocked = gaps.length > 0;
        const current = model?.aliases?.[alias] ?? null;
        const title = blocked
          ? trans.__(
              'The promotion policy requires these gates to pass first: %1',
              gaps.join(', ')
            )
          : current
            ? trans.__(
                'Point %1 (now version %2) at version %3 (asks for a reason)',
                alias,
                current,
                detail.version
              )
            : trans.__(
                'Point %1 at version %2 (asks for a reason)',
                alias,
                detail.version
              );
        return (
          <div className="nbops-action-row" key={alias}>
            <button
              type="button"
              className="nbops-button nbops-promote"
              data-alias={alias}
              disabled={blocked || busy}
              aria-describedby={
                blocked
                  ? `nbops-gaps-${detail.model}-${detail.version}-${alias}`
                  : undefined
              }
              title={title}
              onClick={() => props.onPromote(alias)}
            >
              {trans.__('Promote to %1', alias)}
            </button>
            {blocked ? (
              <span
                className="nbops-promote-gaps"
                id={`nbops-gaps-${detail.model}-${detail.version}-${alias}`}
              >
                {trans.__('needs %1', gaps.join(', '))}
              </span>
            ) : (
              current && (
                <span className="nbops-muted">
                  {trans.__('now v%1', current)}
                </span>
              )
            )}
          </div>
        );
      })}
      <div className="nbops-action-row">
        <button
          type="button"
          className="nbops-button nbops-promote-other"
          disabled={busy}
          onClick={() => props.onPromote(null)}
        >
          {candidates.length
            ? trans.__('Promote to another alias…')
            : trans.__('Promote to an alias…')}
        </button>
      </div>
      {action?.busy && <Loading text={trans.__('Saving…')} />}
      {action?.done && (
        <p className="nbops-action-done" role="status">
          {action.done}
        </p>
      )}
      {action?.error && (
        <div className="nbops-error nbops-action-error" role="alert">
          {action.error.message}{' '}
          {action.error.missingGates.length > 0 && (
            <span className="nbops-missing-gates">
              {trans.__('Missing gates:')}{' '}
              {action.error.missingGates.map(gate => (
                <span
                  key={gate}
                  className="nbops-gate nbops-gate-missing"
                  data-gate={gate}
                >
                  {gate}
                </span>
              ))}
            </span>
          )}{' '}
          <span className="nbops-error-hint">{action.error.hint}</span>
        </div>
      )}
    </Block>
  );
}

function Gates(
  props: IVersionDetailProps & { detail: IVersionDetail }
): JSX.Element {
  const { trans, detail } = props;
  const results: { [gate: string]: string } = {};
  for (const [gate, facts] of Object.entries(detail.gates ?? {})) {
    results[gate] = facts.result ?? '';
  }
  const required: { [alias: string]: string[] } = {};
  for (const [alias, policy] of Object.entries(detail.policy ?? {})) {
    required[alias] = policy.required ?? [];
  }
  const empty =
    Object.keys(results).length === 0 && Object.keys(required).length === 0;
  return (
    <Block title={trans.__('Gates')} className="nbops-detail-gates">
      {empty ? (
        <p className="nbops-muted">
          {trans.__('No gate has run on this version. Run one with')}{' '}
          <Code>{`%gate latency --model ${detail.model}/${detail.version}`}</Code>
        </p>
      ) : (
        <>
          <GateBadges results={results} required={required} trans={trans} />
          <ul className="nbops-gate-list">
            {Object.entries(detail.gates ?? {}).map(([gate, facts]) => {
              const when = formatTime(facts.time);
              return (
                <li key={gate}>
                  <span className="nbops-gate-name">{gate}</span>{' '}
                  <span className="nbops-muted">
                    {facts.result}
                    {when.iso ? ' · ' : ''}
                    {when.iso && (
                      <time dateTime={when.iso} title={when.iso}>
                        {when.local}
                      </time>
                    )}
                  </span>
                </li>
              );
            })}
          </ul>
          {Object.entries(detail.policy ?? {}).map(([alias, policy]) => (
            <p className="nbops-policy" key={alias} data-alias={alias}>
              {policy.missing?.length
                ? trans.__(
                    '%1 requires %2 — missing: %3',
                    alias,
                    (policy.required ?? []).join(', '),
                    policy.missing.join(', ')
                  )
                : trans.__(
                    '%1 requires %2 — all passed',
                    alias,
                    (policy.required ?? []).join(', ')
                  )}
            </p>
          ))}
        </>
      )}
    </Block>
  );
}

function Metrics(props: {
  trans: TranslationBundle;
  detail: IVersionDetail;
}): JSX.Element | null {
  const { trans, detail } = props;
  const metrics = Object.entries(detail.metrics ?? {}).sort(([a], [b]) =>
    a < b ? -1 : 1
  );
  const params = Object.entries(detail.params ?? {}).sort(([a], [b]) =>
    a < b ? -1 : 1
  );
  if (metrics.length === 0 && params.length === 0) {
    return null;
  }
  return (
    <Block title={trans.__('Training')} className="nbops-metrics">
      <table className="nbops-table">
        <tbody>
          {metrics.map(([key, value]) => (
            <tr key={`m-${key}`}>
              <th scope="row">{key}</th>
              <td className="nbops-number">{formatNumber(value)}</td>
            </tr>
          ))}
          {params.map(([key, value]) => (
            <tr key={`p-${key}`} className="nbops-param">
              <th scope="row">{key}</th>
              <td>{value}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Block>
  );
}

function Lineage(props: {
  trans: TranslationBundle;
  detail: IVersionDetail;
}): JSX.Element {
  const { trans, detail } = props;
  const lineage = detail.lineage;
  const git = lineage?.git;
  const run = lineage?.source_run;
  const rows: [string, string, string?][] = [
    [trans.__('Notebook'), lineage?.notebook || NO_VALUE],
    [
      trans.__('Git'),
      git?.commit
        ? `${git.commit.slice(0, 10)}${git.branch ? ` (${git.branch})` : ''}${
            git.dirty ? ' ' + trans.__('with uncommitted changes') : ''
          }`
        : NO_VALUE,
      git?.commit ?? undefined
    ],
    [
      trans.__('Cell'),
      lineage?.cell_sha256 ? lineage.cell_sha256.slice(0, 12) : NO_VALUE,
      lineage?.cell_sha256 ?? undefined
    ],
    [
      trans.__('Run'),
      run ? `${run.run_name ?? ''} ${run.run_id}`.trim() : NO_VALUE
    ],
    [trans.__('Python'), lineage?.python || NO_VALUE],
    [
      trans.__('Requirements'),
      (lineage?.requirements ?? []).join(', ') || NO_VALUE
    ]
  ];
  for (const dataset of lineage?.datasets ?? []) {
    rows.push([
      trans.__('Data'),
      `${dataset.name}${dataset.context ? ` (${dataset.context})` : ''}${
        dataset.shape ? ` ${dataset.shape}` : ''
      } ${(dataset.sha256 ?? '').slice(0, 12)}`,
      dataset.sha256
    ]);
  }
  return (
    <Block title={trans.__('Lineage')} className="nbops-lineage">
      <dl className="nbops-facts">
        {rows.map(([key, value, title], index) => (
          <React.Fragment key={index}>
            <dt>{key}</dt>
            <dd title={title}>{value}</dd>
          </React.Fragment>
        ))}
      </dl>
    </Block>
  );
}

/**
 * The model card, closed until asked for. The HTML comes sanitised from the
 * server and goes through JupyterLab's sanitizer once more.
 */
function ModelCard(props: {
  trans: TranslationBundle;
  html: string;
  sanitize: (html: string) => string;
}): JSX.Element {
  const { trans } = props;
  const [open, setOpen] = React.useState(false);
  const id = React.useId();
  const safe = React.useMemo(
    () => (open ? props.sanitize(props.html ?? '') : ''),
    [open, props.html]
  );
  return (
    <div className="nbops-detail-block nbops-card-block">
      <button
        type="button"
        className="nbops-button nbops-card-toggle"
        aria-expanded={open}
        aria-controls={id}
        onClick={() => setOpen(!open)}
      >
        {open ? trans.__('Hide model card') : trans.__('Show model card')}
      </button>
      {open && (
        <div
          id={id}
          className="nbops-card jp-RenderedHTMLCommon"
          dangerouslySetInnerHTML={{ __html: safe }}
        />
      )}
    </div>
  );
}

/**
 * The aliases of a model as chips data: `[alias, version]`, sorted.
 */
export function aliasPairs(aliases: {
  [alias: string]: string;
}): [string, string][] {
  return Object.entries(aliases ?? {}).sort(([a], [b]) => (a < b ? -1 : 1));
}
