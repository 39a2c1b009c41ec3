// IDX: the format of the MNIST files. A 4-byte magic (0, 0, type, rank), then `rank`
// big-endian u32 dimensions, then the data in row-major order. Only type 0x08
// (unsigned byte) is read: it is the only one MNIST uses.
import { fmtShape } from '../errors.js';
import { DataError } from './errors.js';

export interface IdxArray {
  /** Dimensions from the header, outermost first. */
  dims: number[];
  /** The payload; a view into the input bytes, not a copy. */
  data: Uint8Array;
}

const IDX_TYPES: Record<number, string> = {
  0x08: 'unsigned byte',
  0x09: 'signed byte',
  0x0b: 'i16',
  0x0c: 'i32',
  0x0d: 'f32',
  0x0e: 'f64',
};

/**
 * Parses an IDX file of unsigned bytes. `name` (a file name) goes into error messages;
 * `fix` is the advice they end with.
 */
export function parseIdx(
  bytes: Uint8Array,
  name = 'IDX data',
  fix = 'download the file again',
): IdxArray {
  const fail = (problem: string, advice = fix): never => {
    throw new DataError(`${name}: ${problem}; ${advice}.`);
  };
  if (bytes.length < 4) {
    fail(`expected an IDX file (at least a 4-byte header), found only ${bytes.length} bytes`);
  }
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    // NOTE: the files are often distributed gzipped; say so rather than "bad magic".
    fail('found gzip data, expected a raw IDX file', 'decompress it first (gunzip)');
  }
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    fail(
      `bad magic: expected the IDX header to start with bytes 00 00, found ${hex(bytes[0]!)} ${hex(bytes[1]!)}` +
        ' (not an IDX file)',
    );
  }
  const type = bytes[2]!;
  if (type !== 0x08) {
    const known = IDX_TYPES[type];
    fail(
      `expected element type 0x08 (unsigned byte), found ${hex(type)}` +
        (known ? ` (${known}), which this reader does not support` : ' (not a valid IDX type)'),
      known ? 'convert the file to unsigned bytes' : fix,
    );
  }
  const rank = bytes[3]!;
  if (rank === 0) fail('expected rank ≥ 1 in the header, found rank 0');
  const headerLen = 4 + 4 * rank;
  if (bytes.length < headerLen) {
    fail(
      `truncated header: rank ${rank} needs ${headerLen} header bytes, found ${bytes.length} ` +
        `(${headerLen - bytes.length} bytes missing)`,
    );
  }

  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  let count = 1;
  for (let i = 0; i < rank; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    dims.push(d);
    count *= d;
  }
  if (dims.some((d) => d === 0)) {
    fail(`expected every dimension to be positive, found ${fmtShape(dims)}`);
  }
  if (!Number.isSafeInteger(count)) {
    fail(`dimensions ${fmtShape(dims)} describe more elements than can be addressed; the header is corrupt`);
  }
  const expected = headerLen + count;
  if (bytes.length < expected) {
    fail(
      `truncated: dimensions ${fmtShape(dims)} need ${expected} bytes, found ${bytes.length} ` +
        `(${expected - bytes.length} bytes missing)`,
    );
  }
  if (bytes.length > expected) {
    fail(
      `expected exactly ${expected} bytes for dimensions ${fmtShape(dims)}, found ${bytes.length} ` +
        `(${bytes.length - expected} trailing bytes; the header or the file is corrupt)`,
    );
  }
  return { dims, data: bytes.subarray(headerLen) };
}

function hex(b: number): string {
  return `0x${b.toString(16).padStart(2, '0')}`;
}
