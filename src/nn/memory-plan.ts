// Buffer planning by liveness: values whose lifetimes [start, end] do not overlap share a
// buffer. Greedy in order of start time, best fit among the buffers free at that time.
// A value that ends at step t and one that starts at t never share: a dispatch may read
// the first while writing the second.

export interface Value {
  key: string;
  floats: number;
  start: number;
  end: number;
  /** Never shares (read by the host after the step: loss, logits). */
  pinned?: boolean;
}

export interface MemoryPlan {
  /** Buffer index of each value, in the order given. */
  slot: Map<string, number>;
  /** Size of each buffer, in floats. */
  buffers: number[];
  /** Bytes of all buffers. */
  plannedBytes: number;
  /** Bytes if every value had its own buffer. */
  naiveBytes: number;
}

export function planMemory(values: Value[], reuse = true): MemoryPlan {
  const slot = new Map<string, number>();
  const buffers: number[] = [];
  const freeAt: number[] = []; // step after which each buffer is free again
  const order = [...values].sort((a, b) => a.start - b.start || b.floats - a.floats);
  for (const v of order) {
    let best = -1;
    if (reuse && !v.pinned) {
      for (let b = 0; b < buffers.length; b++) {
        if (freeAt[b]! < v.start && buffers[b]! >= v.floats && (best < 0 || buffers[b]! < buffers[best]!)) best = b;
      }
      // No free buffer is big enough: grow the largest free one rather than add another.
      if (best < 0) {
        for (let b = 0; b < buffers.length; b++) {
          if (freeAt[b]! < v.start && (best < 0 || buffers[b]! > buffers[best]!)) best = b;
        }
        if (best >= 0) buffers[best] = v.floats;
      }
    }
    if (best < 0) {
      best = buffers.length;
      buffers.push(v.floats);
      freeAt.push(0);
    }
    freeAt[best] = v.pinned ? Infinity : v.end;
    slot.set(v.key, best);
  }
  const bytes = (f: number): number => Math.ceil(f / 4) * 16;
  return {
    slot,
    buffers,
    plannedBytes: buffers.reduce((s, f) => s + bytes(f), 0),
    naiveBytes: values.reduce((s, v) => s + bytes(v.floats), 0),
  };
}
