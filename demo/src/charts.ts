/**
 * Line charts on uPlot: one x axis shared by any number of series (one per run, or per run and
 * kind), log scales where the quantity spans decades, a legend with the values under the cursor.
 * Each chart keeps one uPlot for the page's lifetime: a run that appears or goes away adds or
 * deletes its series, and new data goes in through setData, so that a redraw costs one canvas
 * pass (a few milliseconds at 10,000 points per series) and never a rebuilt chart.
 */
import uPlot from 'uplot';

export interface Series {
  readonly label: string;
  readonly color: string;
  readonly dash?: boolean;
  /** One value per x; null (or a non-positive value on a log scale) leaves a gap. */
  readonly values: ArrayLike<number | null>;
  /** Draw points only (for a marker). */
  readonly points?: boolean;
}

export interface ChartOptions {
  readonly title: string;
  readonly x: string;
  readonly logX?: boolean;
  readonly logY?: boolean;
  /** Ticks on whole numbers of x only (layers). */
  readonly integerX?: boolean;
  readonly height?: number;
}

/** A tick label of a log axis: plain down to 0.001, powers of ten beyond. */
function logTick(v: number | null): string {
  if (v === null) return '';
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(0) : String(+v.toPrecision(3));
}

/**
 * Ticks of a log axis: 1, 2, 5 per decade over a few decades, else powers of ten, every few
 * decades over many. (uPlot's own marks nine per decade: over the thirty decades a vanishing
 * gradient spans, hundreds of grid lines and a redraw of a quarter second.)
 */
function logSplits(_u: uPlot, _axis: number, min: number, max: number): number[] {
  if (!(min > 0) || !(max > 0)) return [];
  const lo = Math.floor(Math.log10(min) + 1e-9);
  const hi = Math.ceil(Math.log10(max) - 1e-9);
  const inside = (v: number) => v >= min * (1 - 1e-9) && v <= max * (1 + 1e-9);
  const out: number[] = [];
  if (hi - lo <= 3) {
    for (let e = lo; e <= hi; e++) for (const m of [1, 2, 5]) if (inside(m * 10 ** e)) out.push(m * 10 ** e);
    return out;
  }
  const every = Math.ceil((hi - lo) / 6);
  for (let e = Math.ceil(lo / every) * every; e <= hi; e += every) if (inside(10 ** e)) out.push(10 ** e);
  return out;
}

const logTicks = (_u: uPlot, splits: number[]) => splits.map(logTick);
const WHOLE = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];

/** uPlot's default font names a dozen families; resolving them on every axis pass is slow. */
const FONT = '11px sans-serif';

/**
 * The page's 2-D canvases draw on the CPU, in the task that draws them. A GPU-backed canvas
 * hands its drawing to the GPU process, which WebGPU training keeps busy (on SwiftShader, both
 * cores): a redraw, or the frame that shows it, can then wait there for tens of milliseconds.
 */
export const CANVAS_2D: CanvasRenderingContext2DSettings = { willReadFrequently: true };

/** Runs `make` with every 2-D context it creates on the CPU (uPlot asks for its own context). */
function onCpuCanvases<T>(make: () => T): T {
  const proto = HTMLCanvasElement.prototype;
  const getContext = proto.getContext;
  const patched = function (this: HTMLCanvasElement, kind: string, options?: object) {
    return (getContext as (kind: string, options?: object) => RenderingContext | null).call(this, kind, kind === '2d' ? { ...options, ...CANVAS_2D } : options);
  };
  proto.getContext = patched as typeof getContext;
  try {
    return make();
  } finally {
    proto.getContext = getContext;
  }
}
const LABEL_FONT = 'bold 11px sans-serif';

function clean(values: ArrayLike<number | null>, log: boolean): (number | null)[] {
  const out = new Array<number | null>(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    out[i] = v === null || v === undefined || !Number.isFinite(v) || (log && v <= 0) ? null : v;
  }
  return out;
}

/**
 * Many more points than pixels: per bucket of consecutive indices (at most `width` buckets),
 * each series keeps its lowest and highest value in the order they came, at the bucket's first
 * and middle x. The line drawn through them covers the same pixels as the full series, so a chart
 * of 10,000 or 100,000 steps costs what one of a thousand does.
 */
function decimate(x: ArrayLike<number>, series: readonly Series[], width: number, log: boolean): (number | null)[][] {
  const n = x.length;
  const k = Math.ceil(n / width);
  const buckets = Math.ceil(n / k);
  const xs = new Array<number>(2 * buckets);
  for (let b = 0; b < buckets; b++) {
    const first = b * k;
    xs[2 * b] = x[first]!;
    xs[2 * b + 1] = x[Math.min(n - 1, first + (k >> 1))]!;
    if (k === 1 || first + (k >> 1) >= n) xs[2 * b + 1] = xs[2 * b]! + 1e-9 * Math.abs(xs[2 * b]! || 1);
  }
  const out = series.map((s) => {
    const v = s.values;
    const ys = new Array<number | null>(2 * buckets).fill(null);
    const end = Math.min(n, v.length);
    for (let b = 0; b * k < end; b++) {
      let lo = Infinity;
      let hi = -Infinity;
      let loAt = -1;
      let hiAt = -1;
      for (let i = b * k; i < Math.min(end, (b + 1) * k); i++) {
        const y = v[i];
        if (y === null || y === undefined || !Number.isFinite(y) || (log && y <= 0)) continue;
        if (y < lo) {
          lo = y;
          loAt = i;
        }
        if (y > hi) {
          hi = y;
          hiAt = i;
        }
      }
      if (loAt < 0) continue;
      ys[2 * b] = loAt <= hiAt ? lo : hi;
      ys[2 * b + 1] = loAt <= hiAt ? hi : lo;
    }
    return ys;
  });
  return [xs, ...out];
}

function seriesOptions(s: Series): uPlot.Series {
  return {
    label: s.label,
    stroke: s.color,
    width: s.points ? 0 : 1.5,
    ...(s.dash ? { dash: [6, 4] } : {}),
    spanGaps: true,
    points: s.points ? { show: true, size: 9, fill: s.color } : { show: false },
  };
}

const key = (s: Series) => `${s.label}|${s.color}|${s.dash ?? false}|${s.points ?? false}`;

export class Chart {
  private plot: uPlot | null = null;
  /** The keys of the plot's series after the x series, in order. */
  private keys: string[] = [];
  private stale = false;
  private readonly holder: HTMLElement;

  constructor(readonly element: HTMLElement, readonly options: ChartOptions) {
    element.classList.add('chart');
    const title = document.createElement('h3');
    title.textContent = options.title;
    this.holder = document.createElement('div');
    element.replaceChildren(title, this.holder);
  }

  private width(): number {
    return Math.max(240, this.element.clientWidth - 8);
  }

  private create(data: uPlot.AlignedData): uPlot {
    const { logX = false, logY = false, integerX = false } = this.options;
    return onCpuCanvases(() => new uPlot(
      {
        width: this.width(),
        height: this.options.height ?? 220,
        scales: { x: { time: false, ...(logX ? { distr: 3 } : {}) }, y: logY ? { distr: 3 } : {} },
        axes: [
          {
            label: this.options.x, size: 40, labelSize: 16, font: FONT, labelFont: LABEL_FONT,
            ...(logX ? { values: logTicks, splits: logSplits } : {}), ...(integerX ? { incrs: WHOLE } : {}),
          },
          { size: 60, font: FONT, labelFont: LABEL_FONT, ...(logY ? { values: logTicks, splits: logSplits } : {}) },
        ],
        legend: { live: true },
        cursor: { drag: { x: true, y: false } },
        series: [{ label: this.options.x }],
      },
      data,
      this.holder,
    ));
  }

  /**
   * Draws a throwaway series once, when the page loads: the first pass through a code path runs
   * cold (tens of milliseconds), and it should not be the first record of a run.
   */
  private warm(plot: uPlot): uPlot {
    const { logX = false } = this.options;
    const x = logX ? [1e-3, 1e-2, 1e-1] : [0, 1, 2];
    plot.batch(() => {
      plot.addSeries(seriesOptions({ label: 'warm-up', color: '#000', values: [] }), 1);
      plot.addSeries(seriesOptions({ label: 'warm-up', color: '#000', dash: true, values: [] }), 2);
      plot.setData([x, [1, 0.1, null], [0.5, 0.2, 0.3]]);
    });
    plot.batch(() => {
      plot.delSeries(2);
      plot.delSeries(1);
      plot.setData([x.slice(0, 1)]);
    });
    return plot;
  }

  /**
   * Draws `series` over `x`; an empty list draws empty axes. When the list of series changed
   * (a run came or went), this call only adds and deletes series (the legend's rows) and returns
   * false: call it again, in a later task, to draw, so that neither task holds both.
   */
  update(x: ArrayLike<number>, series: readonly Series[]): boolean {
    const { logX = false, logY = false } = this.options;
    const width = this.plot?.width ?? this.width();
    const data = (x.length > 2 * width ? decimate(x, series, width, logY) : [clean(x, logX), ...series.map((s) => clean(s.values, logY))]) as uPlot.AlignedData;
    if (!this.plot) this.plot = this.warm(this.create([data[0]]));
    const plot = this.plot;
    // Series that stay keep their place; from the first that differs on, the old ones go and the
    // new ones come in.
    const keys = series.map(key);
    let same = 0;
    while (same < keys.length && same < this.keys.length && keys[same] === this.keys[same]) same++;
    if (same < keys.length || same < this.keys.length) {
      for (let i = this.keys.length; i > same; i--) plot.delSeries(i);
      for (let i = same; i < series.length; i++) plot.addSeries(seriesOptions(series[i]!), i + 1);
      // The data matches the series again (a cursor move in between reads it), without a draw.
      plot.setData(data, false);
      this.keys = keys;
      return false;
    }
    // batch draws now rather than in a microtask, so that the caller's timing holds the drawing.
    // A hidden chart keeps its width until it shows.
    const resize = this.stale && this.element.clientWidth > 0;
    if (resize) this.stale = false;
    plot.batch(() => {
      if (resize && plot.width !== this.width()) plot.setSize({ width: this.width(), height: this.options.height ?? 220 });
      plot.setData(data);
    });
    return true;
  }

  /** Whether the chart has drawn once (its uPlot exists). */
  get created(): boolean {
    return this.plot !== null;
  }

  /**
   * The page's layout changed (a resize, panels shown or hidden): the next update measures the
   * width again, in its own task, rather than every chart at once now.
   */
  resize(): void {
    this.stale = true;
  }
}

/** A colour for log10 of a value between lo and hi: dark blue through teal to yellow. */
export function ramp(t: number): string {
  const [r, g, b] = rampRgb(t);
  return `rgb(${r}, ${g}, ${b})`;
}

/** The colour of `ramp` as red, green and blue in 0 … 255. */
export function rampRgb(t: number): [number, number, number] {
  const c = Math.min(1, Math.max(0, t));
  const stops = [[20, 24, 82], [33, 102, 172], [67, 162, 142], [160, 200, 80], [250, 230, 60]];
  const at = c * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(at));
  const f = at - i;
  const mix = (k: number) => Math.round(stops[i]![k]! + f * (stops[i + 1]![k]! - stops[i]![k]!));
  return [mix(0), mix(1), mix(2)];
}

const widths = new WeakMap<HTMLCanvasElement, number>();

/** Forgets the canvases' widths, after the window's size changed. */
export function forgetWidths(): void {
  document.querySelectorAll('canvas').forEach((c) => widths.delete(c));
}

/** A canvas sized to its CSS box at the device's pixel ratio; returns the context and the CSS size. */
export function fitCanvas(canvas: HTMLCanvasElement, height: number): { ctx: CanvasRenderingContext2D; w: number; h: number } {
  // Reading a width forces a layout of the page: once per canvas, again after a resize.
  let w = widths.get(canvas);
  if (w === undefined) {
    const box = canvas.parentElement!.clientWidth;
    w = Math.max(200, box - 8);
    // A hidden panel has no width yet: measure again once it shows.
    if (box > 0) widths.set(canvas, w);
  }
  const ratio = window.devicePixelRatio || 1;
  // Setting a canvas's size reallocates its pixels, even to the same size: only when it changed.
  if (canvas.width !== Math.round(w * ratio) || canvas.height !== Math.round(height * ratio)) {
    canvas.style.width = `${w}px`;
    canvas.style.height = `${height}px`;
    canvas.width = Math.round(w * ratio);
    canvas.height = Math.round(height * ratio);
  }
  const ctx = canvas.getContext('2d', CANVAS_2D)!;
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.textAlign = 'left';
  ctx.globalAlpha = 1;
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, w, height);
  ctx.font = '11px system-ui, sans-serif';
  return { ctx, w, h: height };
}

const heatmapCells = document.createElement('canvas');

/**
 * Layer × step heatmap of log10 values (rows: layers, first at the top), with its colour scale.
 */
export function drawHeatmap(canvas: HTMLCanvasElement, steps: readonly number[], rows: readonly Float64Array[], names: readonly string[]): { lo: number; hi: number } | null {
  const { ctx, w, h } = fitCanvas(canvas, 260);
  const layers = rows[0]?.length ?? 0;
  if (steps.length === 0 || layers === 0) {
    ctx.fillStyle = '#666';
    ctx.fillText('Train with layer statistics on (layerEvery > 0) to fill this map.', 12, 24);
    return null;
  }
  let lo = Infinity;
  let hi = -Infinity;
  for (const r of rows) for (const v of r) if (v > 0 && Number.isFinite(v)) { lo = Math.min(lo, Math.log10(v)); hi = Math.max(hi, Math.log10(v)); }
  if (!Number.isFinite(lo)) { lo = -1; hi = 0; }
  if (hi - lo < 1e-9) hi = lo + 1;
  const left = 70;
  const bottom = 34;
  const right = 70;
  const cw = (w - left - right) / steps.length;
  const ch = (h - bottom - 8) / layers;
  // One pixel per cell, scaled up in one drawImage: a fill per cell parses a colour string each
  // time, thousands of them on a long run.
  const cells = new ImageData(steps.length, layers);
  rows.forEach((r, j) => {
    for (let i = 0; i < layers; i++) {
      const v = r[i]!;
      const [red, green, blue] = v > 0 && Number.isFinite(v) ? rampRgb((Math.log10(v) - lo) / (hi - lo)) : [0, 0, 0];
      const at = 4 * (i * steps.length + j);
      cells.data[at] = red;
      cells.data[at + 1] = green;
      cells.data[at + 2] = blue;
      cells.data[at + 3] = 255;
    }
  });
  heatmapCells.width = steps.length;
  heatmapCells.height = layers;
  heatmapCells.getContext('2d', CANVAS_2D)!.putImageData(cells, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(heatmapCells, left, 8, cw * steps.length, ch * layers);
  ctx.imageSmoothingEnabled = true;
  ctx.fillStyle = '#333';
  ctx.textAlign = 'right';
  const every = Math.max(1, Math.ceil(layers / 10));
  for (let i = 0; i < layers; i += every) ctx.fillText(i === layers - 1 ? 'output' : `layer ${i + 1}`, left - 6, 8 + (i + 0.7) * ch);
  if ((layers - 1) % every !== 0) ctx.fillText('output', left - 6, 8 + (layers - 0.3) * ch);
  ctx.textAlign = 'center';
  const ticks = Math.min(steps.length, 6);
  for (let t = 0; t < ticks; t++) {
    const j = Math.round((t * (steps.length - 1)) / Math.max(1, ticks - 1));
    ctx.fillText(String(steps[j]), left + (j + 0.5) * cw, h - bottom + 14);
  }
  ctx.fillText(`step (${names.length ? 'rows: ‖g‖ of each Linear weight' : ''})`, left + (w - left - right) / 2, h - 6);
  for (let k = 0; k < 100; k++) {
    ctx.fillStyle = ramp(1 - k / 99);
    ctx.fillRect(w - right + 14, 8 + (k * (h - bottom - 8)) / 100, 14, (h - bottom - 8) / 100 + 1);
  }
  ctx.fillStyle = '#333';
  ctx.textAlign = 'left';
  ctx.fillText(logTick(+(10 ** hi).toPrecision(2)), w - right + 32, 16);
  ctx.fillText(logTick(+(10 ** lo).toPrecision(2)), w - right + 32, h - bottom);
  return { lo, hi };
}

/** Bars of a histogram of `values` over [-range, range]. */
export function drawHistogram(canvas: HTMLCanvasElement, sets: readonly { values: Float32Array; color: string; label: string }[]): void {
  const { ctx, w, h } = fitCanvas(canvas, 200);
  if (sets.length === 0) {
    ctx.fillStyle = '#666';
    ctx.fillText('The weights of the Linear layers appear here when a run ends.', 12, 24);
    return;
  }
  let range = 0;
  for (const s of sets) for (const v of s.values) range = Math.max(range, Math.abs(v));
  range = range || 1;
  const bins = 61;
  const counts = sets.map((s) => {
    const c = new Float64Array(bins);
    for (const v of s.values) c[Math.min(bins - 1, Math.floor(((v + range) / (2 * range)) * bins))]! += 1 / s.values.length;
    return c;
  });
  const peak = Math.max(...counts.map((c) => Math.max(...c)));
  const left = 40;
  const bottom = 24;
  const bw = (w - left - 10) / bins;
  counts.forEach((c, k) => {
    ctx.strokeStyle = sets[k]!.color;
    ctx.fillStyle = sets[k]!.color;
    ctx.globalAlpha = 0.35;
    c.forEach((v, i) => ctx.fillRect(left + i * bw, h - bottom - (v / peak) * (h - bottom - 10), bw - 1, (v / peak) * (h - bottom - 10)));
    ctx.globalAlpha = 1;
  });
  ctx.fillStyle = '#333';
  ctx.textAlign = 'center';
  ctx.fillText(`−${range.toPrecision(2)}`, left, h - 6);
  ctx.fillText('0', left + (w - left - 10) / 2, h - 6);
  ctx.textAlign = 'right';
  ctx.fillText(range.toPrecision(2), w - 10, h - 6);
  ctx.textAlign = 'left';
  sets.forEach((s, k) => {
    ctx.fillStyle = s.color;
    ctx.fillText(s.label, left + 6, 14 + 13 * k);
  });
}

/** A k × k confusion matrix: rows true class, columns prediction, shade by the row's share. */
export function drawConfusion(canvas: HTMLCanvasElement, counts: Int32Array | null, k = 10): void {
  const { ctx, w } = fitCanvas(canvas, 300);
  if (!counts) {
    ctx.fillStyle = '#666';
    ctx.fillText('The held-out confusion matrix appears here when an MNIST run ends.', 12, 24);
    return;
  }
  const size = Math.min(w - 40, 260);
  const cell = size / k;
  const left = 30;
  const top = 24;
  ctx.textAlign = 'center';
  for (let r = 0; r < k; r++) {
    let row = 0;
    for (let c = 0; c < k; c++) row += counts[r * k + c]!;
    for (let c = 0; c < k; c++) {
      const share = row ? counts[r * k + c]! / row : 0;
      ctx.fillStyle = r === c ? `rgba(30, 120, 60, ${0.15 + 0.85 * share})` : `rgba(200, 40, 40, ${Math.min(1, share * 4)})`;
      ctx.fillRect(left + c * cell, top + r * cell, cell - 1, cell - 1);
      ctx.fillStyle = share > 0.5 ? '#fff' : '#222';
      ctx.fillText(String(counts[r * k + c]), left + (c + 0.5) * cell, top + (r + 0.65) * cell);
    }
    ctx.fillStyle = '#333';
    ctx.fillText(String(r), left - 12, top + (r + 0.65) * cell);
    ctx.fillText(String(r), left + (r + 0.5) * cell, top - 8);
  }
  ctx.textAlign = 'left';
  ctx.fillText('predicted →', left + size + 6, top - 8);
  ctx.fillText('true ↓', left + size + 6, top + 10);
}
