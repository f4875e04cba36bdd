/**
 * The Prompts section: the prompt registry's prompts with their aliases; an
 * expanded prompt lists its versions with their aliases, variables, template
 * (variables highlighted) and evaluation, compares two versions line by line,
 * charts the usage of the version an alias holds, and promotes or rolls back
 * an alias through the same dialogs as models.
 */

import { TranslationBundle } from '@jupyterlab/translation';
import { caretDownIcon, caretRightIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { IPromptSummary, IPromptVersion } from '../api';
import { formatStart, versionLabel } from '../format';
import { IErrorInfo } from '../model/errors';
import { IPromptAction, PromptsModel, templateParts } from '../model/prompts';
import { UsageChoice } from '../model/promptsusage';
import { IPagedState } from '../paged';
import {
  activateOnKey,
  AliasChips,
  Code,
  CountLine,
  ErrorNote,
  ISectionView,
  IViewContext,
  LoadMoreButton,
  Loading
} from './common';
import {
  PromptDiffView,
  PromptEvaluation,
  PromptUsageView
} from './promptdetail';

/**
 * What a new user types to register a first prompt.
 */
const PROMPT_SNIPPET = '%%prompt support-reply';

interface IPromptsSectionProps {
  trans: TranslationBundle;
  model: PromptsModel;
  list: Readonly<IPagedState<IPromptSummary>>;
  error: IErrorInfo | null;
  action: IPromptAction | null;
  themeKey: number;
  onLoadMore: () => void;
  /** Compare two versions; without them, `version` against the one before. */
  onDiff: (name: string, from?: string, to?: string) => void;
  onCloseDiff: (name: string) => void;
  onUsage: (name: string, choice: UsageChoice) => void;
  onToggle: (name: string, open: boolean) => void;
  onPromote: (name: string, version: string, alias: string | null) => void;
  onRollback: (name: string, version: string, alias: string) => void;
}

export function PromptsSection(props: IPromptsSectionProps): JSX.Element {
  const { trans, list: state, error } = props;
  let body: JSX.Element | null;
  if (!state.loaded) {
    body = error ? null : <Loading text={trans.__('Loading prompts…')} />;
  } else if (state.items.length === 0) {
    body = (
      <div className="nbops-empty nbops-prompts-empty">
        <p className="nbops-empty-title">{trans.__('No prompts yet.')}</p>
        <p>
          {trans.__('Start a notebook cell with')} <Code>{PROMPT_SNIPPET}</Code>{' '}
          {trans.__('above the template (with {{variables}}) and run it.')}
        </p>
      </div>
    );
  } else {
    const total = state.total;
    body = (
      <>
        <CountLine
          text={
            total !== null && total > state.items.length
              ? trans.__('Showing %1 of %2 prompts', state.items.length, total)
              : trans._n(
                  'Showing %1 prompt',
                  'Showing %1 prompts',
                  state.items.length
                )
          }
        />
        <ul className="nbops-prompts" aria-label={trans.__('Prompts')}>
          {state.items.map((prompt, index) => (
            <PromptItem
              key={prompt.name}
              {...props}
              prompt={prompt}
              index={index}
            />
          ))}
        </ul>
        {state.nextPageToken && (
          <LoadMoreButton
            className="nbops-more nbops-prompts-more"
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
        <ErrorNote what={trans.__('prompts')} error={error} trans={trans} />
      )}
      {body}
    </>
  );
}

function PromptItem(
  props: IPromptsSectionProps & { prompt: IPromptSummary; index: number }
): JSX.Element {
  const { trans, model, prompt } = props;
  const open = model.isExpanded(prompt.name);
  const bodyId = `nbops-prompt-body-${props.index}`;
  const toggle = () => props.onToggle(prompt.name, !open);
  const Caret = open ? caretDownIcon : caretRightIcon;
  const aliases = Object.entries(model.aliasesOf(prompt.name)).sort();
  return (
    <li className="nbops-prompt" data-prompt={prompt.name}>
      <div
        className="nbops-model-row nbops-prompt-row"
        role="button"
        tabIndex={0}
        aria-expanded={open}
        aria-controls={bodyId}
        aria-label={trans.__('Prompt %1', prompt.name)}
        onClick={toggle}
        onKeyDown={activateOnKey(toggle)}
      >
        <div className="nbops-row-line">
          <Caret.react tag="span" className="nbops-caret" />
          <span className="nbops-model-name">{prompt.name}</span>
        </div>
        {aliases.length > 0 && (
          <div className="nbops-row-line nbops-row-meta">
            <AliasChips aliases={aliases} trans={trans} />
          </div>
        )}
        {prompt.description && (
          <p className="nbops-model-description" title={prompt.description}>
            {prompt.description}
          </p>
        )}
      </div>
      {open && (
        <div className="nbops-model-body" id={bodyId}>
          <PromptVersions {...props} />
        </div>
      )}
    </li>
  );
}

function PromptVersions(
  props: IPromptsSectionProps & { prompt: IPromptSummary }
): JSX.Element {
  const { trans, model, prompt } = props;
  const view = model.versionsOf(prompt.name);
  const what = trans.__('the versions of %1', prompt.name);
  if (!view.loaded) {
    return view.error ? (
      <ErrorNote what={what} error={view.error} trans={trans} />
    ) : (
      <Loading text={trans.__('Loading versions…')} />
    );
  }
  const action =
    props.action && props.action.name === prompt.name ? props.action : null;
  const diff = model.diffOf(prompt.name);
  const usage = model.usageOf(prompt.name);
  return (
    <>
      {view.error && <ErrorNote what={what} error={view.error} trans={trans} />}
      {diff && (
        <PromptDiffView
          name={prompt.name}
          state={diff}
          versions={view.versions}
          trans={trans}
          onChange={(from, to) => props.onDiff(prompt.name, from, to)}
          onClose={() => props.onCloseDiff(prompt.name)}
        />
      )}
      {action?.done && (
        <p className="nbops-action-done" role="status">
          {action.done}
        </p>
      )}
      {action?.error && (
        <ErrorNote
          what={trans.__('the alias change')}
          error={action.error}
          trans={trans}
        />
      )}
      {view.total !== null && view.total > view.versions.length && (
        <CountLine
          text={trans.__(
            'Showing the newest %1 of %2 versions',
            view.versions.length,
            view.total
          )}
        />
      )}
      <ul
        className="nbops-versions nbops-prompt-versions"
        aria-label={trans.__('Versions of %1', prompt.name)}
      >
        {view.versions.map(version => (
          <PromptVersionItem
            key={version.version}
            {...props}
            version={version}
            busy={action?.busy ?? false}
            comparable={view.versions.length > 1}
          />
        ))}
      </ul>
      {usage && (
        <PromptUsageView
          name={prompt.name}
          state={usage}
          versions={view.versions}
          trans={trans}
          themeKey={props.themeKey}
          onChoose={choice => props.onUsage(prompt.name, choice)}
        />
      )}
    </>
  );
}

function PromptVersionItem(
  props: IPromptsSectionProps & {
    prompt: IPromptSummary;
    version: IPromptVersion;
    busy: boolean;
    comparable: boolean;
  }
): JSX.Element {
  const { trans, prompt, version, busy } = props;
  const created = formatStart(version.created ?? null);
  const label = versionLabel(version.version);
  return (
    <li
      className="nbops-prompt-version nbops-detail"
      data-version={version.version}
    >
      <div className="nbops-row-line">
        <span className="nbops-version-label">{label}</span>
        <AliasChips
          aliases={version.aliases.map((alias): [string, null] => [
            alias,
            null
          ])}
          trans={trans}
        />
        <time
          className="nbops-row-meta"
          dateTime={created.iso || undefined}
          title={created.iso || undefined}
        >
          {created.local}
        </time>
      </div>
      {version.message && <p className="nbops-muted">{version.message}</p>}
      {version.variables.length > 0 && (
        <div className="nbops-row-line nbops-prompt-variables">
          <span className="nbops-muted">{trans.__('Variables')}</span>
          {version.variables.map(name => (
            <code key={name} className="nbops-prompt-variable">
              {name}
            </code>
          ))}
        </div>
      )}
      <Template version={version} trans={trans} />
      <PromptEvaluation version={version} trans={trans} />
      <div className="nbops-action-row">
        {props.comparable && (
          <button
            type="button"
            className="nbops-button nbops-diff-open"
            title={trans.__(
              'Show what changed between %1 and the version before it',
              label
            )}
            onClick={() =>
              props.onDiff(prompt.name, undefined, version.version)
            }
          >
            {trans.__('Diff')}
          </button>
        )}
        <button
          type="button"
          className="nbops-button nbops-promote"
          disabled={busy}
          title={trans.__(
            'Point an alias of %1 at %2 (asks for the alias and a reason)',
            prompt.name,
            label
          )}
          onClick={() => props.onPromote(prompt.name, version.version, null)}
        >
          {trans.__('Promote…')}
        </button>
        {version.aliases.map(alias => (
          <button
            key={alias}
            type="button"
            className="nbops-button nbops-rollback"
            data-alias={alias}
            disabled={busy}
            title={trans.__(
              'Point %1 back at the version it held before (asks for a reason)',
              alias
            )}
            onClick={() =>
              props.onRollback(prompt.name, version.version, alias)
            }
          >
            {trans.__('Roll back %1', alias)}
          </button>
        ))}
      </div>
    </li>
  );
}

/**
 * The template as text, its `{{variables}}` marked; a chat prompt as its
 * messages, each with its role.
 */
function Template(props: {
  version: IPromptVersion;
  trans: TranslationBundle;
}): JSX.Element {
  const { version, trans } = props;
  const messages =
    typeof version.template === 'string'
      ? [{ role: null as string | null, content: version.template }]
      : version.template.map(m => ({
          role: m.role as string | null,
          content: m.content
        }));
  return (
    <div
      className="nbops-prompt-template"
      aria-label={trans.__('Template of %1', versionLabel(version.version))}
    >
      {messages.map((message, index) => (
        <div key={index} className="nbops-prompt-message">
          {message.role && (
            <span className="nbops-prompt-role">{message.role}</span>
          )}
          <pre className="nbops-mono">
            {templateParts(message.content).map((part, at) =>
              part.variable === null ? (
                <React.Fragment key={at}>{part.text}</React.Fragment>
              ) : (
                <mark
                  key={at}
                  className="nbops-prompt-var"
                  data-variable={part.variable}
                >
                  {part.text}
                </mark>
              )
            )}
          </pre>
        </div>
      ))}
    </div>
  );
}

/**
 * The Prompts section of the panel.
 */
export function promptsSection(
  model: PromptsModel,
  context: IViewContext
): ISectionView {
  const { trans } = context;
  return {
    title: trans.__('Prompts'),
    count:
      model.loaded && model.state.total !== null
        ? String(model.state.total)
        : null,
    countTitle: trans._n('%1 prompt', '%1 prompts', model.state.total ?? 0),
    body: (
      <PromptsSection
        trans={trans}
        model={model}
        list={model.state}
        error={model.error}
        action={model.action}
        themeKey={context.themeKey}
        onLoadMore={() => void model.loadMore()}
        onDiff={(name, from, to) => void model.showDiff(name, from, to)}
        onCloseDiff={name => model.closeDiff(name)}
        onUsage={(name, choice) => void model.showUsage(name, choice)}
        onToggle={(name, open) => void model.toggle(name, open)}
        onPromote={context.promotePrompt}
        onRollback={context.rollbackPrompt}
      />
    )
  };
}
