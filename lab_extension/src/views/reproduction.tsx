/**
 * The version detail's Reproduction block: the latest `nbops reproduce`
 * verdict (reproduced, differs or could not run), when, the run holding its
 * report, and the metric table; or how to reproduce the version.
 */

import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { IReproduction } from '../api';
import { formatNumber, NO_VALUE } from '../format';
import { Block, Code } from './common';

function percent(value: number | null): string {
  return value === null ? NO_VALUE : `${formatNumber(value * 100)} %`;
}

function verdictText(verdict: string, trans: TranslationBundle): string {
  switch (verdict) {
    case 'reproduced':
      return trans.__('reproduced');
    case 'differs':
      return trans.__('differs');
    case 'could not run':
      return trans.__('could not run');
    default:
      return verdict;
  }
}

export function Reproduction(props: {
  trans: TranslationBundle;
  name: string;
  version: string;
  reproduction: IReproduction | null | undefined;
}): JSX.Element {
  const { trans, reproduction: found } = props;
  const title = trans.__('Reproduction');
  if (!found) {
    return (
      <Block title={title} className="nbops-reproduction">
        <p className="nbops-reproduction-none">
          {trans.__('Not reproduced yet — run')}{' '}
          <Code>{`nbops reproduce ${props.name}/${props.version}`}</Code>
        </p>
      </Block>
    );
  }
  const slug = found.verdict.replace(/ /g, '-');
  return (
    <Block title={title} className="nbops-reproduction">
      <p className="nbops-row-line">
        <span
          className={`nbops-reproduction-verdict nbops-reproduction-${slug}`}
          data-verdict={found.verdict}
        >
          {verdictText(found.verdict, trans)}
        </span>
        {found.time && (
          <time dateTime={found.time} className="nbops-muted">
            {found.time}
          </time>
        )}
      </p>
      {found.summary && (
        <p className="nbops-reproduction-summary">{found.summary}</p>
      )}
      {found.run_id && (
        <p className="nbops-muted">
          {trans.__('Report in run')}{' '}
          <span className="nbops-mono">{found.run_id}</span>
        </p>
      )}
      {found.metrics.length > 0 && (
        <table className="nbops-table nbops-reproduction-metrics">
          <thead>
            <tr>
              <th scope="col">{trans.__('Metric')}</th>
              <th scope="col">{trans.__('Original')}</th>
              <th scope="col">{trans.__('New')}</th>
              <th scope="col">{trans.__('Difference')}</th>
              <th scope="col">{trans.__('Tolerance')}</th>
            </tr>
          </thead>
          <tbody>
            {found.metrics.map(row => (
              <tr
                key={row.name}
                data-metric={row.name}
                className={row.ok ? undefined : 'nbops-reproduction-differs'}
              >
                <th scope="row">{row.name}</th>
                <td className="nbops-number">{formatNumber(row.original)}</td>
                <td className="nbops-number">
                  {row.new === null
                    ? trans.__('missing')
                    : formatNumber(row.new)}
                </td>
                <td className="nbops-number">
                  {percent(row.difference)}
                  {row.ok ? '' : ' ✗'}
                </td>
                <td className="nbops-number">{percent(row.tolerance)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Block>
  );
}
