/**
 * The dialogs that change aliases: each asks for a reason (it goes into the
 * audit log) and a confirmation. Text is set with `textContent` only.
 */

import { Dialog, showDialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

/**
 * What the user confirmed.
 */
export interface IAliasChoice {
  alias: string;
  reason: string;
}

/**
 * Aliases as MLflow and nbops accept them.
 */
const ALIAS_PATTERN = /^[A-Za-z_][A-Za-z0-9_-]{0,254}$/;

/**
 * The body of an alias dialog: a sentence saying what will happen, an alias
 * field (when the alias is not given) and a required reason.
 */
class AliasChangeBody
  extends Widget
  implements Dialog.IBodyWidget<IAliasChoice>
{
  constructor(options: AliasChangeBody.IOptions) {
    super();
    this.addClass('nbops-dialog');
    const trans = options.trans;
    this._message = document.createElement('p');
    this._message.className = 'nbops-dialog-message';
    this._message.textContent = options.message;
    this.node.appendChild(this._message);

    if (options.alias === null) {
      this._alias = this._field(
        'nbops-dialog-alias',
        trans.__('Alias'),
        trans.__('e.g. challenger')
      );
      this._alias.value = options.suggestedAlias ?? '';
    } else {
      this._fixedAlias = options.alias;
    }
    this._reason = this._field(
      'nbops-dialog-reason',
      trans.__('Reason (required, recorded in the audit log)'),
      trans.__('e.g. better F1 on the March holdout')
    );
    this._reason.value = options.reason ?? '';
    this._reason.maxLength = 2000;

    this._note = document.createElement('p');
    this._note.className = 'nbops-dialog-note';
    this._note.setAttribute('role', 'alert');
    this._note.textContent = options.error ?? '';
    this._note.hidden = !options.error;
    this.node.appendChild(this._note);

    this._hint = trans.__('A reason is required.');
    this._aliasHint = trans.__(
      'An alias starts with a letter or _ and holds letters, digits, _ and -.'
    );
  }

  getValue(): IAliasChoice {
    return {
      alias: (this._alias ? this._alias.value : this._fixedAlias).trim(),
      reason: this._reason.value.trim()
    };
  }

  /**
   * Why the current values cannot be sent, or null when they can.
   */
  problem(): string | null {
    const value = this.getValue();
    if (this._alias && !ALIAS_PATTERN.test(value.alias)) {
      return this._aliasHint;
    }
    return value.reason ? null : this._hint;
  }

  protected onAfterAttach(): void {
    this.node.addEventListener('input', this);
    this._update();
  }

  protected onBeforeDetach(): void {
    this.node.removeEventListener('input', this);
  }

  handleEvent(): void {
    this._update();
  }

  /**
   * The accept button is enabled only when a reason (and a valid alias) is
   * given.
   */
  private _update(): void {
    const accept = this.node
      .closest('.jp-Dialog-content')
      ?.querySelector<HTMLButtonElement>('.jp-mod-accept');
    if (accept) {
      const problem = this.problem();
      accept.disabled = problem !== null;
      accept.title = problem ?? '';
    }
  }

  private _field(
    className: string,
    label: string,
    placeholder: string
  ): HTMLInputElement {
    const wrapper = document.createElement('label');
    wrapper.className = 'nbops-dialog-field';
    const text = document.createElement('span');
    text.className = 'nbops-dialog-label';
    text.textContent = label;
    const input = document.createElement('input');
    input.type = 'text';
    input.className = `jp-mod-styled ${className}`;
    input.placeholder = placeholder;
    input.required = true;
    input.autocomplete = 'off';
    input.spellcheck = true;
    wrapper.append(text, input);
    this.node.appendChild(wrapper);
    return input;
  }

  private _message: HTMLParagraphElement;
  private _note: HTMLParagraphElement;
  private _alias: HTMLInputElement | null = null;
  private _fixedAlias = '';
  private _reason: HTMLInputElement;
  private _hint: string;
  private _aliasHint: string;
}

namespace AliasChangeBody {
  export interface IOptions {
    trans: TranslationBundle;
    message: string;
    /** null: the user types the alias. */
    alias: string | null;
    suggestedAlias?: string;
    reason?: string;
    error?: string;
  }
}

/**
 * Ask for a reason (and the alias when `alias` is null) and a confirmation.
 * Resolves null when the user cancels. Submitting without a reason shows the
 * dialog again with a note.
 */
async function askAliasChange(options: {
  trans: TranslationBundle;
  title: string;
  message: string;
  accept: string;
  alias: string | null;
  suggestedAlias?: string;
  warn?: boolean;
}): Promise<IAliasChoice | null> {
  const { trans } = options;
  let error: string | undefined;
  let previous: IAliasChoice | null = null;
  for (;;) {
    const body: AliasChangeBody = new AliasChangeBody({
      trans,
      message: options.message,
      alias: options.alias,
      suggestedAlias: previous?.alias ?? options.suggestedAlias,
      reason: previous?.reason,
      error
    });
    const result: Dialog.IResult<IAliasChoice> = await showDialog<IAliasChoice>(
      {
        title: options.title,
        body,
        buttons: [
          Dialog.cancelButton({ label: trans.__('Cancel') }),
          options.warn
            ? Dialog.warnButton({ label: options.accept })
            : Dialog.okButton({ label: options.accept })
        ],
        focusNodeSelector:
          options.alias === null
            ? '.nbops-dialog-alias'
            : '.nbops-dialog-reason'
      }
    );
    if (!result.button.accept || result.value === null) {
      return null;
    }
    error = body.problem() ?? undefined;
    if (error === undefined) {
      return result.value;
    }
    previous = result.value;
  }
}

/**
 * Confirm pointing `alias` (or an alias the user types) of `model` at `version`.
 */
export function askPromote(options: {
  trans: TranslationBundle;
  model: string;
  version: string;
  /** null: ask for the alias. */
  alias: string | null;
  /** The version the alias points at now, if any. */
  current?: string | null;
}): Promise<IAliasChoice | null> {
  const { trans, model, version, alias } = options;
  const message =
    alias === null
      ? trans.__(
          'Point an alias of %1 at version %2. The change and your reason go into the audit log.',
          model,
          version
        )
      : options.current
        ? trans.__(
            'Point %1 of %2 at version %3 (it points at version %4 now). The change and your reason go into the audit log.',
            alias,
            model,
            version,
            options.current
          )
        : trans.__(
            'Point %1 of %2 at version %3. The change and your reason go into the audit log.',
            alias,
            model,
            version
          );
  return askAliasChange({
    trans,
    title:
      alias === null
        ? trans.__('Promote %1 version %2', model, version)
        : trans.__('Promote %1 version %2 to %3', model, version, alias),
    message,
    accept: trans.__('Promote'),
    alias
  });
}

/**
 * Confirm pointing `alias` of `model` back at the version it held before.
 */
export function askRollback(options: {
  trans: TranslationBundle;
  model: string;
  alias: string;
  current: string | null;
}): Promise<IAliasChoice | null> {
  const { trans, model, alias, current } = options;
  return askAliasChange({
    trans,
    title: trans.__('Roll back %1 of %2', alias, model),
    message: current
      ? trans.__(
          'Point %1 of %2 back at the version it held before version %3. The change and your reason go into the audit log.',
          alias,
          model,
          current
        )
      : trans.__(
          'Point %1 of %2 back at the version it held before. The change and your reason go into the audit log.',
          alias,
          model
        ),
    accept: trans.__('Roll back'),
    alias,
    warn: true
  });
}

/**
 * Confirm ending `model`'s running canary: promoting its challenger to
 * `alias` (the promotion policy applies) or aborting it.
 */
export function askCanaryEnding(options: {
  trans: TranslationBundle;
  model: string;
  alias: string;
  ending: 'promote' | 'abort';
}): Promise<IAliasChoice | null> {
  const { trans, model, alias, ending } = options;
  return askAliasChange({
    trans,
    title:
      ending === 'promote'
        ? trans.__('Promote the canary of %1', model)
        : trans.__('Abort the canary of %1', model),
    message:
      ending === 'promote'
        ? trans.__(
            "Point %1 of %2 at the canary's version now; the promotion policy applies. Your reason goes into the audit log.",
            alias,
            model
          )
        : trans.__(
            'Send no more requests to the canary of %1; %2 keeps serving. Your reason goes into the audit log.',
            model,
            alias
          ),
    accept: ending === 'promote' ? trans.__('Promote') : trans.__('Abort'),
    alias,
    warn: ending === 'abort'
  });
}
