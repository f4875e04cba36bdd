/**
 * Pure formatting helpers: durations, times, values, gate badges. Durations
 * and values follow the rules in `tests/data/format_cases.json`, shared with
 * the Python side and the notebook widgets.
 */

/**
 * Shown where a value is not known (yet), e.g. the duration of a running run.
 */
export const NO_VALUE = '—';

/**
 * The statuses that have their own badge colour.
 */
const KNOWN_STATUSES = ['finished', 'failed', 'running', 'killed', 'scheduled'];

/**
 * The modifier class of a status badge: `nbops-status-finished` etc.,
 * `nbops-status-unknown` for a status nbops does not know.
 */
export function statusClass(status: string | null | undefined): string {
  const key = (status ?? '').toLowerCase();
  return `nbops-status-${KNOWN_STATUSES.includes(key) ? key : 'unknown'}`;
}

/**
 * Format a duration: "850 ms", "12.3 s", "4 min 5 s", "2 h 3 min".
 */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) {
    return NO_VALUE;
  }
  if (ms < 1000) {
    return `${Math.round(ms)} ms`;
  }
  if (ms < 60_000) {
    // Keep one decimal but never show "60.0 s".
    const seconds = Math.floor(ms / 100) / 10;
    return `${seconds.toFixed(1)} s`;
  }
  const totalSeconds = Math.floor(ms / 1000);
  if (totalSeconds < 3600) {
    const minutes = Math.floor(totalSeconds / 60);
    const seconds = totalSeconds % 60;
    return seconds ? `${minutes} min ${seconds} s` : `${minutes} min`;
  }
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  return minutes ? `${hours} h ${minutes} min` : `${hours} h`;
}

/**
 * The duration of a run: the server's `duration_ms`, else end − start, else
 * "—" (still running, or no start time).
 */
export function runDuration(run: {
  duration_ms: number | null;
  start_time: number | null;
  end_time: number | null;
}): string {
  if (run.duration_ms !== null && run.duration_ms !== undefined) {
    return formatDuration(run.duration_ms);
  }
  if (
    run.start_time !== null &&
    run.start_time !== undefined &&
    run.end_time !== null &&
    run.end_time !== undefined
  ) {
    return formatDuration(run.end_time - run.start_time);
  }
  return NO_VALUE;
}

/**
 * A start time (epoch ms) as a local date-time, plus its ISO form for tooltips
 * and `<time datetime>`. Both are "—"/'' when unknown.
 */
export function formatStart(epochMs: number | null | undefined): {
  local: string;
  iso: string;
} {
  if (epochMs === null || epochMs === undefined || !Number.isFinite(epochMs)) {
    return { local: NO_VALUE, iso: '' };
  }
  const date = new Date(epochMs);
  if (Number.isNaN(date.getTime())) {
    return { local: NO_VALUE, iso: '' };
  }
  return { local: date.toLocaleString(), iso: date.toISOString() };
}

/**
 * Shorten a long store URI in the middle, keeping its scheme and its end
 * (the database file or host), which are what tell two stores apart.
 */
export function shortenMiddle(text: string, max = 44): string {
  if (text.length <= max) {
    return text;
  }
  const head = Math.ceil((max - 1) / 3);
  const tail = max - 1 - head;
  return `${text.slice(0, head)}…${text.slice(text.length - tail)}`;
}

/**
 * Significant digits of a value (Python's `{:.6g}`).
 */
const VALUE_DIGITS = 6;

/**
 * A metric value, by the rule the Python side and the notebook widgets share
 * (`tests/data/format_cases.json`): whole numbers as they are, others to 6
 * significant digits without trailing zeros, in exponent form (`1.5e-05`,
 * `1.23457e+06`) below 1e-4 and from 1e6 on, like Python's `{:.6g}`; text
 * that is not a number as is.
 */
export function formatNumber(
  value: number | string | null | undefined
): string {
  if (value === null || value === undefined || value === '') {
    return NO_VALUE;
  }
  const number = typeof value === 'number' ? value : Number(value);
  if (!Number.isFinite(number)) {
    return typeof value === 'string' ? value : NO_VALUE;
  }
  if (Number.isSafeInteger(number)) {
    return String(number);
  }
  const [mantissa, exponentText] = number
    .toExponential(VALUE_DIGITS - 1)
    .split('e');
  const exponent = Number(exponentText);
  if (exponent < -4 || exponent >= VALUE_DIGITS) {
    const digits = mantissa.replace(/\.?0+$/, '');
    const sign = exponent < 0 ? '-' : '+';
    return `${digits}e${sign}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  return String(Number(number.toPrecision(VALUE_DIGITS)));
}

/**
 * A time (ISO text or epoch ms) as a local date-time and its ISO form.
 */
export function formatTime(value: string | number | null | undefined): {
  local: string;
  iso: string;
} {
  if (value === null || value === undefined || value === '') {
    return { local: NO_VALUE, iso: '' };
  }
  const epoch = typeof value === 'number' ? value : Date.parse(value);
  return formatStart(Number.isNaN(epoch) ? null : epoch);
}

/**
 * How a gate stands for a version: its verdict, or `missing` when the policy
 * requires it and it has not run.
 */
export type GateState = 'passed' | 'failed' | 'error' | 'missing' | 'unknown';

export interface IGateBadge {
  gate: string;
  state: GateState;
  /** The aliases whose policy requires this gate. */
  requiredFor: string[];
}

/**
 * The badges of a version: the gates the policy requires (in policy order),
 * then any other gate that ran. A required gate without a verdict is `missing`.
 */
export function gateBadges(
  results: { [gate: string]: string } | null | undefined,
  required: { [alias: string]: string[] } | null | undefined
): IGateBadge[] {
  const verdicts = results ?? {};
  const requiredFor = new Map<string, string[]>();
  for (const [alias, gates] of Object.entries(required ?? {})) {
    for (const gate of gates ?? []) {
      const aliases = requiredFor.get(gate) ?? [];
      aliases.push(alias);
      requiredFor.set(gate, aliases);
    }
  }
  const order = [
    ...requiredFor.keys(),
    ...Object.keys(verdicts)
      .filter(gate => !requiredFor.has(gate))
      .sort()
  ];
  return order.map(gate => ({
    gate,
    state: gateState(verdicts[gate]),
    requiredFor: requiredFor.get(gate) ?? []
  }));
}

function gateState(result: string | undefined): GateState {
  if (result === undefined || result === null || result === '') {
    return 'missing';
  }
  const key = String(result).toLowerCase();
  return key === 'passed' || key === 'failed' || key === 'error'
    ? key
    : 'unknown';
}

/**
 * The modifier class of an alert's severity chip.
 */
export function severityClass(severity: string | null | undefined): string {
  const key = (severity ?? '').toLowerCase();
  return `nbops-severity-${
    ['critical', 'warning', 'info'].includes(key) ? key : 'unknown'
  }`;
}

/**
 * `v2` for a version number; "—" when there is none.
 */
export function versionLabel(
  version: string | number | null | undefined
): string {
  return version === null || version === undefined || version === ''
    ? NO_VALUE
    : `v${version}`;
}
