/**
 * A line chart as a standalone SVG file, written by hand so that the bench needs no plotting
 * dependency: both axes logarithmic (batch sizes double; step times span three decades), one
 * polyline with markers per series, a legend to the right.
 */

export interface Series {
  readonly label: string;
  readonly points: readonly { x: number; y: number }[];
  /** Dashed: a reference rather than a measured library backend. */
  readonly dashed?: boolean;
}

export interface ChartOptions {
  readonly title: string;
  /** A smaller second line under the title (where and when it was measured). */
  readonly subtitle?: string;
  readonly xLabel: string;
  readonly yLabel: string;
}

/** Distinguishable on white and for the common forms of colour blindness (Okabe and Ito). */
const COLOURS = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#F0E442'];

const W = 920;
const H = 490;
const PLOT = { left: 70, top: 50, right: 620, bottom: 430 };

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (n: number) => String(Math.round(n * 10) / 10);

/** 1, 2, 5 × powers of ten spanning [lo, hi]. */
function decadeTicks(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= lo && v <= hi) ticks.push(v);
    }
  }
  return ticks;
}

const tickText = (v: number) => (v >= 1000 ? `${v / 1000} s` : v >= 1 ? `${v}` : v.toPrecision(1));

export function lineChart(series: readonly Series[], options: ChartOptions): string {
  const points = series.flatMap((s) => s.points).filter((p) => p.x > 0 && p.y > 0 && Number.isFinite(p.y));
  if (points.length === 0) throw new Error('lineChart: no positive points to draw');
  const xs = [...new Set(points.map((p) => p.x))].sort((a, b) => a - b);
  const [x0, x1] = [xs[0]!, xs[xs.length - 1]!];
  // Whole 1-2-5 steps around the data, so that the top and bottom of the plot carry labels.
  const step = (v: number, up: boolean) => {
    const e = 10 ** Math.floor(Math.log10(v));
    const ms = [1, 2, 5, 10];
    return (up ? ms.find((m) => m * e >= v)! : [...ms].reverse().find((m) => m * e <= v)!) * e;
  };
  const y0 = step(Math.min(...points.map((p) => p.y)), false);
  const y1 = step(Math.max(...points.map((p) => p.y)), true);
  const lx = (x: number) => (x1 === x0 ? 0.5 : Math.log(x / x0) / Math.log(x1 / x0));
  const ly = (y: number) => (y1 === y0 ? 0.5 : Math.log(y / y0) / Math.log(y1 / y0));
  // A margin inside the frame, so that the first and last markers are not cut by it.
  const px = (x: number) => PLOT.left + (0.04 + 0.92 * lx(x)) * (PLOT.right - PLOT.left);
  const py = (y: number) => PLOT.bottom - ly(y) * (PLOT.bottom - PLOT.top);

  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${(PLOT.left + PLOT.right) / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">${escape(options.title)}</text>`,
  ];
  if (options.subtitle) out.push(`<text x="${(PLOT.left + PLOT.right) / 2}" y="38" text-anchor="middle" font-size="11" fill="#555555">${escape(options.subtitle)}</text>`);
  for (const v of decadeTicks(y0, y1)) {
    const y = fmt(py(v));
    out.push(`<line x1="${PLOT.left}" y1="${y}" x2="${PLOT.right}" y2="${y}" stroke="#dddddd"/>`);
    out.push(`<text x="${PLOT.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${tickText(v)}</text>`);
  }
  for (const v of xs) {
    const x = fmt(px(v));
    out.push(`<line x1="${x}" y1="${PLOT.top}" x2="${x}" y2="${PLOT.bottom}" stroke="#eeeeee"/>`);
    out.push(`<text x="${x}" y="${PLOT.bottom + 16}" text-anchor="middle">${v}</text>`);
  }
  out.push(`<rect x="${PLOT.left}" y="${PLOT.top}" width="${PLOT.right - PLOT.left}" height="${PLOT.bottom - PLOT.top}" fill="none" stroke="#333333"/>`);
  out.push(`<text x="${(PLOT.left + PLOT.right) / 2}" y="${PLOT.bottom + 36}" text-anchor="middle">${escape(options.xLabel)}</text>`);
  out.push(`<text transform="translate(18 ${(PLOT.top + PLOT.bottom) / 2}) rotate(-90)" text-anchor="middle">${escape(options.yLabel)}</text>`);

  series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length]!;
    const pts = s.points.filter((p) => p.x > 0 && p.y > 0 && Number.isFinite(p.y)).sort((a, b) => a.x - b.x);
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    if (pts.length > 1) {
      out.push(`<polyline fill="none" stroke="${colour}" stroke-width="2"${dash} points="${pts.map((p) => `${fmt(px(p.x))},${fmt(py(p.y))}`).join(' ')}"/>`);
    }
    for (const p of pts) out.push(`<circle cx="${fmt(px(p.x))}" cy="${fmt(py(p.y))}" r="3.5" fill="${colour}"><title>${escape(s.label)}, ${p.x}: ${p.y.toFixed(1)} ms</title></circle>`);
    const ly0 = PLOT.top + 10 + i * 22;
    out.push(`<line x1="${PLOT.right + 20}" y1="${ly0}" x2="${PLOT.right + 48}" y2="${ly0}" stroke="${colour}" stroke-width="2"${dash}/>`);
    out.push(`<circle cx="${PLOT.right + 34}" cy="${ly0}" r="3.5" fill="${colour}"/>`);
    out.push(`<text x="${PLOT.right + 56}" y="${ly0}" dominant-baseline="middle">${escape(s.label)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
