// uPlot charts as preact components: the chart is built once per series layout and then only fed data;
// it follows its container's width and the colour theme (read from the CSS variables).
import { html } from 'htm/preact';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

function themeColors() {
  const s = getComputedStyle(document.documentElement);
  return { text: s.getPropertyValue('--muted').trim() || '#666', grid: s.getPropertyValue('--grid').trim() || '#ddd' };
}

/**
 * A uPlot chart. `layout` is a string that changes when the series change (the chart is rebuilt then);
 * `build(width, colors)` returns the uPlot options; `data` is uPlot's column data.
 */
export function Chart({ layout, build, data, height = 220, label, theme, testid }) {
  const box = useRef(null);
  const plot = useRef(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return undefined;
    const width = Math.max(280, el.clientWidth);
    const u = new uPlot({ ...build(width, themeColors()), width, height }, data, el);
    plot.current = u;
    const ro = new ResizeObserver(() => u.setSize({ width: Math.max(280, el.clientWidth), height }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [layout, theme, height]);
  useEffect(() => {
    plot.current?.setData(data);
  }, [data]);
  return html`<figure class="chart" data-testid=${testid}><figcaption>${label}</figcaption><div ref=${box} class="chart-box"></div></figure>`;
}

export function axes(colors, yLabel, xValues) {
  const axis = { stroke: colors.text, grid: { stroke: colors.grid, width: 1 }, ticks: { stroke: colors.grid, width: 1 } };
  return [{ ...axis, ...(xValues ? { values: xValues } : {}) }, { ...axis, label: yLabel, size: 60 }];
}
