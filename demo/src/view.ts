/** Draws the four curves and the prediction picture of the current run, once per animation frame. */
import { drawChart, type Series } from './chart.js';
import type { Split } from './datasets.js';
import { Metrics } from './metrics.js';
import { drawBoundary, drawDigits, isPlane } from './predictions.js';

export interface Canvases {
  loss: HTMLCanvasElement;
  lr: HTMLCanvasElement;
  gradNorm: HTMLCanvasElement;
  accuracy: HTMLCanvasElement;
  predictions: HTMLCanvasElement;
}

const percent = (v: number) => `${Math.round(v * 100)}%`;

/** What the charts show before the first run: empty axes. */
const EMPTY = new Metrics(100, 1, null);

export class View {
  private metrics: Metrics | null = null;
  private split: Split | null = null;
  /** The latest logits for `predictionInputs(split.test)`, or null before the first evaluation. */
  private logits: Float32Array | null = null;
  private queued = false;
  private predictionsStale = false;

  constructor(private readonly canvases: Canvases) {
    window.addEventListener('resize', () => {
      this.predictionsStale = true;
      this.request();
    });
  }

  /** A new run (or, with metrics null, just the data before a run): the pictures restart empty. */
  reset(metrics: Metrics | null, split: Split): void {
    this.metrics = metrics;
    this.split = split;
    this.logits = null;
    this.canvases.predictions.classList.toggle('digits', !isPlane(split.test));
    this.predictionsStale = true;
    this.request();
  }

  setPredictions(logits: Float32Array): void {
    this.logits = logits;
    this.predictionsStale = true;
    this.request();
  }

  /** Schedules a redraw on the next animation frame (at most one per frame). */
  request(): void {
    if (this.queued) return;
    this.queued = true;
    requestAnimationFrame(() => {
      this.queued = false;
      this.draw();
    });
  }

  private draw(): void {
    const m = this.metrics ?? EMPTY;
    const xMax = Math.max(m.totalSteps, 1);
    drawChart(this.canvases.loss, [
      { label: 'per step', values: m.loss, color: '#a5c8f5', width: 1 },
      { label: 'smoothed', values: m.smoothLoss, color: '#1d4ed8', width: 2 },
    ], { xMax, xLabel: 'step', log: true });
    const lrSeries: Series[] = [{ label: 'actual', values: m.lr, color: '#c2410c', width: 2 }];
    // The plan is drawn wide and pale underneath, so the actual rate stays visible on top of it.
    if (m.plannedLr) lrSeries.unshift({ label: 'planned (lrAt)', values: m.plannedLr, color: '#cbd5e1', width: 4, dash: [6, 4] });
    drawChart(this.canvases.lr, lrSeries, { xMax, xLabel: 'step', yMin: 0 });
    drawChart(this.canvases.gradNorm, [
      { label: 'per step', values: m.gradNorm, color: '#c4b5fd', width: 1 },
      { label: 'smoothed', values: m.smoothGradNorm, color: '#6d28d9', width: 2 },
    ], { xMax, xLabel: 'step', log: true });
    drawChart(this.canvases.accuracy, [
      { label: 'held-out accuracy', values: m.epochs.map((e) => e.accuracy), x: m.epochs.map((e) => e.epoch), color: '#047857', width: 2, dots: true },
    ], { xMax: m.totalEpochs, xLabel: 'epoch', yMin: 0, yMax: 1, format: percent });
    if (this.predictionsStale && this.split) {
      this.predictionsStale = false;
      const draw = isPlane(this.split.test) ? drawBoundary : drawDigits;
      draw(this.canvases.predictions, this.logits, this.split.test);
    }
  }
}
