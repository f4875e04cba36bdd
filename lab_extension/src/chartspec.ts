/**
 * Vega-Lite specifications of the monitoring charts, and a Vega config made of
 * the JupyterLab theme's colours and fonts. Pure functions.
 */

import {
  CHART_HEIGHT,
  IChartData,
  IChartLabels,
  MAX_DRIFT_LINES
} from './charts';

/**
 * Colours and fonts of the JupyterLab theme, read from its CSS variables.
 */
export interface IChartTheme {
  font: string;
  fontSize: number;
  text: string;
  mutedText: string;
  border: string;
  grid: string;
  background: string;
  /** Categorical colours for the lines. */
  palette: string[];
  /** The colour of thresholds and drifted points. */
  alert: string;
  /** The colours of a heatmap, from no drift to the most. */
  ramp: [string, string];
  isLight: boolean;
}

/**
 * Tableau 10: used after the theme's own colours when there are many lines.
 */
const FALLBACK_PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#59a14f',
  '#e15759',
  '#76b7b2',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac'
];

/**
 * Read the chart theme from CSS variables; `read(name)` returns a variable's
 * value ('' when it is not defined); `fontSizePx` is the theme's small UI font
 * size in pixels (its variable may be relative, e.g. `0.83333em`).
 */
export function readChartTheme(
  read: (name: string) => string,
  isLight: boolean,
  fontSizePx = 11
): IChartTheme {
  const get = (name: string, fallback: string) => read(name).trim() || fallback;
  const text = get('--jp-ui-font-color1', isLight ? '#212121' : '#e0e0e0');
  const themed = [
    get('--jp-brand-color1', '#1976d2'),
    get('--jp-warn-color1', '#f57c00'),
    get('--jp-success-color1', '#388e3c'),
    get('--jp-info-color1', '#0097a7'),
    get('--jp-mirror-editor-meta-color', '#aa22ff'),
    get('--jp-mirror-editor-string-color', '#ba2121')
  ];
  return {
    font: get('--jp-ui-font-family', 'sans-serif'),
    fontSize: Number.isFinite(fontSizePx) && fontSizePx > 0 ? fontSizePx : 11,
    text,
    mutedText: get('--jp-ui-font-color2', text),
    border: get('--jp-border-color1', '#bdbdbd'),
    grid: get('--jp-border-color2', '#e0e0e0'),
    background: get('--jp-layout-color1', isLight ? '#ffffff' : '#111111'),
    palette: [...new Set(themed), ...FALLBACK_PALETTE],
    alert: get('--jp-error-color1', '#d32f2f'),
    ramp: [
      get('--jp-layout-color2', isLight ? '#eeeeee' : '#424242'),
      get('--jp-error-color1', '#d32f2f')
    ],
    isLight
  };
}

/**
 * A Vega config drawing in the theme's colours and fonts on a transparent
 * background.
 */
export function vegaConfig(theme: IChartTheme): { [key: string]: unknown } {
  const label = {
    labelColor: theme.mutedText,
    labelFont: theme.font,
    labelFontSize: theme.fontSize,
    titleColor: theme.text,
    titleFont: theme.font,
    titleFontSize: theme.fontSize,
    titleFontWeight: 600
  };
  return {
    background: null,
    font: theme.font,
    padding: 4,
    view: { stroke: null },
    axis: {
      ...label,
      domainColor: theme.border,
      gridColor: theme.grid,
      tickColor: theme.border,
      gridOpacity: 1
    },
    legend: {
      ...label,
      orient: 'bottom',
      direction: 'horizontal',
      columns: 3,
      symbolSize: 60,
      labelLimit: 120
    },
    title: {
      color: theme.text,
      font: theme.font,
      fontSize: theme.fontSize + 1,
      anchor: 'start'
    },
    text: { color: theme.text, font: theme.font },
    range: {
      category: theme.palette,
      ramp: theme.ramp,
      heatmap: theme.ramp
    },
    line: { strokeWidth: 1.5 },
    point: { size: 24 },
    rule: { color: theme.alert }
  };
}

function batchAxis(labels: IChartLabels): { [key: string]: unknown } {
  return {
    field: 'batch',
    type: 'quantitative',
    title: labels.batch,
    axis: { tickMinStep: 1, format: 'd' },
    scale: { nice: false, zero: false }
  };
}

/**
 * The Vega-Lite specification of one chart (`width` in pixels, the plot area).
 */
export function chartSpec(
  data: IChartData,
  theme: IChartTheme,
  width: number
): { [key: string]: unknown } {
  const base = {
    description: `${data.title}. ${data.summary}`,
    width: Math.max(80, Math.floor(width)),
    height: CHART_HEIGHT,
    autosize: { type: 'fit-x', contains: 'padding' },
    config: vegaConfig(theme)
  };
  if (data.kind === 'drift') {
    const features = new Set(data.drift.map(row => row.feature));
    return features.size > MAX_DRIFT_LINES
      ? driftHeatmap(base, data, theme, features.size)
      : driftLines(base, data, theme);
  }
  const { labels } = data;
  const tooltip = [
    { field: 'series', title: labels.metric },
    { field: 'batch', title: labels.batch },
    { field: 'value', title: data.unit, format: '.4~g' },
    { field: 'time', title: labels.time }
  ];
  const layers: unknown[] = [
    {
      data: { values: data.lines },
      mark: { type: 'line', point: true, tooltip: true },
      encoding: {
        x: batchAxis(labels),
        y: {
          field: 'value',
          type: 'quantitative',
          title: data.unit,
          scale: { zero: false }
        },
        color: { field: 'series', type: 'nominal', title: null },
        tooltip
      }
    }
  ];
  if (data.thresholds.length) {
    layers.push({
      data: { values: data.thresholds },
      mark: { type: 'rule', strokeDash: [4, 3], strokeWidth: 1.25 },
      encoding: {
        y: { field: 'value', type: 'quantitative' },
        color: { value: theme.alert },
        tooltip: [{ field: 'label', title: labels.rule }]
      }
    });
  }
  return { ...base, layer: layers };
}

function driftLines(
  base: { [key: string]: unknown },
  data: IChartData,
  theme: IChartTheme
): { [key: string]: unknown } {
  const { labels } = data;
  const tooltip = [
    { field: 'feature', title: labels.feature },
    { field: 'batch', title: labels.batch },
    { field: 'psi', title: labels.psi, format: '.3~g' },
    { field: 'drifted', title: labels.drifted },
    { field: 'time', title: labels.time }
  ];
  const encoding = {
    x: batchAxis(labels),
    y: { field: 'psi', type: 'quantitative', title: labels.psi },
    color: { field: 'feature', type: 'nominal', title: null },
    tooltip
  };
  return {
    ...base,
    data: { values: data.drift },
    layer: [
      { mark: { type: 'line', tooltip: true }, encoding },
      {
        transform: [{ filter: '!datum.drifted' }],
        mark: { type: 'point', filled: false, size: 24, tooltip: true },
        encoding
      },
      {
        transform: [{ filter: 'datum.drifted' }],
        mark: {
          type: 'point',
          filled: true,
          size: 64,
          stroke: theme.alert,
          strokeWidth: 1.5,
          tooltip: true
        },
        encoding
      }
    ]
  };
}

function driftHeatmap(
  base: { [key: string]: unknown },
  data: IChartData,
  theme: IChartTheme,
  features: number
): { [key: string]: unknown } {
  const { labels } = data;
  const tooltip = [
    { field: 'feature', title: labels.feature },
    { field: 'batch', title: labels.batch },
    { field: 'psi', title: labels.psi, format: '.3~g' },
    { field: 'drifted', title: labels.drifted }
  ];
  const encoding = {
    x: { field: 'batch', type: 'ordinal', title: labels.batch },
    y: { field: 'feature', type: 'nominal', title: null }
  };
  return {
    ...base,
    height: Math.max(CHART_HEIGHT, features * 14),
    data: { values: data.drift },
    layer: [
      {
        mark: { type: 'rect', tooltip: true },
        encoding: {
          ...encoding,
          color: {
            field: 'psi',
            type: 'quantitative',
            title: labels.psi,
            scale: { range: theme.ramp }
          },
          tooltip
        }
      },
      {
        transform: [{ filter: 'datum.drifted' }],
        mark: { type: 'text', text: '●', fontSize: 8, color: theme.text },
        encoding
      }
    ]
  };
}
