// Environment for WebGPU in Node on machines without a GPU: Dawn (npm 'webgpu') on SwiftShader,
// the CPU Vulkan driver that Debian's chromium package ships. Shared by test, bench and start.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const CHROMIUM = '/usr/bin/chromium';
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
export const CHROMIUM_LIBS = '/usr/lib/chromium';

const INSTALL = 'apt-get update && apt-get install -y chromium';

/** Installs chromium with apt when missing and running as root; otherwise says what to run. */
export function ensureChromium() {
  if (existsSync(CHROMIUM) && existsSync(SWIFTSHADER_ICD)) return;
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!root) {
    console.error(`Descent's GPU and browser tests need Debian's chromium package (SwiftShader + headless Chromium).\nInstall it with:\n  sudo sh -c '${INSTALL}'`);
    process.exit(1);
  }
  console.log(`Installing chromium (SwiftShader and headless Chromium): ${INSTALL}`);
  execFileSync('sh', ['-c', `${INSTALL.replace('apt-get install', 'DEBIAN_FRONTEND=noninteractive apt-get install')}`], { stdio: 'inherit' });
}

/**
 * Points Dawn at SwiftShader unless the caller chose a Vulkan driver (VK_ICD_FILENAMES) or asked
 * for the system's GPU (DESCENT_VULKAN=system), and lets it find chromium's libvulkan.
 */
export function webgpuEnv(base = process.env) {
  const env = { ...base };
  if (env.DESCENT_VULKAN !== 'system' && !env.VK_ICD_FILENAMES) env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  env.LD_LIBRARY_PATH = [env.LD_LIBRARY_PATH, CHROMIUM_LIBS].filter(Boolean).join(':');
  return env;
}
