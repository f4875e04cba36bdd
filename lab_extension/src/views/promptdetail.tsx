/**
 * What an expanded prompt shows besides its versions: the diff of two
 * versions (lines marked `+`/`-` in a gutter as well as by colour), the
 * usage charts of the version an alias holds, and a version's evaluation.
 */

import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { IPromptVersion } from '../api';
import { formatNumber, formatTime, versionLabel } from '../format';
import { IPromptDiffState, IPromptUsageState } from '../model/prompts';
import { IDiffLine, lineKind } from '../model/promptsdiff';
import {
  choiceKey,
  choiceOf,
  lastWindow,
  UsageChoice,
  usageCharts,
  usageChoices
} from '../model/promptsusage';
import { VegaChart } from './chart';
import { Block, Code, ErrorNote, Loading } from './common';

function VersionSelect(props: {
  className: string;
  label: string;
  value: string;
  versions: readonly IPromptVersion[];
  onChange: (version: string) => void;
}): JSX.Element {
  return (
    <label className="nbops-diff-pick">
      <span className="nbops-muted">{props.label}</span>
      <select
        className={props.className}
        value={props.value}
        onChange={event => props.onChange(event.currentTarget.value)}
      >
        {props.versions.map(v => (
          <option key={v.version} value={v.version}>
            {versionLabel(v.version)}
          </option>
        ))}
      </select>
    </label>
  );
}

function DiffLine(props: {
  line: IDiffLine;
  trans: TranslationBundle;
}): JSX.Element {
  const { line, trans } = props;
  const kind = lineKind(line);
  const spoken =
    kind === 'added'
      ? trans.__('added')
      : kind === 'removed'
        ? trans.__('removed')
        : '';
  return (
    <div className={`nbops-diff-line nbops-diff-${kind}`} data-op={kind}>
      <span className="nbops-diff-number" aria-hidden="true">
        {line.old ?? ''}
      </span>
      <span className="nbops-diff-number" aria-hidden="true">
        {line.new ?? ''}
      </span>
      <span className="nbops-diff-gutter" aria-hidden="true">
        {line.op}
      </span>
      <span className="nbops-diff-text">
        {spoken && <span className="nbops-sr-only">{spoken}: </span>}
        {line.text || '\u00a0'}
      </span>
    </div>
  );
}

function changeLabel(change: string, trans: TranslationBundle): string {
  switch (change) {
    case 'added':
      return trans.__('added');
    case 'removed':
      return trans.__('removed');
    case 'changed':
      return trans.__('changed');
    default:
      return trans.__('unchanged');
  }
}

/**
 * The diff of two versions of a prompt, with a choice of both versions.
 */
export function PromptDiffView(props: {
  name: string;
  state: IPromptDiffState;
  versions: readonly IPromptVersion[];
  trans: TranslationBundle;
  onChange: (from: string, to: string) => void;
  onClose: () => void;
}): JSX.Element {
  const { state, trans, versions } = props;
  const oldest = [...versions].reverse();
  const region = React.useRef<HTMLDivElement>(null);
  React.useEffect(() => {
    // Opened from a version further down: bring it into view.
    region.current?.scrollIntoView?.({ block: 'nearest' });
  }, [state.from, state.to]);
  const diff = state.diff;
  let body: React.ReactNode;
  if (state.error) {
    body = (
      <ErrorNote
        what={trans.__('the diff')}
        error={state.error}
        trans={trans}
      />
    );
  } else if (!diff) {
    body = <Loading text={trans.__('Comparing…')} />;
  } else {
    body = (
      <>
        <p className="nbops-muted nbops-diff-summary" role="status">
          {diff.added || diff.removed
            ? trans.__(
                '%1 → %2: %3 added, %4 removed',
                versionLabel(diff.from_version),
                versionLabel(diff.to_version),
                diff.added,
                diff.removed
              )
            : trans.__(
                '%1 and %2 say the same.',
                versionLabel(diff.from_version),
                versionLabel(diff.to_version)
              )}
        </p>
        {diff.blocks.map((block, index) => (
          <div
            key={index}
            className="nbops-diff-block"
            data-change={block.change}
          >
            {(diff.chat || block.role) && (
              <div className="nbops-row-line">
                <span className="nbops-prompt-role">
                  {block.role ?? trans.__('text')}
                </span>
                {block.old_role && block.old_role !== block.role && (
                  <span className="nbops-muted">
                    {trans.__('(was %1)', block.old_role)}
                  </span>
                )}
                <span className="nbops-muted nbops-diff-change">
                  {changeLabel(block.change, trans)}
                </span>
              </div>
            )}
            <div className="nbops-diff-lines nbops-mono">
              {block.lines.map((line, at) => (
                <DiffLine key={at} line={line} trans={trans} />
              ))}
            </div>
          </div>
        ))}
      </>
    );
  }
  return (
    <div
      ref={region}
      className="nbops-prompt-diff"
      role="region"
      aria-label={trans.__(
        'Diff of %1 from %2 to %3',
        props.name,
        versionLabel(state.from),
        versionLabel(state.to)
      )}
    >
      <div className="nbops-row-line nbops-diff-choice">
        <span className="nbops-detail-title">{trans.__('Diff')}</span>
        <VersionSelect
          className="nbops-diff-from"
          label={trans.__('from')}
          value={state.from}
          versions={oldest}
          onChange={from => props.onChange(from, state.to)}
        />
        <VersionSelect
          className="nbops-diff-to"
          label={trans.__('to')}
          value={state.to}
          versions={oldest}
          onChange={to => props.onChange(state.from, to)}
        />
        <button
          type="button"
          className="nbops-button nbops-diff-close"
          onClick={props.onClose}
        >
          {trans.__('Close diff')}
        </button>
      </div>
      {body}
    </div>
  );
}

/**
 * The usage charts of the version an alias (or the user) picks.
 */
export function PromptUsageView(props: {
  name: string;
  state: IPromptUsageState;
  versions: readonly IPromptVersion[];
  trans: TranslationBundle;
  themeKey: number;
  onChoose: (choice: UsageChoice) => void;
}): JSX.Element {
  const { name, state, trans, versions } = props;
  const choices = usageChoices(versions);
  const key = choiceKey(state.choice);
  const address =
    'alias' in state.choice
      ? `${name}@${state.choice.alias}`
      : `${name}/${state.choice.version}`;
  let body: React.ReactNode;
  if (!state.usage) {
    body = state.error ? (
      <ErrorNote what={trans.__('usage')} error={state.error} trans={trans} />
    ) : (
      <Loading text={trans.__('Loading usage…')} />
    );
  } else {
    const charts = usageCharts(state.usage, trans, value =>
      formatNumber(value)
    );
    const last = lastWindow(state.usage);
    body = charts.length ? (
      <>
        <p className="nbops-muted">
          {trans.__(
            '%1, windows 1 to %2',
            versionLabel(state.usage.version),
            last ?? 0
          )}
        </p>
        {state.error && (
          <ErrorNote
            what={trans.__('usage')}
            error={state.error}
            trans={trans}
          />
        )}
        {charts.map(chart => (
          <figure
            className="nbops-figure nbops-usage-chart"
            data-chart={chart.id}
            key={chart.id}
          >
            <figcaption className="nbops-figure-title">
              {chart.data.title}
            </figcaption>
            <VegaChart
              data={chart.data}
              themeKey={props.themeKey}
              label={`${chart.data.title}. ${chart.data.summary}`}
            />
            <p className="nbops-figure-summary">{chart.data.summary}</p>
          </figure>
        ))}
      </>
    ) : (
      <div className="nbops-placeholder nbops-usage-empty">
        <p>
          {trans.__(
            'No LLM windows logged for %1 yet.',
            versionLabel(state.usage.version)
          )}
        </p>
        <p>
          {trans.__('Log one from a notebook:')}{' '}
          <Code>{`nbops.llm.log_window(prompt="${address}")`}</Code>
        </p>
      </div>
    );
  }
  return (
    <Block title={trans.__('Usage')} className="nbops-prompt-usage">
      <label className="nbops-diff-pick">
        <span className="nbops-muted">{trans.__('of')}</span>
        <select
          className="nbops-usage-choice"
          value={key}
          onChange={event => {
            const choice = choiceOf(event.currentTarget.value);
            if (choice) {
              props.onChoose(choice);
            }
          }}
        >
          {choices.map(c => (
            <option key={c.key} value={c.key}>
              {'alias' in c.choice
                ? `${c.choice.alias} → ${versionLabel(c.version)}`
                : versionLabel(c.version)}
            </option>
          ))}
        </select>
      </label>
      {body}
    </Block>
  );
}

/**
 * A version's latest evaluation: each scorer's mean, or why it has none.
 */
export function PromptEvaluation(props: {
  version: IPromptVersion;
  trans: TranslationBundle;
}): JSX.Element | null {
  const { version, trans } = props;
  const evaluation = version.evaluation;
  if (!evaluation) {
    return null;
  }
  const at = formatTime(evaluation.at ?? null);
  return (
    <div className="nbops-prompt-evaluation">
      <span className="nbops-muted" title={at.iso || undefined}>
        {evaluation.rows !== null && evaluation.rows !== undefined
          ? trans._n(
              'Evaluation (%1 row)',
              'Evaluation (%1 rows)',
              evaluation.rows
            )
          : trans.__('Evaluation')}
      </span>
      <ul
        className="nbops-eval-scores"
        aria-label={trans.__('Evaluation of %1', versionLabel(version.version))}
      >
        {evaluation.scores.map(score => (
          <li
            key={score.scorer}
            className="nbops-eval-score"
            data-scorer={score.scorer}
            data-status={score.status}
            title={score.status}
          >
            <span className="nbops-eval-scorer">{score.scorer}</span>{' '}
            <strong className="nbops-number">
              {score.mean === null || score.mean === undefined
                ? trans.__('no score')
                : formatNumber(score.mean)}
            </strong>
            {score.status && score.status !== 'ok' && (
              <span className="nbops-muted"> ({score.status})</span>
            )}
          </li>
        ))}
      </ul>
    </div>
  );
}
