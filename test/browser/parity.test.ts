import type { Browser } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectAllClose } from '../harness.js';
import { launchChromium, serve } from './chromium.js';

let browser: Browser;
let server: Awaited<ReturnType<typeof serve>>;

beforeAll(async () => {
  server = await serve(process.cwd());
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

interface Side {
  losses: number[];
  grads: Record<string, number[]>;
  state: Record<string, number[]>;
}

describe('browser tier: the built bundle in headless Chromium', () => {
  it('trains an MLP on navigator.gpu exactly as on the CPU backend', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    const seed = 1 + Math.floor(Math.random() * 1000);
    await page.goto(`${server.url}/test/browser/parity.html?seed=${seed}`);
    await page.waitForFunction('window.result !== undefined', { timeout: 240_000 });
    const result = (await page.evaluate('window.result')) as { error?: string; adapter: string; gpu: Side; cpu: Side };
    expect(errors).toEqual([]);
    expect(result.error).toBeUndefined();
    expect(result.adapter).toMatch(/WebGPU/);
    expectAllClose(result.gpu.losses, result.cpu.losses, { rtol: 1e-4, label: 'losses' });
    expect(Object.keys(result.gpu.grads).sort()).toEqual(Object.keys(result.cpu.grads).sort());
    for (const name of Object.keys(result.cpu.grads)) {
      expectAllClose(result.gpu.grads[name]!, result.cpu.grads[name]!, { rtol: 1e-4, atol: 1e-6, label: `grad ${name}` });
      expectAllClose(result.gpu.state[name]!, result.cpu.state[name]!, { rtol: 1e-4, atol: 1e-6, label: `param ${name}` });
    }
    await page.close();
  });
});
