/**
 * A Vega-Lite chart in React. vega-embed (with Vega and Vega-Lite) is loaded
 * the first time a chart is drawn, so opening JupyterLab does not pay for it.
 */

import * as React from 'react';

import { IChartData } from '../charts';
import { chartSpec, readChartTheme } from '../chartspec';

type EmbedResult = { view: { finalize(): void } };

let embedModule: Promise<typeof import('vega-embed')> | null = null;

/**
 * vega-embed, imported once, on first use.
 */
function loadEmbed(): Promise<typeof import('vega-embed')> {
  if (!embedModule) {
    embedModule = import('vega-embed').catch(reason => {
      embedModule = null;
      throw reason;
    });
  }
  return embedModule;
}

/**
 * The theme's chart colours, read from the CSS variables in effect at `node`.
 */
function themeAt(node: HTMLElement) {
  const style = window.getComputedStyle(node);
  const isLight = document.body.dataset.jpThemeLight !== 'false';
  // The font size variables may be relative (em): measure one in pixels.
  const probe = document.createElement('span');
  probe.style.fontSize = 'var(--jp-ui-font-size0)';
  probe.style.position = 'absolute';
  probe.style.visibility = 'hidden';
  node.appendChild(probe);
  const fontSize = parseFloat(window.getComputedStyle(probe).fontSize);
  probe.remove();
  return readChartTheme(
    name => style.getPropertyValue(name),
    isLight,
    fontSize
  );
}

/**
 * The width available to a chart, rounded so small layout shifts do not
 * redraw it.
 */
function useWidth(ref: React.RefObject<HTMLElement>): number {
  const [width, setWidth] = React.useState(0);
  React.useEffect(() => {
    const node = ref.current;
    if (!node) {
      return;
    }
    const measure = () => {
      const next = Math.floor(node.clientWidth / 8) * 8;
      setWidth(previous => (next > 0 && next !== previous ? next : previous));
    };
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(node);
    return () => observer.disconnect();
  }, [ref]);
  return width;
}

export interface IVegaChartProps {
  data: IChartData;
  /** Changes when the JupyterLab theme changes, to redraw in its colours. */
  themeKey: number;
  /** Text for assistive technologies and the failure message. */
  label: string;
  onError?: (message: string) => void;
}

/**
 * One chart; redrawn when its data, the theme or its width changes.
 */
export function VegaChart(props: IVegaChartProps): JSX.Element {
  const { data, themeKey, label } = props;
  const outer = React.useRef<HTMLDivElement>(null);
  const target = React.useRef<HTMLDivElement>(null);
  const width = useWidth(outer);
  const [failure, setFailure] = React.useState<string | null>(null);
  const dataKey = JSON.stringify(data);

  React.useEffect(() => {
    const node = target.current;
    if (!node || width <= 0) {
      return;
    }
    let cancelled = false;
    let result: EmbedResult | null = null;
    loadEmbed()
      .then(async ({ default: embed }) => {
        if (cancelled) {
          return;
        }
        const theme = themeAt(node);
        const spec = chartSpec(data, theme, width);
        const embedded = await embed(node, spec as any, {
          mode: 'vega-lite',
          actions: false,
          renderer: 'svg',
          defaultStyle: false,
          tooltip: { theme: theme.isLight ? 'light' : 'dark' }
        });
        if (cancelled) {
          embedded.view.finalize();
          return;
        }
        result = embedded;
        node.dataset.rendered = 'true';
        setFailure(null);
      })
      .catch(reason => {
        if (!cancelled) {
          const message =
            reason instanceof Error ? reason.message : String(reason);
          console.error('nbops: could not draw a chart.', reason);
          setFailure(message);
          props.onError?.(message);
        }
      });
    return () => {
      cancelled = true;
      result?.view.finalize();
      delete node.dataset.rendered;
    };
  }, [dataKey, themeKey, width]);

  return (
    <div
      ref={outer}
      className={`nbops-chart nbops-chart-${data.kind}`}
      data-kind={data.kind}
    >
      <div className="nbops-chart-canvas" ref={target} aria-label={label} />
      {failure && (
        <div className="nbops-error" role="alert">
          {failure}
        </div>
      )}
    </div>
  );
}
