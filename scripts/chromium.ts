// How this project launches headless Chromium with WebGPU: the bench, the demo's e2e test
// and the demo's screenshot. One list, so a flag Chromium needs is added once.

/** The browser: CHROME_PATH, else Debian's chromium. */
export const chromiumPath = (): string => process.env.CHROME_PATH ?? '/usr/bin/chromium';

/** Flags for any run: WebGPU on, and nothing that reaches the network or a first-run page. */
export const COMMON_FLAGS = ['--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--enable-unsafe-webgpu'];

/** WebGPU on SwiftShader, the CPU (a machine without a GPU). */
export const SWIFTSHADER_FLAGS = [...COMMON_FLAGS, '--enable-unsafe-swiftshader', '--use-webgpu-adapter=swiftshader'];
