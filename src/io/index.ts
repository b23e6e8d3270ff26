/**
 * `io`: models and checkpoints as safetensors files, and the files themselves in Node and in the
 * browser.
 *
 * ```ts
 * const bytes = await io.saveSafetensors(model);          // torch names and layouts, float32
 * io.loadSafetensors(model, bytes);                        // all or nothing
 * await io.saveFile('run.safetensors', await io.saveCheckpoint(trainer));
 * await io.loadCheckpoint(trainer, await io.readFile('run.safetensors'));
 * ```
 */
export { download, loadFromOpfs, openFile, saveToOpfs } from './browser.js';
export { loadCheckpoint, saveCheckpoint, type SaveCheckpointOptions } from './checkpoint.js';
export {
  loadSafetensors, type LoadSafetensorsOptions, type LoadSafetensorsResult, saveSafetensors, type SaveSafetensorsOptions,
} from './model.js';
export { readFile, saveFile } from './node.js';
export { type DecodedSafetensors, decodeSafetensors, encodeSafetensors, type TensorEntry, type TensorToWrite, toFloat32 } from './safetensors.js';
