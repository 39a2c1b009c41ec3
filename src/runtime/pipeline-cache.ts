// Compute pipelines keyed by (shader, override constants), compiled with
// createComputePipelineAsync so that compiling does not block; concurrent requests
// for the same key share one compile.

import { AttributeError } from '../errors.js';

export type Constants = Record<string, number | boolean>;

export class PipelineCache {
  private modules = new Map<string, GPUShaderModule>();
  private codes = new Map<string, string>();
  private pipelines = new Map<string, Promise<GPUComputePipeline>>();
  private ready = new Map<string, GPUComputePipeline>();
  /** Pipelines compiled since the cache was made. */
  compiled = 0;

  constructor(private device: GPUDevice) {}

  static key(name: string, constants: Constants): string {
    const parts = Object.keys(constants).sort().map((k) => `${k}=${Number(constants[k])}`);
    return `${name}|${parts.join(',')}`;
  }

  private module(name: string, code: string): GPUShaderModule {
    let m = this.modules.get(name);
    if (!m) {
      m = this.device.createShaderModule({ label: name, code });
      this.modules.set(name, m);
    }
    return m;
  }

  get(name: string, code: string, constants: Constants): Promise<GPUComputePipeline> {
    // Pipelines are found by name: a second source under a known name would get the first's.
    const known = this.codes.get(name);
    if (known === undefined) this.codes.set(name, code);
    else if (known !== code) {
      throw new AttributeError(`kernel "${name}": another WGSL source was already compiled under this name on this engine; give each kernel its own name.`);
    }
    const key = PipelineCache.key(name, constants);
    let p = this.pipelines.get(key);
    if (!p) {
      const wgslConstants: Record<string, number> = {};
      for (const [k, v] of Object.entries(constants)) wgslConstants[k] = Number(v);
      p = this.device
        .createComputePipelineAsync({
          label: key,
          layout: 'auto',
          compute: { module: this.module(name, code), entryPoint: 'main', constants: wgslConstants },
        })
        .then((pipe) => {
          this.compiled++;
          this.ready.set(key, pipe);
          return pipe;
        });
      p.catch(() => this.pipelines.delete(key));
      this.pipelines.set(key, p);
    }
    return p;
  }

  /** The pipeline if it is already compiled (for recording a step without awaiting). */
  peek(name: string, constants: Constants): GPUComputePipeline | undefined {
    return this.ready.get(PipelineCache.key(name, constants));
  }
}
