/**
 * Shared by the lab's browser tests: builds the bundles the page loads (esbuild only, plus the
 * MNIST binary), serves demo/, opens the lab with an error collector, and checks the drawing.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'puppeteer-core';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const SCREENSHOTS = join(ROOT, 'test/browser/screenshots');

export async function buildLab(): Promise<void> {
  execFileSync('node', ['esbuild.config.mjs'], { cwd: ROOT, stdio: 'inherit' });
  if (!existsSync(join(ROOT, 'demo/dist/mnist.bin'))) {
    execFileSync('node', ['--input-type=module', '-e', "await (await import('./scripts/build-data.mjs')).buildData()"], { cwd: ROOT, stdio: 'inherit' });
  }
  mkdirSync(SCREENSHOTS, { recursive: true });
}

export interface Lab {
  page: Page;
  errors: string[];
}

/** Opens the lab at `query` and waits for its device; console errors and page errors are collected. */
export async function openLab(browser: Browser, base: string, query = ''): Promise<Lab> {
  const page = await browser.newPage();
  await page.setViewport({ width: 1400, height: 1000 });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  await page.goto(`${base}${query}`);
  await page.waitForFunction('window.descentDemo !== undefined');
  await page.evaluate(() => window.descentDemo.ready);
  return { page, errors };
}

/** Ids of the visible canvases that hold no drawn pixel (a blank canvas is all one colour). */
export async function blankCanvases(page: Page): Promise<string[]> {
  // Let the throttled redraw run.
  await new Promise((r) => setTimeout(r, 600));
  return page.evaluate(() => {
    const blank: string[] = [];
    document.querySelectorAll('canvas').forEach((c, i) => {
      if (c.offsetParent === null || c.width === 0) return;
      if (c.id === 'draw') return;
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let drawn = false;
      for (let k = 4; k < d.length && !drawn; k += 4) {
        if (d[k] !== d[0] || d[k + 1] !== d[1] || d[k + 2] !== d[2] || d[k + 3] !== d[3]) drawn = true;
      }
      if (!drawn) blank.push(c.id || `${c.closest('figure')?.id ?? 'canvas'}#${i}`);
    });
    return blank;
  });
}

export const mean = (v: readonly number[]) => v.reduce((a, b) => a + b, 0) / v.length;

/**
 * Starts recording main-thread long tasks (over 50 ms). `longTasks()` returns one line per task:
 * its duration and, from the long animation frame that holds it, the scripts that ran and the
 * time spent in rendering, so that a failure says where the time went.
 */
export async function watchLongTasks(page: Page): Promise<void> {
  await page.evaluate(() => {
    interface Script { invoker: string; sourceFunctionName: string; sourceURL: string; sourceCharPosition: number; duration: number; forcedStyleAndLayoutDuration: number }
    interface Frame extends PerformanceEntry { renderStart: number; styleAndLayoutStart: number; scripts: Script[] }
    const w = window as unknown as { longTasks: { start: number; duration: number }[]; frames: Frame[]; observers?: PerformanceObserver[] };
    // Watching again on the same page starts a new record.
    for (const o of w.observers ?? []) o.disconnect();
    w.longTasks = [];
    w.frames = [];
    (w as unknown as { watchedFrom: number }).watchedFrom = performance.now();
    const tasks = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) w.longTasks.push({ start: e.startTime, duration: e.duration });
    });
    tasks.observe({ type: 'longtask' });
    const frames = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) w.frames.push(e as Frame);
    });
    frames.observe({ type: 'long-animation-frame' });
    w.observers = [tasks, frames];
  });
}

export async function longTasks(page: Page): Promise<string[]> {
  // Entries reach the observers a little after their task ends.
  await new Promise((r) => setTimeout(r, 100));
  if (process.env.DESCENT_LAB_TIMES) {
    // The margin under the limit: the slowest redraws and animation frames since watching began.
    const worst = await page.evaluate(() => {
      const w = window as unknown as { frames: PerformanceEntry[]; watchedFrom: number };
      const draws = (window.descentDemo?.drawTimes() ?? []).filter((d) => d.start >= w.watchedFrom).sort((a, b) => b.ms - a.ms).slice(0, 3);
      const frames = w.frames.map((f) => Math.round(f.duration)).sort((a, b) => b - a).slice(0, 3);
      return `redraws ${draws.map((d) => `${d.what} ${d.ms.toFixed(1)}`).join(', ')}; long frames ${frames.join(', ')}`;
    });
    process.stderr.write(`[lab times] ${worst}\n`);
  }
  return page.evaluate(() => {
    interface Script { invoker: string; sourceFunctionName: string; sourceCharPosition: number; duration: number; forcedStyleAndLayoutDuration: number }
    interface Frame { startTime: number; duration: number; renderStart: number; styleAndLayoutStart: number; scripts: Script[] }
    const w = window as unknown as { longTasks: { start: number; duration: number }[]; frames: Frame[] };
    const draws = window.descentDemo?.drawTimes() ?? [];
    return w.longTasks.map((t) => {
      // The lab's chart redraws that ran inside the task, by name.
      const inside = draws.filter((d) => d.start >= t.start - 1 && d.start <= t.start + t.duration);
      const charts = inside.length ? ` [redraws: ${inside.map((d) => `${d.what} ${Math.round(d.ms)} ms`).join(', ')}]` : '';
      const f = w.frames.find((x) => x.startTime <= t.start + 1 && t.start + t.duration <= x.startTime + x.duration + 1);
      if (!f) return `${Math.round(t.duration)} ms${charts}`;
      const scripts = f.scripts.map((s) => `${s.invoker} ${s.sourceFunctionName}@${s.sourceCharPosition} ${Math.round(s.duration)} ms (forced layout ${Math.round(s.forcedStyleAndLayoutDuration)})`);
      const render = f.renderStart ? Math.round(f.startTime + f.duration - f.renderStart) : 0;
      return `${Math.round(t.duration)} ms: ${scripts.join('; ') || 'no script'}; rendering ${render} ms${charts}`;
    });
  });
}
