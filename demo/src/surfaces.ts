/**
 * The optimizers on 2-D test functions, where their paths can be drawn: each update rule written
 * out for a point (x, y) with the same formulas as the library's kernels (torch's defaults for
 * the constants), run on the page's thread: a few hundred steps of two numbers take microseconds.
 */
import { CANVAS_2D, fitCanvas, rampRgb } from './charts.js';

export interface Surface {
  readonly label: string;
  f(x: number, y: number): number;
  grad(x: number, y: number): [number, number];
  readonly start: [number, number];
  readonly box: [number, number, number, number];
  /** The minimum, marked on the plot (null for the saddle, which has none). */
  readonly min: [number, number] | null;
  /** The step size of the SGD family; the adaptive rules take `adaptiveLr`. */
  readonly lr: number;
  readonly adaptiveLr: number;
}

export const SURFACES: Record<string, Surface> = {
  rosenbrock: {
    label: 'Rosenbrock (1 − x)² + 100 (y − x²)²',
    f: (x, y) => (1 - x) ** 2 + 100 * (y - x * x) ** 2,
    grad: (x, y) => [-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)],
    start: [-1.5, 1.8],
    box: [-2, 2, -1, 3],
    min: [1, 1],
    lr: 0.0012,
    adaptiveLr: 0.05,
  },
  beale: {
    label: 'Beale',
    f: (x, y) => (1.5 - x + x * y) ** 2 + (2.25 - x + x * y * y) ** 2 + (2.625 - x + x * y ** 3) ** 2,
    grad: (x, y) => {
      const a = 1.5 - x + x * y;
      const b = 2.25 - x + x * y * y;
      const c = 2.625 - x + x * y ** 3;
      return [2 * a * (y - 1) + 2 * b * (y * y - 1) + 2 * c * (y ** 3 - 1), 2 * a * x + 4 * b * x * y + 6 * c * x * y * y];
    },
    start: [1, 1.4],
    box: [-1, 4.5, -1.5, 2],
    min: [3, 0.5],
    lr: 0.01,
    adaptiveLr: 0.05,
  },
  saddle: {
    label: 'saddle x² − y²',
    f: (x, y) => x * x - y * y,
    grad: (x, y) => [2 * x, -2 * y],
    start: [-1.4, 0.01],
    box: [-1.5, 1.5, -1.5, 1.5],
    min: null,
    lr: 0.03,
    adaptiveLr: 0.03,
  },
};

export const RULES = ['SGD', 'Momentum', 'Nesterov', 'Adagrad', 'RMSprop', 'Adam', 'AdamW', 'Lion'] as const;
export type Rule = (typeof RULES)[number];

/** The path of `steps` updates from the surface's start. */
export function path(surface: Surface, rule: Rule, steps: number): [number, number][] {
  const adaptive = rule !== 'SGD' && rule !== 'Momentum' && rule !== 'Nesterov';
  const lr = rule === 'Lion' ? surface.adaptiveLr / 3 : adaptive ? surface.adaptiveLr : surface.lr;
  const p = [...surface.start] as [number, number];
  const m = [0, 0];
  const v = [0, 0];
  const out: [number, number][] = [[p[0], p[1]]];
  const [x0, x1, y0, y1] = surface.box;
  const span = Math.max(x1 - x0, y1 - y0) * 4;
  for (let t = 1; t <= steps; t++) {
    const g = surface.grad(p[0], p[1]);
    for (let i = 0; i < 2; i++) {
      const gi = g[i]!;
      switch (rule) {
        case 'SGD':
          p[i]! -= lr * gi;
          break;
        case 'Momentum':
          m[i] = 0.9 * m[i]! + gi;
          p[i]! -= lr * m[i]!;
          break;
        case 'Nesterov':
          m[i] = 0.9 * m[i]! + gi;
          p[i]! -= lr * (gi + 0.9 * m[i]!);
          break;
        case 'Adagrad':
          v[i]! += gi * gi;
          p[i]! -= (lr * 10 * gi) / (Math.sqrt(v[i]!) + 1e-10);
          break;
        case 'RMSprop':
          v[i] = 0.99 * v[i]! + 0.01 * gi * gi;
          p[i]! -= (lr * 0.2 * gi) / (Math.sqrt(v[i]!) + 1e-8);
          break;
        case 'Adam':
        case 'AdamW': {
          if (rule === 'AdamW') p[i]! *= 1 - lr * 0.01;
          m[i] = 0.9 * m[i]! + 0.1 * gi;
          v[i] = 0.999 * v[i]! + 0.001 * gi * gi;
          p[i]! -= (lr * (m[i]! / (1 - 0.9 ** t))) / (Math.sqrt(v[i]! / (1 - 0.999 ** t)) + 1e-8);
          break;
        }
        case 'Lion':
          p[i]! -= lr * Math.sign(0.9 * m[i]! + 0.1 * gi);
          m[i] = 0.99 * m[i]! + 0.01 * gi;
          break;
      }
    }
    if (!Number.isFinite(p[0]) || !Number.isFinite(p[1]) || Math.abs(p[0]) > span || Math.abs(p[1]) > span) break;
    out.push([p[0], p[1]]);
  }
  return out;
}

/**
 * The surface as shaded bands of log f, one pixel per cell, blended with white as a 55% wash: a
 * small canvas that drawSurface scales up in one drawImage (ten thousand fillRects would hold the
 * page's thread for a tenth of a second).
 */
export function surfaceImage(surface: Surface): HTMLCanvasElement {
  const [x0, x1, y0, y1] = surface.box;
  const cols = 120;
  const rows = 90;
  const values = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) values[r * cols + c] = surface.f(x0 + ((c + 0.5) / cols) * (x1 - x0), y1 - ((r + 0.5) / rows) * (y1 - y0));
  }
  let lo = Infinity;
  for (const v of values) lo = Math.min(lo, v);
  const levels = values.map((v) => Math.log10(v - lo + 1e-2));
  let lmin = Infinity;
  let lmax = -Infinity;
  for (const l of levels) {
    lmin = Math.min(lmin, l);
    lmax = Math.max(lmax, l);
  }
  const bands = 14;
  const palette = Array.from({ length: bands + 1 }, (_, k) => rampRgb(k / bands).map((v) => Math.round(0.55 * v + 0.45 * 255)));
  const cells = new ImageData(cols, rows);
  for (let k = 0; k < rows * cols; k++) {
    const rgb = palette[Math.floor(((levels[k]! - lmin) / (lmax - lmin)) * bands)]!;
    cells.data[4 * k] = rgb[0]!;
    cells.data[4 * k + 1] = rgb[1]!;
    cells.data[4 * k + 2] = rgb[2]!;
    cells.data[4 * k + 3] = 255;
  }
  const small = document.createElement('canvas');
  small.width = cols;
  small.height = rows;
  small.getContext('2d', CANVAS_2D)!.putImageData(cells, 0, 0);
  return small;
}

/** The surface's bands (from surfaceImage), its minimum, and each rule's path. */
export function drawSurface(canvas: HTMLCanvasElement, surface: Surface, image: HTMLCanvasElement, paths: readonly { rule: Rule; color: string; points: [number, number][] }[]): void {
  const { ctx, w, h } = fitCanvas(canvas, 360);
  const [x0, x1, y0, y1] = surface.box;
  const sx = (x: number) => ((x - x0) / (x1 - x0)) * w;
  const sy = (y: number) => h - ((y - y0) / (y1 - y0)) * h;
  const small = image;
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(small, 0, 0, w, h);
  ctx.imageSmoothingEnabled = true;
  if (surface.min) {
    ctx.fillStyle = '#000';
    ctx.beginPath();
    ctx.arc(sx(surface.min[0]), sy(surface.min[1]), 5, 0, 2 * Math.PI);
    ctx.fill();
  }
  for (const p of paths) {
    ctx.strokeStyle = p.color;
    ctx.lineWidth = 2;
    ctx.beginPath();
    p.points.forEach(([x, y], i) => (i ? ctx.lineTo(sx(x), sy(y)) : ctx.moveTo(sx(x), sy(y))));
    ctx.stroke();
    const [ex, ey] = p.points[p.points.length - 1]!;
    ctx.fillStyle = p.color;
    ctx.fillRect(sx(ex) - 3, sy(ey) - 3, 6, 6);
  }
  ctx.fillStyle = '#000';
  ctx.fillText(`${surface.label}; start (${surface.start.join(', ')})${surface.min ? `, minimum ● (${surface.min.join(', ')})` : ''}`, 8, 14);
  ctx.strokeStyle = '#000';
  ctx.strokeRect(sx(surface.start[0]) - 4, sy(surface.start[1]) - 4, 8, 8);
}
