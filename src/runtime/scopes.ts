// engine.scope's bookkeeping: which open scope a new tensor belongs to. Scopes nest, and with
// async bodies two can also overlap in time: a scope started from an event handler while
// another awaits. Where the runtime follows async call chains (Node's AsyncLocalStorage), a
// tensor belongs to the scope of the chain that made it, so overlapping scopes each free only
// their own. Elsewhere (browsers, which have no such thing yet) it belongs to the scope opened
// last, which is right only while scopes nest; the README says so.
import type { Tensor } from './tensor.js';

export interface ScopeFrame {
  readonly tensors: Set<Tensor>;
  readonly parent: ScopeFrame | null;
  closed: boolean;
}

interface AsyncStore {
  getStore(): ScopeFrame | undefined;
  run<R>(store: ScopeFrame, fn: () => R): R;
}

export type AsyncStoreClass = new () => AsyncStore;

/** Node's AsyncLocalStorage (imported once by the module loader, then free); null elsewhere. */
export async function asyncStoreClass(): Promise<AsyncStoreClass | null> {
  if (typeof process === 'undefined' || !process.versions?.node) return null;
  try {
    return (await import(/* @vite-ignore */ 'node:async_hooks')).AsyncLocalStorage as AsyncStoreClass;
  } catch {
    return null; // a Node-like runtime without it: scopes fall back to the stack
  }
}

export class ScopeTracker {
  private readonly store: AsyncStore | null;
  private readonly stack: ScopeFrame[] = []; // the frames opened last, where there is no store
  private readonly open = new Set<ScopeFrame>();

  /** storeClass: from asyncStoreClass(), or null for the stack alone. */
  constructor(storeClass: AsyncStoreClass | null) {
    this.store = storeClass ? new storeClass() : null;
  }

  /** True where overlapping scopes are told apart (Node). */
  get followsAsync(): boolean {
    return this.store !== null;
  }

  /** The scope a tensor made now belongs to: the innermost open one of this call chain. */
  current(): ScopeFrame | null {
    let f = (this.store ? this.store.getStore() : this.stack.at(-1)) ?? null;
    while (f?.closed) f = f.parent; // work a scope started but did not await
    return f;
  }

  /** Runs fn in a new scope; the caller settles it with close(). */
  run<T>(fn: () => Promise<T> | T): { frame: ScopeFrame; result: Promise<T> } {
    const frame: ScopeFrame = { tensors: new Set(), parent: this.current(), closed: false };
    this.open.add(frame);
    const store = this.store;
    if (!store) this.stack.push(frame);
    let result: Promise<T>;
    try {
      result = Promise.resolve(store ? store.run(frame, fn) : fn());
    } catch (e) {
      result = Promise.reject(e); // a body that throws before its first await frees its tensors too
    }
    return { frame, result };
  }

  close(frame: ScopeFrame): void {
    frame.closed = true;
    this.open.delete(frame);
    const i = this.stack.lastIndexOf(frame);
    if (i >= 0) this.stack.splice(i, 1); // by identity: a scope that overlapped another may not be on top
  }

  /** Forgets t in every open scope, so none frees it. */
  forget(t: Tensor): void {
    for (const f of this.open) f.tensors.delete(t);
  }
}
