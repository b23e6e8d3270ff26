import { type BufferView, grid1d, type KernelSpec, type Launch } from '../backend/kernel.js';

export interface LaunchRequest {
  readonly bindings: Readonly<Record<string, BufferView>>;
  readonly params?: Readonly<Record<string, number>>;
  readonly overrides?: Readonly<Record<string, number>>;
  /** The grid; by default `grid1d(threads, overrides.wg ?? kernel's wg)`. */
  readonly workgroups?: readonly [number, number, number];
  /** Invocations of a 1-D launch (one per output element, row, ...). */
  readonly threads?: number;
  /** Minimum length, in elements, of each named binding. */
  readonly needs?: Readonly<Record<string, number>>;
  readonly label?: string;
}

/**
 * The one place that turns a kernel and its buffers into a launch: every binding the kernel
 * declares must be given, each at least as long as `needs` says (an error names the layer, the
 * binding and both lengths), and a 1-D grid covers `threads` invocations.
 */
export function launch(kernel: KernelSpec, req: LaunchRequest): Launch {
  const who = req.label ?? kernel.name;
  for (const b of kernel.bindings) {
    if (!req.bindings[b.name]) throw new Error(`${who}: kernel '${kernel.name}' needs a buffer for '${b.name}'`);
  }
  for (const [name, n] of Object.entries(req.needs ?? {})) {
    const v = req.bindings[name];
    if (!v) throw new Error(`${who}: kernel '${kernel.name}' has no binding '${name}'`);
    if (v.length < n) throw new Error(`${who}: binding '${name}' of kernel '${kernel.name}' holds ${v.length} elements, needs ${n}`);
  }
  let workgroups = req.workgroups;
  if (!workgroups) {
    if (req.threads === undefined) throw new Error(`${who}: launch of '${kernel.name}' needs workgroups or threads`);
    const wg = req.overrides?.wg ?? kernel.overrides?.wg;
    if (wg === undefined) throw new Error(`${who}: kernel '${kernel.name}' has no 'wg' override for a 1-D launch`);
    workgroups = grid1d(req.threads, wg);
  }
  return {
    kernel,
    bindings: req.bindings,
    params: req.params ?? {},
    ...(req.overrides ? { overrides: req.overrides } : {}),
    workgroups,
    ...(req.label !== undefined ? { label: req.label } : {}),
  };
}
