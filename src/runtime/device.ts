// Device acquisition, in one place: navigator.gpu in a browser, Dawn (`webgpu` npm) in Node.
// In Node with no hardware adapter, Vulkan is pointed at a SwiftShader ICD so that WebGPU
// still runs (on the CPU).
import { DeviceError } from '../errors.js';

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  /** 'navigator.gpu' in a browser or worker, 'dawn-node' in Node. */
  via: 'navigator.gpu' | 'dawn-node';
  /** The Vulkan ICD file used in Node, when one was chosen. */
  icd?: string;
  /**
   * In Node: true where no Vulkan driver was chosen and the machine's own gave no adapter, so a
   * SwiftShader found in Chromium's install runs WebGPU (a machine without a GPU or lavapipe).
   */
  foundSwiftShader?: boolean;
  /** The subgroup size when the device has the `subgroups` feature and one fixed size, else 0. */
  subgroupSize: number;
}

export interface AcquireOptions {
  powerPreference?: GPUPowerPreference;
  /** Path of a Vulkan ICD JSON to use in Node (default: $CONVGPU_VK_ICD, then a found SwiftShader). */
  icd?: string;
}

export interface Acquired {
  gpu: GPU;
  adapter: GPUAdapter;
  device: GPUDevice;
  info: AdapterSummary;
}

/** Where SwiftShader's Vulkan ICD lives in the usual installs. */
export const SWIFTSHADER_ICDS = [
  '/usr/lib/chromium/vk_swiftshader_icd.json',
  '/usr/lib/chromium-browser/vk_swiftshader_icd.json',
  '/opt/google/chrome/vk_swiftshader_icd.json',
  '/opt/google/chrome-beta/vk_swiftshader_icd.json',
  '/snap/chromium/current/usr/lib/chromium-browser/vk_swiftshader_icd.json',
];

const NO_ADAPTER_HELP =
  'No WebGPU adapter is available. On Linux without a GPU, install Chromium (Debian: `apt-get install chromium`), ' +
  'which ships the SwiftShader Vulkan driver, or set CONVGPU_VK_ICD to a Vulkan ICD JSON; ' +
  'with a GPU, install its Vulkan driver. In a browser, use Chrome/Edge 113+ (or Firefox/Safari with WebGPU on) ' +
  'and serve the page from https:// or http://localhost.';

export function summarize(adapter: GPUAdapter, via: AdapterSummary['via'], icd?: string, foundSwiftShader = false): AdapterSummary {
  const i = adapter.info;
  const sg = i as { subgroupMinSize?: number; subgroupMaxSize?: number } | undefined;
  const fixedSubgroup = adapter.features.has('subgroups') && sg?.subgroupMinSize && sg.subgroupMinSize === sg.subgroupMaxSize ? sg.subgroupMinSize : 0;
  const fallback = (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? (i as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false;
  return {
    vendor: i?.vendor ?? '',
    architecture: i?.architecture ?? '',
    device: i?.device ?? '',
    description: i?.description ?? '',
    isFallbackAdapter: Boolean(fallback || /swiftshader|llvmpipe/i.test(`${i?.architecture} ${i?.description}`)),
    via,
    ...(icd ? { icd } : {}),
    ...(foundSwiftShader ? { foundSwiftShader } : {}),
    subgroupSize: fixedSubgroup,
  };
}

/** Ask for every limit the adapter has, not the spec defaults. */
function realLimits(adapter: GPUAdapter): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key in adapter.limits) {
    const v: unknown = adapter.limits[key as keyof GPUSupportedLimits];
    if (typeof v === 'number') out[key] = v;
  }
  return out;
}

async function openDevice(gpu: GPU, adapter: GPUAdapter, via: AdapterSummary['via'], icd?: string, foundSwiftShader = false): Promise<Acquired> {
  const wanted: GPUFeatureName[] = ['timestamp-query', 'subgroups' as GPUFeatureName];
  const requiredFeatures = wanted.filter((f) => adapter.features.has(f));
  const device = await adapter.requestDevice({ requiredFeatures, requiredLimits: realLimits(adapter) });
  return { gpu, adapter, device, info: summarize(adapter, via, icd, foundSwiftShader) };
}

async function nodeFs(): Promise<{ existsSync(p: string): boolean } | null> {
  try {
    return await import(/* @vite-ignore */ 'node:fs');
  } catch {
    return null;
  }
}

export async function acquireDevice(opts: AcquireOptions = {}): Promise<Acquired> {
  const powerPreference = opts.powerPreference ?? 'high-performance';
  const nav = (globalThis as { navigator?: Navigator }).navigator;
  const versions = typeof process !== 'undefined' ? (process.versions as Record<string, string | undefined> | undefined) : undefined;
  // Electron's renderer and Deno have process.versions.node and their own navigator.gpu: use theirs.
  const isNode = !!versions?.node && !((versions.electron || 'Deno' in globalThis) && nav?.gpu);
  if (!isNode) {
    if (!nav?.gpu) {
      const secure = (globalThis as { isSecureContext?: boolean }).isSecureContext;
      throw new DeviceError(
        secure === false ? `WebGPU needs a secure context (https:// or http://localhost). ${NO_ADAPTER_HELP}` : NO_ADAPTER_HELP,
      );
    }
    const adapter = await nav.gpu.requestAdapter({ powerPreference });
    if (!adapter) throw new DeviceError(NO_ADAPTER_HELP);
    return openDevice(nav.gpu, adapter, 'navigator.gpu');
  }

  const modName = 'webgpu';
  let dawn: { create(flags: string[]): GPU; globals: object };
  try {
    dawn = await import(/* @vite-ignore */ modName);
  } catch (e) {
    throw new DeviceError(`The \`webgpu\` npm package (Dawn for Node) could not be loaded: ${String(e)}. Run \`npm install webgpu\`.`);
  }
  Object.assign(globalThis, dawn.globals);
  const env = process.env;
  const explicit = opts.icd ?? env.CONVGPU_VK_ICD;
  if (explicit) env.VK_ICD_FILENAMES = explicit;
  const preset = env.VK_ICD_FILENAMES ?? env.VK_DRIVER_FILES;
  if (preset) {
    const gpu = dawn.create(dawnFlags());
    const adapter = await gpu.requestAdapter({ powerPreference });
    if (!adapter) throw new DeviceError(`No WebGPU adapter through the Vulkan ICD ${preset}. ${NO_ADAPTER_HELP}`);
    return openDevice(gpu, adapter, 'dawn-node', preset);
  }
  // First the machine's own drivers (a real GPU), then SwiftShader.
  const gpu = dawn.create(dawnFlags());
  const adapter = await gpu.requestAdapter({ powerPreference });
  if (adapter) return openDevice(gpu, adapter, 'dawn-node');
  const fs = await nodeFs();
  const found = SWIFTSHADER_ICDS.find((p) => fs?.existsSync(p));
  if (!found) throw new DeviceError(`No GPU adapter and no SwiftShader ICD found (looked in ${SWIFTSHADER_ICDS.join(', ')}). ${NO_ADAPTER_HELP}`);
  env.VK_ICD_FILENAMES = found;
  const gpu2 = dawn.create(dawnFlags());
  const adapter2 = await gpu2.requestAdapter({ powerPreference });
  if (!adapter2) throw new DeviceError(`SwiftShader at ${found} gave no adapter. ${NO_ADAPTER_HELP}`);
  return openDevice(gpu2, adapter2, 'dawn-node', found, true);
}

export function describeAdapter(info: AdapterSummary): string {
  const name = [info.vendor, info.architecture, info.device || info.description].filter(Boolean).join(' / ');
  return `${name || 'unknown adapter'} (${info.via}${info.isFallbackAdapter ? ', CPU fallback' : ''})`;
}

/**
 * Flags for dawn.create: CONVGPU_DAWN_FLAGS (space-separated, e.g. "enable-dawn-features=dump_shaders"),
 * with Dawn's timestamp_quantization toggle off. Dawn rounds timestamps down to 2¹⁶ ns by default,
 * a browser's defence against timing attacks that in a Node process only blurs GpuTimer: on an
 * H100 most kernels took 0 or 1 such step.
 */
export function dawnFlags(env: Record<string, string | undefined> = process.env): string[] {
  const flags = (env.CONVGPU_DAWN_FLAGS ?? '').split(' ').filter(Boolean);
  const TOGGLE = 'timestamp_quantization';
  const i = flags.findIndex((f) => f.startsWith('disable-dawn-features='));
  if (i < 0) flags.push(`disable-dawn-features=${TOGGLE}`);
  else if (!flags[i]!.slice(flags[i]!.indexOf('=') + 1).split(',').includes(TOGGLE)) flags[i] += `,${TOGGLE}`;
  return flags;
}
