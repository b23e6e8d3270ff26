/**
 * Timing windows shared by every case. A window enqueues `perWindow` iterations and then waits
 * for the device once, so the asynchronous libraries are timed the way a training loop runs them;
 * the reported figure is the median over windows of (window time / perWindow).
 *
 * Sides that are compared run their windows in turns (Descent, TF.js, Descent, ...), so load
 * from other processes on a shared machine falls on both alike instead of on whichever ran last.
 */

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((p, q) => p - q);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export interface WindowPlan {
  /** Untimed iterations first (pipeline compilation, lazy allocations, tracing). */
  readonly warmup: number;
  /** Iterations per timed window. */
  readonly perWindow: number;
  /** Timed windows at most; fewer when `budgetMs` runs out first. */
  readonly windows: number;
  /** Stop starting windows after this many timed milliseconds, once `minWindows` are done. */
  readonly budgetMs?: number;
  readonly minWindows?: number;
}

export interface Timing {
  /** Median milliseconds per iteration over the windows. */
  readonly medianMs: number;
  /** Per-iteration milliseconds of each window, in order. */
  readonly windowsMs: number[];
  readonly perWindow: number;
  /** Iterations timed in all (excluding warm-up). */
  readonly iterations: number;
}

/** One thing to time: `enqueue(i)` starts iteration i without waiting; `settle()` waits for all. */
export interface Side {
  /** Names the side in errors. */
  readonly label: string;
  readonly plan: WindowPlan;
  enqueue(i: number): void;
  /** Resolves when the work enqueued so far has finished (for a step: its loss has arrived). */
  settle(): Promise<void>;
  /** Called between the warm-up and the first timed window (to snapshot counters). */
  onTimed?(): void;
  /**
   * Called, untimed, before the warm-up and before each of this side's windows: TF.js sides make
   * their backend the active one here, so that sides on different TF.js backends can take turns.
   */
  enter?(): Promise<void>;
}

interface Progress {
  next: number;
  spent: number;
  readonly windowsMs: number[];
}

function finished(plan: WindowPlan, p: Progress): boolean {
  if (p.windowsMs.length >= plan.windows) return true;
  return plan.budgetMs !== undefined && p.windowsMs.length >= (plan.minWindows ?? 3) && p.spent >= plan.budgetMs;
}

/** Progress callbacks of `timeSides`. */
export interface Hooks {
  /** A side finished its warm-up iterations in `ms`. */
  warmed?(label: string, ms: number): void;
  /** The per-iteration ms of each side's window in a round (NaN: that side is done). */
  round?(ms: number[]): void;
}

/** Warms every side up, then runs their windows in turns until each has its windows or budget. */
export async function timeSides(sides: readonly Side[], hooks: Hooks = {}): Promise<Timing[]> {
  let current = sides[0]?.label;
  try {
    return await turns(sides, (label) => (current = label), hooks);
  } catch (e) {
    throw new Error(`${current}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

async function turns(sides: readonly Side[], entering: (label: string) => void, hooks: Hooks): Promise<Timing[]> {
  const progress: Progress[] = sides.map(() => ({ next: 0, spent: 0, windowsMs: [] }));
  for (const [s, side] of sides.entries()) {
    entering(side.label);
    await side.enter?.();
    const t0 = performance.now();
    for (let w = 0; w < side.plan.warmup; w++) {
      side.enqueue(progress[s]!.next++);
      await side.settle();
    }
    hooks.warmed?.(side.label, performance.now() - t0);
  }
  for (const side of sides) side.onTimed?.();
  while (sides.some((side, s) => !finished(side.plan, progress[s]!))) {
    const round: number[] = [];
    for (const [s, side] of sides.entries()) {
      const p = progress[s]!;
      if (finished(side.plan, p)) {
        round.push(NaN);
        continue;
      }
      entering(side.label);
      await side.enter?.();
      const t0 = performance.now();
      for (let k = 0; k < side.plan.perWindow; k++) side.enqueue(p.next++);
      await side.settle();
      const ms = performance.now() - t0;
      p.spent += ms;
      p.windowsMs.push(ms / side.plan.perWindow);
      round.push(ms / side.plan.perWindow);
    }
    hooks.round?.(round);
  }
  return sides.map((side, s) => {
    const { windowsMs } = progress[s]!;
    return { medianMs: median(windowsMs), windowsMs, perWindow: side.plan.perWindow, iterations: windowsMs.length * side.plan.perWindow };
  });
}

/** A side ready to time, and what turns its timing into a result (counts, cleanup). */
export interface Prepared<T> {
  readonly side: Side;
  finish(timing: Timing): Promise<T>;
}

/** Times prepared sides in turns and finishes each. */
export async function runSides<T>(prepared: readonly Prepared<T>[], hooks: Hooks = {}): Promise<T[]> {
  const timings = await timeSides(
    prepared.map((p) => p.side),
    hooks,
  );
  const results: T[] = [];
  for (const [i, p] of prepared.entries()) results.push(await p.finish(timings[i]!));
  return results;
}
