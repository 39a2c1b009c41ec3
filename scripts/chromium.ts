// How this project launches headless Chromium with WebGPU: the bench, the demo's e2e test
// and the demo's screenshot. One list, so a flag Chromium needs is added once.
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** Where Chromium or Chrome usually is, by platform (Debian's package first: it ships SwiftShader's Vulkan driver). */
function candidates(platform: NodeJS.Platform): string[] {
  if (platform === 'darwin') return ['/Applications/Google Chrome.app/Contents/MacOS/Google Chrome', '/Applications/Chromium.app/Contents/MacOS/Chromium'];
  if (platform === 'win32') {
    const roots = [process.env.PROGRAMFILES, process.env['PROGRAMFILES(X86)'], process.env.LOCALAPPDATA].filter((r): r is string => !!r);
    return roots.map((r) => join(r, 'Google', 'Chrome', 'Application', 'chrome.exe'));
  }
  return ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome-stable', '/usr/bin/google-chrome'];
}

/** The browser: CHROME_PATH, else the first of the usual places that exists; an error naming them and the fix if none does. */
export function chromiumPath(platform: NodeJS.Platform = process.platform): string {
  if (process.env.CHROME_PATH) return process.env.CHROME_PATH;
  const tried = candidates(platform);
  const found = tried.find((p) => existsSync(p));
  if (!found) {
    throw new Error(`no Chromium or Chrome found (tried ${tried.join(', ') || 'nothing on this platform'}); install one (Debian: apt-get install chromium) or set CHROME_PATH to its executable.`);
  }
  return found;
}

/** Flags for any run: WebGPU on, and nothing that reaches the network or a first-run page. */
export const COMMON_FLAGS = ['--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--enable-unsafe-webgpu'];

/** WebGPU on SwiftShader, the CPU (a machine without a GPU). */
export const SWIFTSHADER_FLAGS = [...COMMON_FLAGS, '--enable-unsafe-swiftshader', '--use-webgpu-adapter=swiftshader'];

/**
 * WebGPU on the machine's GPU. Linux: Vulkan through ANGLE, as Chrome's "Supercharge Web AI
 * model testing" post gives them for headless NVIDIA (without --disable-vulkan-surface, Vulkan
 * wants a display surface headless has not). macOS and Windows: Metal and D3D12 are Chrome's
 * own WebGPU back ends, with no flag.
 */
export function gpuFlags(platform: NodeJS.Platform = process.platform): string[] {
  const linux = platform !== 'darwin' && platform !== 'win32';
  return [...COMMON_FLAGS, ...(linux ? ['--enable-features=Vulkan', '--use-angle=vulkan', '--disable-vulkan-surface'] : []), '--ignore-gpu-blocklist'];
}
