/**
 * The Readiness section: each registered model's score on the ML Test Score
 * (`nbops assess`), its weakest section and the next steps that would earn
 * the missing points there, and the project's level (its weakest model's).
 * The assessment is computed by the server; this only picks what to show.
 */

import { IModelReadiness, IReadiness } from '../api';
import { FetchedSection } from './fetched';

/**
 * The rubric's sections, in the paper's order (ties for the weakest go to
 * the first).
 */
export const READINESS_SECTIONS = [
  'data',
  'model',
  'infrastructure',
  'monitoring'
] as const;

export type ReadinessSection = (typeof READINESS_SECTIONS)[number];

/**
 * What the section shows of the project as a whole.
 */
export interface IProjectReadiness {
  /** The weakest model's score; null without models. */
  score: number | null;
  /** The paper's words for that score. */
  level: string | null;
  models: number;
}

/**
 * What the section shows of one model.
 */
export interface IModelReadinessRow {
  model: string;
  version: string | null;
  score: number;
  level: string;
  /** The section the score comes from (the lowest). */
  weakest: ReadinessSection;
  sections: { [section in ReadinessSection]: number };
  /** The weakest section's next steps, one per test that misses points. */
  nextSteps: INextStep[];
}

export interface INextStep {
  test: string;
  title: string;
  /** A command to run or a `pyproject.toml` line. */
  step: string;
}

/**
 * The section a model's score comes from: its lowest, first in the rubric's
 * order on a tie.
 */
export function weakestSection(
  sections: IModelReadiness['sections']
): ReadinessSection {
  let weakest: ReadinessSection = READINESS_SECTIONS[0];
  for (const section of READINESS_SECTIONS) {
    if (sections[section] < sections[weakest]) {
      weakest = section;
    }
  }
  return weakest;
}

/**
 * One model's row: its score, weakest section and that section's next steps
 * (tests without a step, such as those needing a person's judgment, are
 * left out).
 */
export function readinessRow(model: IModelReadiness): IModelReadinessRow {
  const weakest = weakestSection(model.sections);
  return {
    model: model.model,
    version: model.version,
    score: model.score,
    level: model.level,
    weakest,
    sections: { ...model.sections },
    nextSteps: model.tests
      .filter(test => test.section === weakest && test.next_step)
      .map(test => ({
        test: test.id,
        title: test.title,
        step: test.next_step as string
      }))
  };
}

/**
 * The models weakest first (then by name): the ones to work on lead.
 */
export function readinessRows(readiness: IReadiness): IModelReadinessRow[] {
  return readiness.models
    .map(readinessRow)
    .sort(
      (a, b) =>
        a.score - b.score ||
        (a.model < b.model ? -1 : a.model > b.model ? 1 : 0)
    );
}

export class ReadinessModel extends FetchedSection<IModelReadinessRow> {
  readonly id = 'readiness';
  readonly openByDefault = false;

  /**
   * The project's level; null until the first answer.
   */
  get project(): IProjectReadiness | null {
    return this._project;
  }

  protected async fetch(): Promise<IModelReadinessRow[]> {
    const readiness = await this.host.api.readiness();
    this._project = {
      score: readiness.project.score,
      level: readiness.project.level,
      models: readiness.project.models
    };
    return readinessRows(readiness);
  }

  private _project: IProjectReadiness | null = null;
}
