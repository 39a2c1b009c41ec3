// dawn.node (the `webgpu` package) settles its promises by polling: while one is pending it
// re-queues a native callback with setImmediate, back to back, so every wait spins a CPU core.
// On a real GPU that costs nothing but the core. On a CPU-emulated adapter (SwiftShader,
// lavapipe) the core was one the emulator's workers needed: on 2 vCPUs, GEMM 512³ took
// 73.8 ms on SwiftShader with the spin and 43.8 ms without, lavapipe 11.5 → 6.2 ms, which is
// what Chromium's SwiftShader (whose GPU process waits without spinning) was measuring.
// The pacer lets a run of polls spin for its first SPIN_MS, so short waits stay short, and
// then polls once a millisecond. Only dawn.node's own callbacks are touched: every other
// setImmediate goes straight through.

const SPIN_MS = 0.5;

type Immediate = (fn: (...args: unknown[]) => void, ...args: unknown[]) => unknown;

let installs = 0;
let original: Immediate | null = null; // Node's setImmediate, once paced
let pollsSince = -1; // performance.now() when the current run of polls began; -1: none
let requeued = false;

/** dawn.node's poll callback: an anonymous native function of no arguments. */
function isDawnPoll(fn: unknown): fn is () => void {
  return typeof fn === 'function' && fn.name === '' && fn.length === 0 && Function.prototype.toString.call(fn) === 'function () { [native code] }';
}

function paced(this: unknown, fn: (...args: unknown[]) => void, ...args: unknown[]): unknown {
  const immediate = original!;
  // Released, but another wrapper installed over this one keeps it in the chain: pass through.
  if (installs === 0 || !isDawnPoll(fn)) return immediate.call(this, fn, ...args);
  requeued = true;
  const now = performance.now();
  if (pollsSince < 0) pollsSince = now;
  const poll = (): void => {
    requeued = false;
    fn();
    if (!requeued) pollsSince = -1; // nothing pending any more: the next poll starts a new wait
  };
  return now - pollsSince < SPIN_MS ? immediate(poll) : setTimeout(poll, 1);
}

/**
 * Paces dawn.node's polling for as long as the returned release has not been called (counted:
 * the last release restores setImmediate). Node only; a no-op where there is no setImmediate.
 */
export function paceDawnPolling(): () => void {
  const g = globalThis as { setImmediate?: Immediate };
  if (typeof g.setImmediate !== 'function') return () => {};
  if (installs++ === 0 && g.setImmediate !== paced) {
    original = g.setImmediate;
    // Keep what hangs off Node's setImmediate, such as its util.promisify.custom.
    for (const key of Reflect.ownKeys(original)) {
      if (key !== 'length' && key !== 'name' && key !== 'prototype') Object.defineProperty(paced, key, Object.getOwnPropertyDescriptor(original, key)!);
    }
    g.setImmediate = paced as Immediate;
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--installs === 0) {
      pollsSince = -1;
      if (g.setImmediate === paced) g.setImmediate = original!;
    }
  };
}
