// `npm test`: every tier (cpu, gpu, browser), none skipped. Installs what a fresh Debian machine
// lacks, builds the bundles the browser tier loads, runs vitest and prints one closing line.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { ensureChromium, webgpuEnv } from './env.mjs';

const TIERS = ['cpu', 'gpu', 'browser'];
const RESULTS = '.vitest-results.json';

ensureChromium();
if (!existsSync('node_modules/.bin/vitest')) execFileSync('npm', ['ci'], { stdio: 'inherit' });
execFileSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });

rmSync(RESULTS, { force: true });
const args = ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${RESULTS}`, ...process.argv.slice(2)];
const run = spawnSync('npx', args, { stdio: 'inherit', env: webgpuEnv() });

if (!existsSync(RESULTS)) {
  console.error('vitest wrote no results');
  process.exit(run.status || 1);
}
const report = JSON.parse(readFileSync(RESULTS, 'utf8'));
const counts = Object.fromEntries(TIERS.map((t) => [t, { passed: 0, failed: 0, skipped: 0 }]));
for (const file of report.testResults) {
  const tier = TIERS.find((t) => file.name.includes(`/test/${t}/`));
  if (!tier) continue;
  for (const a of file.assertionResults) {
    if (a.status === 'passed') counts[tier].passed++;
    else if (a.status === 'failed') counts[tier].failed++;
    else counts[tier].skipped++;
  }
  if (file.status === 'failed' && file.assertionResults.length === 0) counts[tier].failed++;
}
let ok = run.status === 0;
for (const t of TIERS) {
  const c = counts[t];
  console.log(`tier ${t}: ${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped`);
  if (process.argv.length <= 2 && c.passed === 0) {
    console.error(`tier ${t} ran no test`);
    ok = false;
  }
  if (c.skipped > 0) {
    console.error(`tier ${t} skipped tests: every tier must run in full`);
    ok = false;
  }
}
const total = Object.values(counts).reduce((a, c) => ({ passed: a.passed + c.passed, failed: a.failed + c.failed, skipped: a.skipped + c.skipped }), { passed: 0, failed: 0, skipped: 0 });
console.log(`${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
process.exit(ok && total.failed === 0 ? 0 : 1);
