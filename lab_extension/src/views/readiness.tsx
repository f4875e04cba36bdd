/**
 * The Readiness section: the project's level on the ML Test Score and, per
 * model (weakest first), its score, its weakest section and that section's
 * next steps, each a command or a `pyproject.toml` line with a Copy button.
 */

import { Clipboard } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { formatNumber } from '../format';
import { IErrorInfo } from '../model/errors';
import {
  IModelReadinessRow,
  IProjectReadiness,
  ReadinessModel,
  ReadinessSection
} from '../model/readiness';
import { Code, ErrorNote, ISectionView, IViewContext, Loading } from './common';

const ASSESS_CLI = 'nbops assess';

function sectionName(section: ReadinessSection, trans: TranslationBundle) {
  switch (section) {
    case 'data':
      return trans.__('data');
    case 'model':
      return trans.__('model development');
    case 'infrastructure':
      return trans.__('infrastructure');
    case 'monitoring':
      return trans.__('monitoring');
  }
}

export function ReadinessSectionView(props: {
  trans: TranslationBundle;
  project: IProjectReadiness | null;
  rows: readonly IModelReadinessRow[];
  loaded: boolean;
  error: IErrorInfo | null;
}): JSX.Element {
  const { trans, project, rows, error } = props;
  let body: JSX.Element | null;
  if (!props.loaded) {
    body = error ? null : <Loading text={trans.__('Assessing readiness…')} />;
  } else if (rows.length === 0) {
    body = (
      <div className="nbops-empty nbops-readiness-empty">
        <p className="nbops-empty-title">
          {trans.__('No registered models to assess.')}
        </p>
      </div>
    );
  } else {
    body = (
      <>
        {project && project.score !== null && (
          <p className="nbops-readiness-project" data-score={project.score}>
            {trans.__(
              'Project score %1 (its weakest model): %2',
              formatNumber(project.score),
              project.level ?? ''
            )}
          </p>
        )}
        <ul
          className="nbops-readiness"
          aria-label={trans.__('Readiness per model')}
        >
          {rows.map(row => (
            <ReadinessItem key={row.model} row={row} trans={trans} />
          ))}
        </ul>
        <p className="nbops-muted nbops-readiness-more">
          {trans.__('Every test, with its evidence:')} <Code>{ASSESS_CLI}</Code>
        </p>
      </>
    );
  }
  return (
    <>
      {error && (
        <ErrorNote what={trans.__('readiness')} error={error} trans={trans} />
      )}
      {body}
    </>
  );
}

function ReadinessItem(props: {
  row: IModelReadinessRow;
  trans: TranslationBundle;
}): JSX.Element {
  const { row, trans } = props;
  const weakest = sectionName(row.weakest, trans);
  const score = formatNumber(row.score);
  return (
    <li
      className="nbops-readiness-model"
      data-model={row.model}
      data-score={row.score}
      tabIndex={0}
      aria-label={trans.__(
        '%1: score %2, weakest section %3',
        row.model,
        score,
        weakest
      )}
    >
      <div className="nbops-row-line">
        <span className="nbops-readiness-name">{row.model}</span>
        {row.version && (
          <span className="nbops-muted">{trans.__('v%1', row.version)}</span>
        )}
        <span className="nbops-readiness-score" title={row.level}>
          {trans.__('score %1', score)}
        </span>
      </div>
      <div className="nbops-row-line nbops-row-meta">
        <span className="nbops-readiness-weakest" data-section={row.weakest}>
          {trans.__(
            'weakest: %1 (%2)',
            weakest,
            formatNumber(row.sections[row.weakest])
          )}
        </span>
      </div>
      {row.nextSteps.length > 0 && (
        <ol
          className="nbops-readiness-steps"
          aria-label={trans.__('Next steps for %1', row.model)}
        >
          {row.nextSteps.map(step => (
            <li
              key={step.test}
              className="nbops-readiness-step"
              data-test={step.test}
            >
              <span className="nbops-muted" title={step.title}>
                {step.test}
              </span>{' '}
              <code className="nbops-readiness-command">{step.step}</code>
              <CopyButton text={step.step} trans={trans} />
            </li>
          ))}
        </ol>
      )}
    </li>
  );
}

/**
 * Copies `text` to the clipboard and says so for a moment.
 */
function CopyButton(props: {
  text: string;
  trans: TranslationBundle;
}): JSX.Element {
  const { text, trans } = props;
  const [copied, setCopied] = React.useState(false);
  React.useEffect(() => {
    if (!copied) {
      return;
    }
    const timer = setTimeout(() => setCopied(false), 1500);
    return () => clearTimeout(timer);
  }, [copied]);
  return (
    <button
      type="button"
      className="nbops-copy"
      aria-label={trans.__('Copy %1', text)}
      title={trans.__('Copy to the clipboard')}
      onClick={() => {
        Clipboard.copyToSystem(text);
        setCopied(true);
      }}
    >
      {copied ? trans.__('Copied') : trans.__('Copy')}
    </button>
  );
}

/**
 * The Readiness section of the panel; its title shows the project's score.
 */
export function readinessSection(
  model: ReadinessModel,
  context: IViewContext
): ISectionView {
  const { trans } = context;
  const score = model.project?.score ?? null;
  return {
    title: trans.__('Readiness'),
    count: model.loaded && score !== null ? formatNumber(score) : null,
    countTitle: trans.__('Project score on the ML Test Score'),
    body: (
      <ReadinessSectionView
        trans={trans}
        project={model.project}
        rows={model.items}
        loaded={model.loaded}
        error={model.error}
      />
    )
  };
}
