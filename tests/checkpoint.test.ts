// Checkpoints: safetensors encode/decode (byte layout, every validation), CRC-32, and
// the atomic file write.
import { mkdtemp, readdir, readFile, rm, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConvGpuError } from '../src/errors.js';
import { crc32, crc32Hex } from '../src/io/crc32.js';
import { CheckpointError } from '../src/io/errors.js';
import { writeFileAtomic } from '../src/io/files.js';
import { decodeSafetensors, encodeSafetensors, type NamedTensor } from '../src/io/safetensors.js';
import { decodeCheckpoint, encodeModel, prepareCheckpointPath, restore, saveCheckpoint } from '../src/nn/checkpoint.js';
import { CpuModel } from '../src/nn/cpu-model.js';
import { mlp } from '../src/nn/models.js';

const ascii = (s: string) => new TextEncoder().encode(s);

/** A safetensors file from a header string and raw data, with no padding or CRC added. */
function rawFile(header: string, data: Uint8Array = new Uint8Array(0), declared?: bigint): Uint8Array {
  const h = ascii(header);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, declared ?? BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

function decodeError(bytes: Uint8Array): CheckpointError {
  try {
    decodeSafetensors(bytes, 'ckpt.safetensors');
  } catch (e) {
    expect(e).toBeInstanceOf(CheckpointError);
    expect(e).toBeInstanceOf(ConvGpuError);
    expect((e as Error).message).toMatch(/^ckpt\.safetensors: /);
    return e as CheckpointError;
  }
  throw new Error('expected decodeSafetensors to throw');
}

describe('crc32', () => {
  it('matches the standard check values', () => {
    expect(crc32(ascii('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
    expect(crc32Hex(ascii('a'))).toBe('e8b7be43');
    // Continuing a CRC over two pieces equals one pass.
    expect(crc32(ascii('6789'), crc32(ascii('12345')))).toBe(0xcbf43926);
  });
});

describe('safetensors', () => {
  it('round-trips tensors, shapes and metadata', () => {
    const w = Float32Array.from({ length: 2 * 3 * 3 * 3 }, (_, i) => Math.sin(i) * 1e3);
    const tensors = {
      'conv1.weight': { shape: [2, 3, 3, 3], data: w },
      'conv1.bias': { shape: [2], data: Float32Array.of(-0, Number.MIN_VALUE) },
      step: { shape: [], data: Float32Array.of(42) },
      empty: { shape: [0, 4], data: new Float32Array(0) },
    };
    const bytes = encodeSafetensors(tensors, { format: 'convgpu', epoch: '3' });
    const back = decodeSafetensors(bytes);
    expect(Object.keys(back.tensors)).toEqual(Object.keys(tensors));
    for (const [k, t] of Object.entries(tensors)) {
      expect(back.tensors[k]!.shape).toEqual(t.shape);
      expect(back.tensors[k]!.data).toEqual(t.data);
    }
    expect(Object.is(back.tensors['conv1.bias']!.data[0], -0)).toBe(true);
    expect(back.metadata.format).toBe('convgpu');
    expect(back.metadata.epoch).toBe('3');
    expect(back.metadata.crc32).toMatch(/^[0-9a-f]{8}$/);
    // The data starts 8-byte aligned; re-encoding what was read gives the same bytes.
    const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + headerLen) % 8).toBe(0);
    expect(encodeSafetensors(back.tensors, back.metadata)).toEqual(bytes);
  });

  it('lays out a tiny file byte for byte as the format says', () => {
    const bytes = encodeSafetensors(
      { a: { shape: [2], data: Float32Array.of(1, -2) }, b: { shape: [], data: Float32Array.of(0.5) } },
      { note: 'hi' },
    );
    // CRC-32 of the 12 data bytes, from Python: '%08x' % zlib.crc32(struct.pack('<3f', 1, -2, .5)).
    const json =
      '{"__metadata__":{"note":"hi","crc32":"332b058b"},' +
      '"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' +
      '"b":{"dtype":"F32","shape":[],"data_offsets":[8,12]}}';
    expect(json.length).toBe(155);
    const expected = [
      ...[160, 0, 0, 0, 0, 0, 0, 0], // u64 LE header length: 155 padded to 160
      ...ascii(json),
      ...ascii('     '),
      ...[0x00, 0x00, 0x80, 0x3f], // 1.0 LE
      ...[0x00, 0x00, 0x00, 0xc0], // -2.0
      ...[0x00, 0x00, 0x00, 0x3f], // 0.5
    ];
    expect([...bytes]).toEqual(expected);
  });

  it('reads a file without metadata or CRC, in any tensor order, from an unaligned view', () => {
    const data = new Uint8Array(new Float32Array([7, 8, 9]).buffer);
    const file = rawFile(
      '{"y":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}',
      data,
    );
    const shifted = new Uint8Array(file.length + 1);
    shifted.set(file, 1);
    const { tensors, metadata } = decodeSafetensors(shifted.subarray(1));
    expect([...tensors.x!.data]).toEqual([7, 8]);
    expect([...tensors.y!.data]).toEqual([9]);
    expect(metadata).toEqual({});
  });

  it('refuses to write a name or metadata string with a lone surrogate (Python safetensors rejects its JSON), and keeps whole emoji', () => {
    const t = { shape: [1], data: Float32Array.of(1) };
    const half = '\ud83d'; // the first half of 😀, as a name cut in the middle would leave it
    expect(() => encodeSafetensors({ [`conv${half}.weight`]: t })).toThrow(/tensor name .* lone UTF-16 surrogate/);
    expect(() => encodeSafetensors({ w: t }, { note: `a${half}` })).toThrow(/metadata "note" holds a lone UTF-16 surrogate/);
    const back = decodeSafetensors(encodeSafetensors({ 'conv😀.weight': t }, { note: '😀' }));
    expect(Object.keys(back.tensors)).toEqual(['conv😀.weight']);
    expect(back.metadata.note).toBe('😀');
  });

  it('rejects a corrupt data section by its CRC', () => {
    const bytes = encodeSafetensors({ w: { shape: [4], data: Float32Array.of(1, 2, 3, 4) } });
    bytes[bytes.length - 3]! ^= 0x10;
    expect(decodeError(bytes).message).toMatch(/CRC-32 of the data section is [0-9a-f]{8} but the header records/);
    const badCrc = rawFile('{"__metadata__":{"crc32":"xyz"}}');
    expect(decodeError(badCrc).message).toMatch(/crc32 to be 8 hex digits/);
  });

  it('rejects truncated files', () => {
    const bytes = encodeSafetensors({ w: { shape: [4], data: Float32Array.of(1, 2, 3, 4) } });
    expect(decodeError(bytes.subarray(0, bytes.length - 4)).message).toMatch(/run past the 12-byte data section \(4 bytes missing\)/);
    expect(decodeError(bytes.subarray(0, 20)).message).toMatch(/header length field says \d+ bytes but only 12 follow/);
    expect(decodeError(bytes.subarray(0, 5)).message).toMatch(/at least 8 bytes/);
  });

  it('rejects a huge header length', () => {
    const e = decodeError(rawFile('{}', undefined, 0xffff_ffff_ffffn));
    expect(e.message).toMatch(/header length field says 281474976710655 bytes, more than the 100000000-byte limit/);
  });

  it('rejects bad JSON, bad UTF-8 and a non-object header', () => {
    expect(decodeError(rawFile('{"w": {"dtype": "F32",')).message).toMatch(/invalid data/);
    const badUtf8 = rawFile('{"a":1}');
    badUtf8[10] = 0xff;
    expect(decodeError(badUtf8).message).toMatch(/UTF-8 JSON header/);
    expect(decodeError(rawFile('[1, 2]')).message).toMatch(/header to be an object/);
    expect(decodeError(rawFile('{"__metadata__":{"k":1}}')).message).toMatch(/__metadata__\.k to be a string/);
  });

  it('rejects dtypes other than F32, saying how to convert', () => {
    const e = decodeError(rawFile('{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}', new Uint8Array(4)));
    expect(e.message).toMatch(/tensor "h" has dtype "F16"; only F32 is supported; convert the checkpoint to float32/);
  });

  it('rejects offsets out of range, overlapping, with gaps or not matching the shape', () => {
    const d = new Uint8Array(16);
    const t = (name: string, shape: number[], b: number, e: number) =>
      `"${name}":{"dtype":"F32","shape":${JSON.stringify(shape)},"data_offsets":[${b},${e}]}`;
    expect(decodeError(rawFile(`{${t('a', [6], 0, 24)}}`, d)).message).toMatch(/run past the 16-byte data section/);
    expect(decodeError(rawFile(`{${t('a', [1], 8, 4)}}`, d)).message).toMatch(/0 ≤ begin ≤ end/);
    expect(decodeError(rawFile(`{${t('a', [1], -4, 0)}}`, d)).message).toMatch(/data_offsets/);
    expect(decodeError(rawFile(`{${t('a', [3], 0, 12)},${t('b', [2], 8, 16)}}`, d)).message).toMatch(/"b".*overlaps/);
    expect(decodeError(rawFile(`{${t('a', [1], 0, 4)},${t('b', [2], 8, 16)}}`, d)).message).toMatch(/gap.*\[4, 8\)/);
    expect(decodeError(rawFile(`{${t('a', [3], 0, 12)}}`, d)).message).toMatch(/4 extra bytes/);
    expect(decodeError(rawFile(`{${t('a', [3], 0, 16)}}`, d)).message).toMatch(/shape \[3\] needs 12 bytes.*span 16/);
    expect(decodeError(rawFile(`{${t('a', [-4], 0, 16)}}`, d)).message).toMatch(/non-negative integers/);
  });

  it('refuses to encode inconsistent tensors', () => {
    expect(() => encodeSafetensors({ w: { shape: [3], data: new Float32Array(4) } })).toThrow(CheckpointError);
    expect(() => encodeSafetensors({ __metadata__: { shape: [1], data: new Float32Array(1) } })).toThrow(
      CheckpointError,
    );
  });
});

describe('checkpoint tensor names', () => {
  /** A checkpoint of a small MLP with one more tensor added under `name`. */
  async function withExtraTensor(name: string): Promise<{ model: CpuModel; bytes: Uint8Array }> {
    const model = new CpuModel(mlp(4));
    const { tensors, metadata } = decodeSafetensors(await encodeModel(model, { epoch: 0, modelName: 'mlp', seed: 1 }));
    // Object.fromEntries makes "__proto__" an own key, as JSON.parse does when reading a file.
    const more: Record<string, NamedTensor> = Object.fromEntries([...Object.entries(tensors), [name, { shape: [1], data: Float32Array.of(1) }]]);
    return { model, bytes: encodeSafetensors(more, metadata) };
  }

  // NOTE: in a plain {} record, `params["__proto__"] = t` sets the prototype instead of adding a
  // key, so the tensor would vanish from the name check and the file would load without complaint.
  it.each([
    ['__proto__', 'the parameters'],
    ['optim.velocity.__proto__', 'the optimizer state "velocity"'],
    ['constructor', 'the parameters'],
    ['optim.velocity.toString', 'the optimizer state "velocity"'],
  ])('refuses a tensor named %s as one the model lacks', async (name, what) => {
    const { model, bytes } = await withExtraTensor(name);
    const before = await model.getParams();
    const contents = decodeCheckpoint(bytes, 'odd.safetensors');
    const short = name.replace('optim.velocity.', '');
    expect(() => restore(model, contents)).toThrow(`odd.safetensors: ${what} of model "mlp" do not match this model's parameters; not in this model: ${short}.`);
    expect(await model.getParams()).toEqual(before);
  });
});

describe('writeFileAtomic', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'convgpu-ckpt-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes, then replaces, the whole file', async () => {
    const path = join(dir, 'model.safetensors');
    await writeFileAtomic(path, ascii('first'));
    expect(await readFile(path, 'utf8')).toBe('first');
    await writeFileAtomic(path, () => ascii('second version'));
    expect(await readFile(path, 'utf8')).toBe('second version');
    expect(await readdir(dir)).toEqual(['model.safetensors']);
  });

  it('leaves the previous file intact when producing the bytes throws', async () => {
    const path = join(dir, 'keep.safetensors');
    await writeFile(path, 'old contents');
    let during: string[] = [];
    await expect(
      writeFileAtomic(path, async () => {
        // By now the temporary file is open beside the target, which is untouched.
        during = await readdir(dir);
        throw new Error('serialization failed');
      }),
    ).rejects.toThrow('serialization failed');
    expect(during.filter((f) => f.startsWith(`keep.safetensors.tmp-${process.pid}-`))).toHaveLength(1);
    expect(await readFile(path, 'utf8')).toBe('old contents');
    expect((await readdir(dir)).filter((f) => f.startsWith('keep'))).toEqual(['keep.safetensors']);
  });

  it('saveCheckpoint and prepareCheckpointPath give a CheckpointError naming the path when it cannot be written', async () => {
    const blocker = join(dir, 'blocker');
    await writeFile(blocker, 'a file, not a folder');
    const under = join(blocker, 'sub', 'model.safetensors');
    const msg = `${under}: cannot save a checkpoint there: cannot create its folder ${join(blocker, 'sub')} (part of that path is a file, not a folder). Choose a path in a folder you can write to.`;
    await expect(prepareCheckpointPath(under)).rejects.toThrow(new CheckpointError(msg));
    await expect(saveCheckpoint(new CpuModel(mlp(4)), under, { epoch: 0, modelName: 'mlp', seed: 1 })).rejects.toThrow(new CheckpointError(msg));
    const folder = join(dir, 'a-folder');
    await mkdir(folder);
    await expect(prepareCheckpointPath(folder)).rejects.toThrow(/a-folder: cannot save a checkpoint there: it is a folder\. Give a file path, such as .*a-folder\/model\.safetensors\.$/);
    // A path that is fine: the folder is made, and nothing else is written.
    const fine = join(dir, 'new', 'deeper', 'model.safetensors');
    await prepareCheckpointPath(fine);
    expect(await readdir(join(dir, 'new', 'deeper'))).toEqual([]);
  });

  it('leaves no temporary file when the rename fails', async () => {
    // A directory (not empty) at the target path makes rename fail.
    const path = join(dir, 'occupied');
    await mkdir(path);
    await writeFile(join(path, 'inside'), 'x');
    await expect(writeFileAtomic(path, ascii('new'))).rejects.toThrow();
    expect((await readdir(dir)).filter((f) => f.startsWith('occupied'))).toEqual(['occupied']);
    expect(await readFile(join(path, 'inside'), 'utf8')).toBe('x');
  });
});
