// dawn.node (the `webgpu` package) settles its promises by polling: while one is pending it
// re-queues a native callback with setImmediate, back to back, so every wait spins a CPU core.
// On a real GPU that costs nothing but the core. On a CPU-emulated adapter (SwiftShader,
// lavapipe) the core was one the emulator's workers needed: on 2 vCPUs, GEMM 512³ took
// 73.8 ms on SwiftShader with the spin and 43.8 ms without, lavapipe 11.5 → 6.2 ms, which is
// what Chromium's SwiftShader (whose GPU process waits without spinning) was measuring.
// The pacer sleeps between dawn.node's polls, for an eighth of the time the wait has lasted
// (50 µs to 1 ms): a wait overshoots by at most about 12%, so millisecond operations stay
// millisecond operations, and a long wait costs a poll a millisecond. Sleeps under 1 ms block
// the JS thread in Atomics.wait slices between event-loop turns (a timer cannot wait less than
// 1 ms); longer ones are timers. Only callbacks shaped like dawn.node's polls (anonymous native
// functions of no arguments) are paced; every other setImmediate goes straight through.

const MIN_SLEEP_MS = 0.05;
const MAX_SLEEP_MS = 1;

type Immediate = (fn: (...args: unknown[]) => void, ...args: unknown[]) => unknown;

let installs = 0;
// The paced setImmediate in force and the one it wraps. A release that finds another wrapper
// over it cannot restore the original: that one stays in the chain, passing through, and the next
// install wraps the chain anew (taking the old one's wrapper as its original would make them call each other).
let current: { paced: Immediate; original: Immediate } | null = null;
let pollsSince = -1; // performance.now() when the current run of polls began; -1: none
let requeued = false;
let sleeper: Int32Array | null = null; // made on install: browsers without cross-origin isolation have no SharedArrayBuffer

/** dawn.node's poll callback: an anonymous native function of no arguments. */
function isDawnPoll(fn: unknown): fn is () => void {
  return typeof fn === 'function' && fn.name === '' && fn.length === 0 && Function.prototype.toString.call(fn) === 'function () { [native code] }';
}

function makePaced(original: Immediate): Immediate {
  const paced = function (this: unknown, fn: (...args: unknown[]) => void, ...args: unknown[]): unknown {
    if (installs === 0 || current?.paced !== paced || !isDawnPoll(fn)) return original.call(this, fn, ...args);
    requeued = true;
    const now = performance.now();
    if (pollsSince < 0) pollsSince = now;
    const poll = (): void => {
      requeued = false;
      fn();
      if (!requeued) pollsSince = -1; // nothing pending any more: the next poll starts a new wait
    };
    const sleep = Math.min(MAX_SLEEP_MS, Math.max(MIN_SLEEP_MS, (now - pollsSince) / 8));
    if (sleep >= MAX_SLEEP_MS) return setTimeout(poll, MAX_SLEEP_MS);
    return original(() => {
      Atomics.wait(sleeper!, 0, 0, sleep);
      poll();
    });
  };
  // Keep what hangs off Node's setImmediate, such as its util.promisify.custom.
  for (const key of Reflect.ownKeys(original)) {
    if (key !== 'length' && key !== 'name' && key !== 'prototype') Object.defineProperty(paced, key, Object.getOwnPropertyDescriptor(original, key)!);
  }
  return paced;
}

/**
 * Paces dawn.node's polling for as long as the returned release has not been called (counted:
 * the last release restores setImmediate). Node only; a no-op where there is no setImmediate.
 */
export function paceDawnPolling(): () => void {
  const g = globalThis as { setImmediate?: Immediate };
  if (typeof g.setImmediate !== 'function' || typeof SharedArrayBuffer !== 'function') return () => {};
  sleeper ??= new Int32Array(new SharedArrayBuffer(4));
  if (installs++ === 0 && g.setImmediate !== current?.paced) {
    const paced = makePaced(g.setImmediate);
    current = { paced, original: g.setImmediate };
    g.setImmediate = paced;
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--installs === 0) {
      pollsSince = -1;
      if (current && g.setImmediate === current.paced) {
        g.setImmediate = current.original;
        current = null;
      }
    }
  };
}
