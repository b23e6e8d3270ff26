/**
 * The messages between the page and the training worker. Settings go in; records come out in
 * batches, packed in typed arrays whose buffers are transferred, not copied.
 */
import type { Settings } from './settings.js';

/** Floats per step in `RecordsMessage.data`: step, loss, lr, gradNorm. */
export const RECORD_FIELDS = 4;

export type ToWorker =
  | { type: 'init'; backend: 'auto' | 'cpu' }
  | { type: 'train'; runId: number; settings: Settings }
  | { type: 'stop'; runId: number }
  /** Changes applied at the next step of a run in flight. */
  | { type: 'set'; runId: number; lr?: number; l1?: number; l2?: number }
  | { type: 'findLr'; runId: number; settings: Settings }
  /** Probabilities of the last trained MNIST model for one 28×28 image. */
  | { type: 'predict'; pixels: Float32Array }
  /** A CSV file's text, parsed in the worker into the `csv` dataset. */
  | { type: 'csv'; name: string; text: string }
  /** A finished run's model as a safetensors file: its weights, or a whole checkpoint. */
  | { type: 'export'; runId: number; format: ExportFormat }
  /** A new run of `settings` whose model loads `bytes` (weights or a checkpoint) instead of training. */
  | { type: 'import'; runId: number; settings: Settings; name: string; bytes: Uint8Array }
  /** A kept run's logits on the held-out set. */
  | { type: 'predictions'; runId: number };

export type ExportFormat = 'weights' | 'checkpoint';

export interface ReadyMessage {
  type: 'ready';
  kind: string;
  reason: string;
  description: string;
}

export interface StartedMessage {
  type: 'started';
  runId: number;
  /** The planned rate per step, or null for the schedules that follow training signals. */
  planned: Float64Array | null;
  /** The names of the layers the layer statistics cover, first to last. */
  layers: string[];
  dispatches: number;
}

export interface RecordsMessage {
  type: 'records';
  runId: number;
  /** RECORD_FIELDS floats per step. */
  data: Float64Array;
}

export interface LayersMessage {
  type: 'layers';
  runId: number;
  step: number;
  /** Per layer (weight tensors, first to last): ‖g‖ and ‖Δw‖/‖w‖. */
  gradNorm: Float64Array;
  updateRatio: Float64Array;
}

export interface EvalMessage {
  type: 'eval';
  runId: number;
  step: number;
  trainLoss: number;
  trainAccuracy: number;
  testLoss: number;
  testAccuracy: number;
}

export interface DoneMessage {
  type: 'done';
  runId: number;
  stopped: boolean;
  error?: string;
  /** Every weight of the Linear layers (no biases), for the histogram and the near-zero share. */
  weights: Float32Array;
  /** classes × classes counts, row = true class (MNIST only). */
  confusion: Int32Array | null;
}

export interface LrFindingMessage {
  type: 'lrFinding';
  runId: number;
  lrs: Float64Array;
  losses: Float64Array;
  smoothed: Float64Array;
  suggestion: number | null;
  error?: string;
}

export interface ProbabilitiesMessage {
  type: 'probabilities';
  probabilities: Float32Array | null;
}

export interface CsvMessage {
  type: 'csv';
  name: string;
  error?: string;
  n: number;
  features: number;
  classes: string[];
  labelName: string;
}

export interface ExportedMessage {
  type: 'exported';
  runId: number;
  format: ExportFormat;
  bytes: Uint8Array | null;
  error?: string;
}

export interface PredictionsMessage {
  type: 'predictions';
  runId: number;
  logits: Float32Array | null;
  error?: string;
}

export type FromWorker =
  | ReadyMessage
  | StartedMessage
  | RecordsMessage
  | LayersMessage
  | EvalMessage
  | DoneMessage
  | LrFindingMessage
  | ProbabilitiesMessage
  | CsvMessage
  | ExportedMessage
  | PredictionsMessage;
