/**
 * PyTorch on the CPU as the native reference: bench/torch-mlp.py, run by python3 in a child
 * process (it cannot share this process), times the MLP step of bench/mlp.ts. Where python3 has
 * no torch the row is skipped with the reason.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { OptimizerKind } from './mlp.js';

export interface TorchJob {
  readonly kind: OptimizerKind;
  readonly batch: number;
  readonly threads: number;
}

export interface TorchRow extends TorchJob {
  readonly medianMs: number;
  readonly windowsMs: number[];
  readonly perWindow: number;
}

export type TorchBench =
  | {
      available: true;
      python: string;
      version: string;
      defaultThreads: number;
      /** The build's BLAS (`BLAS_INFO` of `torch.__config__.show()`; Debian's python3-torch: 'generic') and SIMD level. */
      blas: string;
      capability: string;
      /** torch.mm at n = 1024 on one thread. */
      matmul1024Gflops: number;
      rows: TorchRow[];
    }
  | { available: false; reason: string };

/** The first python3 that imports torch: the system's (Debian's python3-torch), then the one on PATH. */
function findPython(): { python: string } | { reason: string } {
  const candidates = [...new Set(['/usr/bin/python3', 'python3'])].filter((p) => !p.startsWith('/') || existsSync(p));
  const failures: string[] = [];
  for (const python of candidates) {
    try {
      execFileSync(python, ['-c', 'import torch'], { stdio: 'ignore', timeout: 60_000 });
      return { python };
    } catch {
      failures.push(python);
    }
  }
  return { reason: `no python3 with torch (tried ${failures.join(', ') || 'none'}: \`python3 -c "import torch"\` failed)` };
}

export async function benchTorch(jobs: readonly TorchJob[], progress: (line: string) => void): Promise<TorchBench> {
  const found = findPython();
  if ('reason' in found) return { available: false, reason: found.reason };
  const child = spawn(found.python, ['bench/torch-mlp.py'], { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin.end(JSON.stringify(jobs));
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    // A chunk may end inside a line: only the lines completed by this chunk are reported.
    const done = stdout.split('\n').length - 1;
    stdout += chunk.toString();
    for (const line of stdout.split('\n').slice(done, -1)) {
      const row = JSON.parse(line) as Partial<TorchRow>;
      if (row.medianMs !== undefined) progress(`torch ${row.kind}, batch ${row.batch}, ${row.threads} thread(s): ${row.medianMs.toFixed(1)} ms`);
    }
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)));
  if (code !== 0) throw new Error(`bench/torch-mlp.py exited with ${code}: ${stderr.trim().split('\n').slice(-3).join(' / ')}`);
  const [head, ...rows] = stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  return {
    available: true,
    python: found.python,
    version: String(head!.torch),
    defaultThreads: Number(head!.defaultThreads),
    blas: String(head!.blas),
    capability: String(head!.capability),
    matmul1024Gflops: Number(head!.matmul1024Gflops),
    rows: rows as unknown as TorchRow[],
  };
}
