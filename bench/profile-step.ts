/**
 * Where the time of one train step goes: the MLP 784-256-256-10 step at batch 128 with SGD (the
 * step of `npm run bench -- --only=mlp`), each of its dispatches timed on its own on WebGPU.
 *
 * Every launch of the compiled step is compiled into a program of its own that repeats it
 * `REPEAT` times in one submit (so the submit and wait are spread over many dispatches), and the
 * launches take turns round after round, so that load from other processes falls on all alike.
 * Reported per dispatch: the median wall time and the median process CPU time (SwiftShader runs
 * its threads in this process, so CPU time counts the work whatever the machine's load), with
 * GFLOP/s for the matmuls (2·M·N·K over wall time). Repeating a dispatch is harmless here: each
 * one rewrites its outputs from its inputs, and the SGD update merely moves the weights further.
 *
 *   npx esbuild bench/profile-step.ts --bundle --platform=node --format=esm --loader:.wgsl=text \
 *     --external:webgpu --outfile=/tmp/profile-step.mjs && \
 *   LD_LIBRARY_PATH=/usr/lib/chromium VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json \
 *     node /tmp/profile-step.mjs [--rounds=N]
 */
import type { Backend, Program } from '../src/backend/backend.js';
import type { Launch } from '../src/backend/kernel.js';
import { createDevice } from '../src/device.js';
import * as optim from '../src/optim/index.js';
import * as nn from '../src/nn/index.js';
import { Trainer } from '../src/train/trainer.js';
import { BATCH, mlpData, mlpModel } from './mlp.js';
import { median } from './timing.js';
import { loadWebgpu } from './node-webgpu.js';

const REPEAT = 4;

interface Sample {
  wallMs: number;
  cpuMs: number;
}

async function timeRun(backend: Backend, program: Program): Promise<Sample> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  backend.run(program);
  await backend.idle();
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { wallMs, cpuMs: (cpu.user + cpu.system) / 1000 };
}

function flops(l: Launch): number {
  if (l.kernel.name !== 'matmul' || !l.params) return 0;
  return 2 * l.params.m! * l.params.n! * l.params.k!;
}

function shape(l: Launch): string {
  if (l.kernel.name !== 'matmul' || !l.params) return '';
  const o = l.overrides ?? {};
  const flags = ['trans_a', 'trans_b', 'gate_a', 'has_bias', 'ones_col'].filter((f) => o[f] === 1);
  const tile = o.wg_x !== undefined ? ` tile ${16 * o.wg_y!}x${16 * o.wg_x}` : '';
  return `${l.params.m}x${l.params.n}x${l.params.k} ${flags.join(',')}${tile}`.trim();
}

export interface DispatchProfile {
  readonly label: string;
  readonly shape: string;
  readonly workgroups: number;
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly gflops: number;
}

/** Times each launch of `launches` alone, `rounds` turns each, and the whole list as one submit. */
export async function profileLaunches(backend: Backend, launches: readonly Launch[], rounds: number) {
  const programs = launches.map((l, i) => backend.compile(Array(REPEAT).fill(l), `profile/${i}`));
  const whole = backend.compile(launches, 'profile/step');
  for (const p of [...programs, whole]) await timeRun(backend, p);
  await (backend as { health?: () => Promise<void> }).health?.();
  const samples: Sample[][] = launches.map(() => []);
  const wholeSamples: Sample[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const [i, p] of programs.entries()) samples[i]!.push(await timeRun(backend, p));
    wholeSamples.push(await timeRun(backend, whole));
  }
  for (const p of [...programs, whole]) p.dispose();
  const rows: DispatchProfile[] = launches.map((l, i) => {
    const wallMs = median(samples[i]!.map((s) => s.wallMs)) / REPEAT;
    const cpuMs = median(samples[i]!.map((s) => s.cpuMs)) / REPEAT;
    return {
      label: `${l.kernel.name}: ${l.label ?? ''}`,
      shape: shape(l),
      workgroups: l.workgroups[0] * l.workgroups[1] * l.workgroups[2],
      wallMs,
      cpuMs,
      gflops: flops(l) / (wallMs * 1e6),
    };
  });
  const step = { wallMs: median(wholeSamples.map((s) => s.wallMs)), cpuMs: median(wholeSamples.map((s) => s.cpuMs)) };
  return { rows, step };
}

export function profileTable(rows: readonly DispatchProfile[], step: { wallMs: number; cpuMs: number }): string {
  const lines = ['| # | dispatch | M×N×K, variant | workgroups | wall ms | CPU ms | GFLOP/s |', '|---:|---|---|---:|---:|---:|---:|'];
  rows.forEach((r, i) => {
    const gf = r.gflops > 0 ? r.gflops.toFixed(2) : '–';
    lines.push(`| ${i} | ${r.label} | ${r.shape} | ${r.workgroups} | ${r.wallMs.toFixed(1)} | ${r.cpuMs.toFixed(1)} | ${gf} |`);
  });
  const sumWall = rows.reduce((s, r) => s + r.wallMs, 0);
  const sumCpu = rows.reduce((s, r) => s + r.cpuMs, 0);
  lines.push(`| | sum of dispatches | | | ${sumWall.toFixed(1)} | ${sumCpu.toFixed(1)} | |`);
  lines.push(`| | whole step, one submit | | | ${step.wallMs.toFixed(1)} | ${step.cpuMs.toFixed(1)} | |`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const rounds = Number(/^--rounds=(\d+)$/.exec(process.argv.find((a) => a.startsWith('--rounds=')) ?? '')?.[1] ?? 7);
  const { create, globals } = await loadWebgpu();
  Object.assign(globalThis, globals);
  // Dawn tears the device down when its instance is collected, so `gpu` stays referenced here.
  const gpu = create([]) as GPU;
  const device = await createDevice({ backend: 'webgpu', gpu });
  const model = mlpModel();
  const trainer = new Trainer(device, model, {
    loss: new nn.CrossEntropyLoss(),
    optimizer: new optim.SGD(model.parameters(), { lr: 0.05 }),
    inputShape: [784],
  });
  const data = mlpData();
  await trainer.step(data.x[0]!, data.y[0]!).loss;
  await trainer.idle();
  const { launches } = trainer.describeStep(BATCH);
  console.log(`MLP 784-256-256-10 train step, batch ${BATCH}, SGD, on ${device.backend.description}`);
  console.log(`${launches.length} dispatches, each repeated ${REPEAT}x per submit, medians over ${rounds} rounds\n`);
  const { rows, step } = await profileLaunches(device.backend, launches, rounds);
  console.log(profileTable(rows, step));
  await trainer.dispose();
  device.dispose();
  void gpu;
}

if (/(^|\/)profile-step\.[cm]?[jt]s$/.test(process.argv[1] ?? '')) await main();
