import { ConvGpuError } from '../errors.js';

/** A data file (IDX, MNIST) that is missing, truncated or not what it claims to be. */
export class DataError extends ConvGpuError {
  override name = 'DataError';
}
