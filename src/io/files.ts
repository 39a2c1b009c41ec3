// Node-only file helpers.
import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Writes `bytes` to `path` so that `path` holds either its old contents or all of the new
 * ones, never a part: write a temporary file beside it, fsync, then rename over `path`
 * (atomic on POSIX within one file system). `bytes` may be a function, called once the
 * temporary file is open; if it or any step throws, the temporary file is removed and
 * `path` is left as it was.
 */
export async function writeFileAtomic(
  path: string,
  bytes: Uint8Array | (() => Uint8Array | Promise<Uint8Array>),
): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  // 'wx': fail rather than clobber if the name somehow exists.
  const fh = await open(tmp, 'wx');
  try {
    try {
      await fh.writeFile(typeof bytes === 'function' ? await bytes() : bytes);
      // NOTE: without fsync a crash after the rename can leave `path` empty on some file systems.
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  await syncDir(dirname(path));
}

/** fsync the directory so the rename itself is durable. Best effort: Windows cannot open a directory. */
async function syncDir(dir: string): Promise<void> {
  try {
    const d = await open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    // The data is already safe in the file; only the rename's durability is at stake.
  }
}
