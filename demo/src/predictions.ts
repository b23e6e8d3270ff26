/**
 * The model's view of the data: for a 2-D set, the decision boundary (the predicted class over
 * a grid, paler where the model is unsure) under the held-out points; for MNIST, a few held-out
 * digits with the predicted class, green when right and red when wrong. The logits come from
 * `trainer.predict(predictionInputs(test))` on the device; drawing only reads them.
 */
import type { data } from '../../src/index.js';

export const CLASS_COLORS = ['#3b82f6', '#f97316', '#10b981', '#e11d48', '#8b5cf6', '#eab308', '#06b6d4', '#84cc16', '#ec4899', '#64748b'];

const GRID = 72;
const EXTENT = 1.2;
const DIGITS = { columns: 8, rows: 4 };

/** Row-wise softmax of n rows of logits, as a new array. */
export function softmaxRows(logits: Float32Array, n: number): Float32Array {
  const c = logits.length / n;
  const probs = new Float32Array(logits.length);
  for (let i = 0; i < n; i++) {
    const max = Math.max(...logits.subarray(i * c, (i + 1) * c));
    let sum = 0;
    for (let j = 0; j < c; j++) sum += probs[i * c + j] = Math.exp(logits[i * c + j]! - max);
    for (let j = 0; j < c; j++) probs[i * c + j]! /= sum;
  }
  return probs;
}

export function argmaxRows(values: Float32Array, n: number): Int32Array {
  const c = values.length / n;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < c; j++) if (values[i * c + j]! > values[i * c + best]!) best = j;
    out[i] = best;
  }
  return out;
}

export const isPlane = (test: data.Dataset): boolean => test.inputShape[0] === 2;

/** Centres of the GRID × GRID cells over [−1.2, 1.2]², row by row from the top. */
function planeGrid(): Float32Array {
  const grid = new Float32Array(GRID * GRID * 2);
  for (let r = 0; r < GRID; r++) {
    for (let c = 0; c < GRID; c++) {
      grid[2 * (r * GRID + c)] = -EXTENT + ((c + 0.5) / GRID) * 2 * EXTENT;
      grid[2 * (r * GRID + c) + 1] = EXTENT - ((r + 0.5) / GRID) * 2 * EXTENT;
    }
  }
  return grid;
}

/**
 * The samples the picture needs logits for: the whole grid for a 2-D set, the first digits for
 * MNIST. The count never changes within a run, so `trainer.predict` compiles once.
 */
export function predictionInputs(test: data.Dataset): Float32Array {
  if (isPlane(test)) return planeGrid();
  const n = DIGITS.columns * DIGITS.rows;
  return test.x.subarray(0, n * (test.x.length / test.n));
}

function rgb(hex: string): [number, number, number] {
  const v = Number.parseInt(hex.slice(1), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

function square(canvas: HTMLCanvasElement): { ctx: CanvasRenderingContext2D; size: number } {
  const ratio = window.devicePixelRatio || 1;
  const size = Math.min(canvas.clientWidth || canvas.width, canvas.clientHeight || canvas.height);
  canvas.width = Math.round((canvas.clientWidth || size) * ratio);
  canvas.height = Math.round((canvas.clientHeight || size) * ratio);
  const ctx = canvas.getContext('2d')!;
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  return { ctx, size };
}

/** Predicted class and confidence over the grid of `predictionInputs`; logits null draws the points only. */
export function drawBoundary(canvas: HTMLCanvasElement, logits: Float32Array | null, points: data.Dataset): void {
  const { ctx, size } = square(canvas);
  const toPx = (v: number) => ((v + EXTENT) / (2 * EXTENT)) * size;
  if (logits) {
    const n = GRID * GRID;
    const probs = softmaxRows(logits, n);
    const predicted = argmaxRows(logits, n);
    const classes = probs.length / n;
    const image = new ImageData(GRID, GRID);
    for (let i = 0; i < n; i++) {
      const [r, g, b] = rgb(CLASS_COLORS[predicted[i]! % CLASS_COLORS.length]!);
      // Confidence 1/classes (a guess) maps to white, 1 to a light tint of the class colour.
      const p = probs[i * classes + predicted[i]!]!;
      const tint = 0.55 * Math.max(0, (p - 1 / classes) / (1 - 1 / classes));
      image.data.set([255 + (r - 255) * tint, 255 + (g - 255) * tint, 255 + (b - 255) * tint, 255], 4 * i);
    }
    const tile = document.createElement('canvas');
    [tile.width, tile.height] = [GRID, GRID];
    tile.getContext('2d')!.putImageData(image, 0, 0);
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(tile, 0, 0, size, size);
  }
  for (let i = 0; i < points.n; i++) {
    ctx.beginPath();
    ctx.arc(toPx(points.x[2 * i]!), size - toPx(points.x[2 * i + 1]!), 2.6, 0, 2 * Math.PI);
    ctx.fillStyle = CLASS_COLORS[points.y[i]! % CLASS_COLORS.length]!;
    ctx.fill();
    ctx.strokeStyle = 'rgba(0, 0, 0, 0.45)';
    ctx.lineWidth = 0.6;
    ctx.stroke();
  }
}

/** The first held-out digits with the model's guess above each; logits null shows the labels. */
export function drawDigits(canvas: HTMLCanvasElement, logits: Float32Array | null, test: data.Dataset): void {
  const { ctx } = square(canvas);
  const width = canvas.clientWidth || canvas.width;
  const n = DIGITS.columns * DIGITS.rows;
  const cell = width / DIGITS.columns;
  const predicted = logits ? argmaxRows(logits, n) : null;
  const image = new ImageData(28, 28);
  const tile = document.createElement('canvas');
  [tile.width, tile.height] = [28, 28];
  ctx.imageSmoothingEnabled = false;
  ctx.font = '12px system-ui, sans-serif';
  ctx.textAlign = 'left';
  ctx.textBaseline = 'top';
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < 784; p++) {
      const v = 255 - Math.round(test.x[i * 784 + p]! * 255);
      image.data.set([v, v, v, 255], 4 * p);
    }
    tile.getContext('2d')!.putImageData(image, 0, 0);
    const [x, y] = [(i % DIGITS.columns) * cell, Math.floor(i / DIGITS.columns) * cell];
    ctx.drawImage(tile, x + 4, y + 14, cell - 8, cell - 18);
    const label = test.y[i]!;
    const guess = predicted?.[i];
    ctx.fillStyle = guess === undefined ? '#3b3f45' : guess === label ? '#059669' : '#dc2626';
    ctx.fillText(guess === undefined ? `label ${label}` : `→ ${guess}`, x + 4, y + 1);
  }
}
