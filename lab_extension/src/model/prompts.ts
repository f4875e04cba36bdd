/**
 * The Prompts section: the prompt registry's prompts, paged; an expanded
 * prompt shows its versions (newest first) with their aliases, template and
 * variables, and can move an alias (promote, roll back) under the same policy
 * and audit log as models.
 */

import { Signal } from '@lumino/signaling';

import { IPromptSummary, IPromptVersion } from '../api';
import { IPage, RefreshOutcome } from '../paged';
import { describeError, IErrorInfo } from './errors';
import { ListSection } from './list';
import {
  combineOutcomes,
  ISectionHost,
  MAX_REGISTRY_PAGE_SIZE
} from './section';

/**
 * What is known of one expanded prompt's versions.
 */
export interface IPromptVersionsState {
  loaded: boolean;
  versions: IPromptVersion[];
  total: number | null;
  error: IErrorInfo | null;
}

/**
 * The outcome of the last promote or roll back of a prompt.
 */
export interface IPromptAction {
  name: string;
  busy: boolean;
  done: string | null;
  error: IErrorInfo | null;
}

const NOT_LOADED: IPromptVersionsState = {
  loaded: false,
  versions: [],
  total: null,
  error: null
};

export class PromptsModel extends ListSection<IPromptSummary> {
  constructor(host: ISectionHost) {
    super(host, MAX_REGISTRY_PAGE_SIZE);
  }

  readonly id = 'prompts';
  readonly openByDefault = false;

  /**
   * Emitted when a promote or roll back has finished.
   */
  get actionFinished(): Signal<this, IPromptAction> {
    return this._actionFinished;
  }

  get action(): IPromptAction | null {
    return this._action;
  }

  isExpanded(name: string): boolean {
    return this._expanded.has(name);
  }

  versionsOf(name: string): IPromptVersionsState {
    return this._versions.get(name) ?? NOT_LOADED;
  }

  /**
   * Alias → version of a prompt, from its loaded versions.
   */
  aliasesOf(name: string): { [alias: string]: string } {
    const aliases: { [alias: string]: string } = {};
    for (const version of this.versionsOf(name).versions) {
      for (const alias of version.aliases) {
        aliases[alias] = version.version;
      }
    }
    return aliases;
  }

  /**
   * Expand or fold a prompt; expanding loads its versions.
   */
  toggle(name: string, open = !this._expanded.has(name)): Promise<void> {
    if (open) {
      this._expanded.add(name);
    } else {
      this._expanded.delete(name);
    }
    this.emitChanged();
    return open
      ? this._loadVersions(name).then(() => undefined)
      : Promise.resolve();
  }

  async refresh(): Promise<RefreshOutcome> {
    const outcomes = await Promise.all([
      super.refresh(),
      ...[...this._expanded].map(name => this._loadVersions(name))
    ]);
    return combineOutcomes(outcomes);
  }

  /**
   * Point `alias` of prompt `name` at `version`, then refresh the panel.
   */
  promote(
    name: string,
    version: string,
    alias: string,
    reason: string
  ): Promise<IPromptAction> {
    const trans = this.host.trans;
    return this._changeAlias(name, () =>
      this.host.api
        .promotePrompt(name, version, alias, reason)
        .then(change =>
          trans.__(
            '%1 of prompt %2 now points at version %3.',
            alias,
            name,
            change.aliases?.[alias] ?? version
          )
        )
    );
  }

  /**
   * Point `alias` of prompt `name` back at the version it held before.
   */
  rollback(
    name: string,
    alias: string,
    reason: string
  ): Promise<IPromptAction> {
    const trans = this.host.trans;
    return this._changeAlias(name, () =>
      this.host.api.rollbackPrompt(name, alias, reason).then(change => {
        const now = change.aliases?.[alias];
        return now
          ? trans.__(
              '%1 of prompt %2 rolled back: it points at version %3 again.',
              alias,
              name,
              now
            )
          : trans.__(
              '%1 of prompt %2 rolled back: it is unset now.',
              alias,
              name
            );
      })
    );
  }

  protected async fetchPage(
    maxResults: number,
    pageToken: string | null
  ): Promise<IPage<IPromptSummary>> {
    const page = await this.host.api.prompts(maxResults, pageToken);
    return {
      items: page.prompts ?? [],
      nextPageToken: page.next_page_token ?? null,
      total: page.total ?? null
    };
  }

  protected key(prompt: IPromptSummary): string {
    return prompt.name;
  }

  private async _loadVersions(name: string): Promise<RefreshOutcome> {
    const before = this.versionsOf(name);
    try {
      const page = await this.host.api.promptVersions(
        name,
        this.host.config.pageSize
      );
      const next: IPromptVersionsState = {
        loaded: true,
        versions: page.versions ?? [],
        total: page.total ?? null,
        error: null
      };
      const changed = JSON.stringify(next) !== JSON.stringify(before);
      this._versions.set(name, next);
      this.emitChanged();
      return changed ? 'changed' : 'same';
    } catch (reason) {
      this._versions.set(name, {
        ...before,
        error: describeError(reason, this.host.trans)
      });
      this.emitChanged();
      return 'error';
    }
  }

  private async _changeAlias(
    name: string,
    change: () => Promise<string>
  ): Promise<IPromptAction> {
    this._action = { name, busy: true, done: null, error: null };
    this.emitChanged();
    try {
      const done = await change();
      this._action = { name, busy: false, done, error: null };
    } catch (reason) {
      const error = describeError(reason, this.host.trans);
      this._action = { name, busy: false, done: null, error };
    }
    const outcome = this._action;
    this._actionFinished.emit(outcome);
    this.emitChanged();
    await this.host.refreshNow();
    return outcome;
  }

  private _expanded = new Set<string>();
  private _versions = new Map<string, IPromptVersionsState>();
  private _action: IPromptAction | null = null;
  private _actionFinished = new Signal<this, IPromptAction>(this);
}

/**
 * A template split into text and `{{variable}}` parts, to highlight them.
 */
export interface ITemplatePart {
  text: string;
  variable: string | null;
}

/**
 * MLflow's pattern of a template variable (`PROMPT_TEMPLATE_VARIABLE_PATTERN`).
 */
const VARIABLE =
  /\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*(?:\.[a-zA-Z_][a-zA-Z0-9_]*)*)\s*\}\}/g;

export function templateParts(text: string): ITemplatePart[] {
  const parts: ITemplatePart[] = [];
  let last = 0;
  const pattern = new RegExp(VARIABLE.source, 'g');
  for (
    let match = pattern.exec(text);
    match !== null;
    match = pattern.exec(text)
  ) {
    const at = match.index;
    if (at > last) {
      parts.push({ text: text.slice(last, at), variable: null });
    }
    parts.push({ text: match[0], variable: match[1] });
    last = at + match[0].length;
  }
  if (last < text.length) {
    parts.push({ text: text.slice(last), variable: null });
  }
  return parts;
}
