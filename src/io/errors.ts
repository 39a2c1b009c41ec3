import { ConvGpuError } from '../errors.js';

/** A checkpoint (safetensors) file that is malformed, corrupt or uses an unsupported dtype. */
export class CheckpointError extends ConvGpuError {
  override name = 'CheckpointError';
}
