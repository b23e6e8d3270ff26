/**
 * The optimizer updates optim/adam (Adam and AdamW) and optim/sgd (src/optim/adam.ts, sgd.ts)
 * on WebAssembly SIMD, four elements at a time, with every clipping, penalty, maximize,
 * amsgrad, momentum and nesterov variant. A group whose length is not a multiple of 4 (the
 * trainer's never are) runs the twin.
 */
import type { Launch } from '../../kernel.js';
import type { WasmPlanContext, WasmRunner } from './runtime.js';

/** What both updates take: element count, addresses, and the options of optim/common.wgsl. */
function updateArgs(launch: Launch, ctx: WasmPlanContext) {
  const o = { ...launch.kernel.overrides, ...launch.overrides };
  const p = launch.params ?? {};
  const bind = launch.bindings;
  return {
    n: p.n!,
    stride: p.stride!,
    clipValue: p.clip_value ?? 0,
    flag: (name: string) => (o[name] ? 1 : 0),
    w: ctx.address(bind.weights!),
    g: ctx.address(bind.grads!),
    s: ctx.address(bind.state!),
    hyper: ctx.address(bind.hyper!),
    stats: ctx.address(bind.stats!),
  };
}

export function planAdam(launch: Launch, ctx: WasmPlanContext): WasmRunner | null {
  const { n, stride, clipValue, flag, w, g, s, hyper, stats } = updateArgs(launch, ctx);
  if (n % 4 !== 0) return null;
  const [clipNorm, clipByValue, scaleLr, maximize] = [flag('clip_by_norm'), flag('clip_by_value'), flag('scale_lr'), flag('maximize')];
  const [amsgrad, decoupled] = [flag('amsgrad'), flag('decoupled')];
  const run = ctx.exports.adam;
  return () => run(w, g, s, n, stride, hyper, stats, clipNorm, clipByValue, clipValue, scaleLr, maximize, amsgrad, decoupled);
}

export function planSgd(launch: Launch, ctx: WasmPlanContext): WasmRunner | null {
  const { n, clipValue, flag, w, g, s, hyper, stats } = updateArgs(launch, ctx);
  if (n % 4 !== 0) return null;
  const [clipNorm, clipByValue, scaleLr, maximize] = [flag('clip_by_norm'), flag('clip_by_value'), flag('scale_lr'), flag('maximize')];
  const [hasMomentum, nesterov] = [flag('has_momentum'), flag('nesterov')];
  const run = ctx.exports.sgd;
  return () => run(w, g, s, n, hyper, stats, clipNorm, clipByValue, clipValue, scaleLr, maximize, hasMomentum, nesterov);
}
