/**
 * Which two versions of a prompt the diff compares by default, and how a
 * diff line reads. Pure functions; the diff itself is computed by the server
 * (`GET prompts/{name}/diff`), so every face shows the same lines.
 */

import type { IPromptDiff, IPromptVersion } from '../api';

/**
 * The two versions a diff compares: `from` (the `-` side) and `to` (`+`).
 */
export interface IDiffPair {
  from: string;
  to: string;
}

export type IDiffLine = IPromptDiff['blocks'][number]['lines'][number];

function byNumber(versions: readonly IPromptVersion[]): string[] {
  return versions.map(v => v.version).sort((a, b) => Number(a) - Number(b));
}

/**
 * The version `version` is compared with by default: the one before it, or
 * (for the first version) the one after it; null when there is no other.
 */
export function defaultDiffPair(
  versions: readonly IPromptVersion[],
  version?: string
): IDiffPair | null {
  const numbers = byNumber(versions);
  if (numbers.length < 2) {
    return null;
  }
  const to = version ?? numbers[numbers.length - 1];
  const at = numbers.indexOf(to);
  if (at < 0) {
    return null;
  }
  return at > 0
    ? { from: numbers[at - 1], to }
    : { from: to, to: numbers[at + 1] };
}

/**
 * What a screen reader says for a line's mark (the gutter shows `+`/`-`).
 */
export function lineKind(line: IDiffLine): 'added' | 'removed' | 'kept' {
  return line.op === '+' ? 'added' : line.op === '-' ? 'removed' : 'kept';
}
