// safetensors, as the `safetensors` Python/Rust library defines it:
//   u64 little-endian N | N bytes of UTF-8 JSON header | data section
// The header maps each tensor name to {dtype, shape, data_offsets: [begin, end]} (byte
// offsets into the data section) and may hold "__metadata__": {string: string}.
// Tensors must tile the data section exactly: no gaps, no overlap, nothing left over.
// We write F32 only, pad the header with spaces so the data starts 8-byte aligned, and
// store a CRC-32 of the data section as __metadata__.crc32 (checked on read if present).
import { fmtShape } from '../errors.js';
import { crc32Hex } from './crc32.js';
import { CheckpointError } from './errors.js';

export interface NamedTensor {
  /** Dimensions, outermost first; [] for a scalar. */
  shape: number[];
  /** Row-major values; length = product of shape. */
  data: Float32Array;
}

export interface SafetensorsContents {
  tensors: Record<string, NamedTensor>;
  /** __metadata__ as read, crc32 included. */
  metadata: Record<string, string>;
}

/** The safetensors library refuses headers over 100 MB; so do we. */
export const MAX_HEADER_BYTES = 100_000_000;

const METADATA_KEY = '__metadata__';
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Serializes F32 tensors, in the order given, with string metadata. `crc32` in
 * metadata is always replaced by the checksum of the data written.
 */
/**
 * Refuses a string with a lone UTF-16 surrogate (a name cut inside an emoji): JSON.stringify
 * writes it as a \ud83d escape, which the Python library rejects as invalid JSON.
 */
function checkWellFormed(what: string, s: string): void {
  if (/\p{Cs}/u.test(s)) {
    throw new CheckpointError(`encodeSafetensors: ${what} holds a lone UTF-16 surrogate (half of a character); other safetensors readers reject such a file, so fix the string.`);
  }
}

export function encodeSafetensors(
  tensors: Record<string, NamedTensor>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const entries = Object.entries(tensors);
  let dataBytes = 0;
  const infos = dict<{ dtype: 'F32'; shape: number[]; data_offsets: [number, number] }>();
  for (const [name, t] of entries) {
    if (name === METADATA_KEY || name.length === 0) {
      throw new CheckpointError(`encodeSafetensors: "${name}" cannot be a tensor name; rename the tensor.`);
    }
    checkWellFormed(`tensor name ${JSON.stringify(name)}`, name);
    if (!(t.data instanceof Float32Array)) {
      throw new CheckpointError(`encodeSafetensors: tensor "${name}" data must be a Float32Array.`);
    }
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new CheckpointError(
        `encodeSafetensors: tensor "${name}" shape ${fmtShape(t.shape)} must be non-negative integers.`,
      );
    }
    const count = product(t.shape);
    if (count !== t.data.length) {
      throw new CheckpointError(
        `encodeSafetensors: tensor "${name}" has shape ${fmtShape(t.shape)} (${count} values) ` +
          `but ${t.data.length} values of data; fix the shape or the data.`,
      );
    }
    infos[name] = { dtype: 'F32', shape: [...t.shape], data_offsets: [dataBytes, dataBytes + 4 * count] };
    dataBytes += 4 * count;
  }

  const data = new Uint8Array(dataBytes);
  for (const [name, t] of entries) writeF32(data, infos[name]!.data_offsets[0], t.data);

  const meta = dict<string>();
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== 'string') {
      throw new CheckpointError(`encodeSafetensors: metadata "${k}" must be a string, got ${typeof v}.`);
    }
    checkWellFormed(`metadata key ${JSON.stringify(k)}`, k);
    checkWellFormed(`metadata "${k}"`, v);
    meta[k] = v;
  }
  meta.crc32 = crc32Hex(data);

  // __metadata__ first, as the Python library writes it; then tensors in data order.
  let header = new TextEncoder().encode(JSON.stringify({ [METADATA_KEY]: meta, ...infos }));
  const padded = Math.ceil(header.length / 8) * 8;
  if (padded !== header.length) {
    const h = new Uint8Array(padded).fill(0x20);
    h.set(header);
    header = h;
  }

  const out = new Uint8Array(8 + header.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(header.length), true);
  out.set(header, 8);
  out.set(data, 8 + header.length);
  return out;
}

/** Parses and checks a safetensors file of F32 tensors. `name` (a path) goes into errors. */
export function decodeSafetensors(bytes: Uint8Array, name = 'safetensors data'): SafetensorsContents {
  const fail = (problem: string, fix = 'the file is damaged: restore it from another copy'): never => {
    throw new CheckpointError(`${name}: ${problem}; ${fix}.`);
  };
  if (bytes.length < 8) {
    fail(`expected at least 8 bytes (the header length), found ${bytes.length}`, 'the file is truncated or empty');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const declared = view.getBigUint64(0, true);
  if (declared > BigInt(MAX_HEADER_BYTES)) {
    fail(
      `header length field says ${declared} bytes, more than the ${MAX_HEADER_BYTES}-byte limit`,
      'this is not a safetensors file, or its first 8 bytes are corrupt',
    );
  }
  const headerLen = Number(declared);
  if (8 + headerLen > bytes.length) {
    fail(
      `header length field says ${headerLen} bytes but only ${bytes.length - 8} follow it ` +
        `(${8 + headerLen - bytes.length} bytes missing)`,
      'the file is truncated, or not a safetensors file',
    );
  }

  let parsed: unknown;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen));
    parsed = JSON.parse(text);
  } catch (e) {
    fail(`expected a UTF-8 JSON header of ${headerLen} bytes, found invalid data (${(e as Error).message})`);
  }
  if (!isPlainObject(parsed)) {
    fail('expected the JSON header to be an object of tensors, found ' + describe(parsed));
  }
  const head = parsed as Record<string, unknown>;

  const metadata = dict<string>();
  const rawMeta = head[METADATA_KEY];
  if (rawMeta !== undefined && rawMeta !== null) {
    if (!isPlainObject(rawMeta)) fail(`expected __metadata__ to be an object, found ${describe(rawMeta)}`);
    for (const [k, v] of Object.entries(rawMeta as Record<string, unknown>)) {
      if (typeof v !== 'string') fail(`expected __metadata__.${k} to be a string, found ${describe(v)}`);
      metadata[k] = v as string;
    }
  }

  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  const spans: { name: string; shape: number[]; begin: number; end: number }[] = [];
  for (const [tname, info] of Object.entries(head)) {
    if (tname === METADATA_KEY) continue;
    if (!isPlainObject(info)) fail(`tensor "${tname}": expected an object, found ${describe(info)}`);
    const { dtype, shape, data_offsets: offs } = info as Record<string, unknown>;
    if (dtype !== 'F32') {
      fail(
        `tensor "${tname}" has dtype ${JSON.stringify(dtype)}; only F32 is supported`,
        'convert the checkpoint to float32 before loading (in Python: {k: v.float() for k, v in tensors.items()})',
      );
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`tensor "${tname}": expected shape to be a list of non-negative integers, found ${describe(shape)}`);
    }
    if (
      !Array.isArray(offs) ||
      offs.length !== 2 ||
      !offs.every((o) => Number.isSafeInteger(o) && o >= 0) ||
      offs[0] > offs[1]
    ) {
      fail(`tensor "${tname}": expected data_offsets [begin, end] with 0 ≤ begin ≤ end, found ${describe(offs)}`);
    }
    const [begin, end] = offs as [number, number];
    if (end > dataLen) {
      fail(
        `tensor "${tname}": data_offsets [${begin}, ${end}] run past the ${dataLen}-byte data section ` +
          `(${end - dataLen} bytes missing)`,
        'the file is truncated or its header is corrupt',
      );
    }
    const dims = shape as number[];
    if (product(dims) * 4 !== end - begin) {
      fail(
        `tensor "${tname}": shape ${fmtShape(dims)} needs ${product(dims) * 4} bytes of F32, ` +
          `but data_offsets [${begin}, ${end}] span ${end - begin}`,
      );
    }
    spans.push({ name: tname, shape: dims, begin, end });
  }

  // The tensors must tile the data section: sorted by offset, each starts where the last ended.
  const sorted = [...spans].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  for (const s of sorted) {
    if (s.begin !== at) {
      fail(
        s.begin < at
          ? `tensor "${s.name}" at bytes [${s.begin}, ${s.end}] overlaps the tensor before it (which ends at ${at})`
          : `gap in the data section: bytes [${at}, ${s.begin}) belong to no tensor (next is "${s.name}")`,
      );
    }
    at = s.end;
  }
  if (at !== dataLen) {
    fail(`the tensors cover ${at} bytes of data but the data section has ${dataLen} (${dataLen - at} extra bytes)`);
  }

  const data = bytes.subarray(dataStart);
  if (metadata.crc32 !== undefined) {
    const expected = metadata.crc32.toLowerCase();
    if (!/^[0-9a-f]{8}$/.test(expected)) {
      fail(`expected __metadata__.crc32 to be 8 hex digits, found ${JSON.stringify(metadata.crc32)}`);
    }
    const actual = crc32Hex(data);
    if (actual !== expected) {
      fail(`CRC-32 of the data section is ${actual} but the header records ${expected}: the tensor data is corrupt`);
    }
  }

  const tensors = dict<NamedTensor>();
  for (const s of spans) tensors[s.name] = { shape: [...s.shape], data: readF32(data, s.begin, s.end) };
  return { tensors, metadata };
}

function writeF32(dst: Uint8Array, offset: number, src: Float32Array): void {
  if (LITTLE_ENDIAN) {
    dst.set(new Uint8Array(src.buffer, src.byteOffset, src.byteLength), offset);
    return;
  }
  const v = new DataView(dst.buffer, dst.byteOffset, dst.byteLength);
  for (let i = 0; i < src.length; i++) v.setFloat32(offset + 4 * i, src[i]!, true);
}

/** A fresh, aligned Float32Array: the tensor's bytes need not be 4-byte aligned in the file. */
function readF32(src: Uint8Array, begin: number, end: number): Float32Array {
  if (LITTLE_ENDIAN) return new Float32Array(src.slice(begin, end).buffer);
  const out = new Float32Array((end - begin) / 4);
  const v = new DataView(src.buffer, src.byteOffset + begin, end - begin);
  for (let i = 0; i < out.length; i++) out[i] = v.getFloat32(4 * i, true);
  return out;
}

/** A record with no prototype, so that a tensor named "__proto__" is just a name. */
function dict<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

function product(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
