// GPU buffers recycled by (size class, usage). Size classes are 4 steps per power of two,
// so a reused buffer wastes at most 25%. Free buffers above `maxPooledBytes` are destroyed,
// so the pool cannot grow without bound.

export interface PoolStats {
  /** Bytes in buffers handed out and not yet released. */
  liveBytes: number;
  liveBuffers: number;
  /** Bytes in free buffers kept for reuse. */
  pooledBytes: number;
  pooledBuffers: number;
  /** GPU buffers created since the pool was made. */
  created: number;
}

export function sizeClass(bytes: number): number {
  if (bytes <= 256) return 256;
  const e = Math.floor(Math.log2(bytes - 1));
  const step = 2 ** Math.max(e - 2, 0);
  return Math.ceil(bytes / step) * step;
}

export class BufferPool {
  private free = new Map<string, GPUBuffer[]>();
  private live = new Set<GPUBuffer>();
  private stats: PoolStats = { liveBytes: 0, liveBuffers: 0, pooledBytes: 0, pooledBuffers: 0, created: 0 };

  /** maxBytes: the largest buffer to make; a size class above it is cut to it (a multiple of 4). */
  constructor(
    private device: GPUDevice,
    public maxPooledBytes = 512 * 1024 * 1024,
    maxBytes = Infinity,
  ) {
    this.maxBytes = Math.floor(maxBytes / 4) * 4;
  }

  private readonly maxBytes: number;

  acquire(bytes: number, usage: GPUBufferUsageFlags, label?: string): GPUBuffer {
    const size = Math.max(bytes, Math.min(sizeClass(bytes), this.maxBytes));
    const list = this.free.get(`${usage}:${size}`);
    let buf = list?.pop();
    if (buf) {
      this.stats.pooledBytes -= size;
      this.stats.pooledBuffers--;
    } else {
      buf = this.device.createBuffer({ size, usage, ...(label ? { label } : {}) });
      this.stats.created++;
    }
    this.live.add(buf);
    this.stats.liveBytes += size;
    this.stats.liveBuffers++;
    return buf;
  }

  release(buf: GPUBuffer): void {
    if (!this.live.delete(buf)) return;
    this.stats.liveBytes -= buf.size;
    this.stats.liveBuffers--;
    if (this.stats.pooledBytes + buf.size > this.maxPooledBytes) {
      buf.destroy();
      return;
    }
    const key = `${buf.usage}:${buf.size}`;
    const list = this.free.get(key) ?? [];
    list.push(buf);
    this.free.set(key, list);
    this.stats.pooledBytes += buf.size;
    this.stats.pooledBuffers++;
  }

  /** Destroy every free buffer. */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
    this.stats.pooledBytes = 0;
    this.stats.pooledBuffers = 0;
  }

  snapshot(): PoolStats {
    return { ...this.stats };
  }

  destroy(): void {
    this.trim();
    for (const b of this.live) b.destroy();
    this.live.clear();
    this.stats.liveBytes = 0;
    this.stats.liveBuffers = 0;
  }
}
