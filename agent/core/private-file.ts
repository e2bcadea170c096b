import { randomBytes } from "node:crypto";
import { mkdir, open, rename, stat, unlink } from "node:fs/promises";
import { dirname } from "node:path";

const POSIX = process.platform !== "win32";

/**
 * Writes a secret file the way ssh-keygen would want it: into a fresh temporary file beside it
 * (created exclusively with mode 0600, so no symlink or existing file there is followed), flushed,
 * then renamed over the target. A rename replaces a symlink at the target instead of writing
 * through it, and the result is 0600 whatever mode an older file had.
 */
export async function writePrivateFile(file: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    const handle = await open(temp, "wx", 0o600);
    try {
      // The umask can only take bits away; chmod makes the mode exactly 0600 (POSIX).
      if (POSIX) await handle.chmod(0o600);
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (e) {
    await unlink(temp).catch(() => {});
    throw e;
  }
}

/**
 * Why a secret file must not be used, like ssh's StrictModes: readable or writable by group or
 * others, or owned by another user (root excepted). Undefined when it is fine, or on Windows,
 * where POSIX mode bits mean nothing (the installer sets the ACL).
 */
export async function privateFileProblem(file: string): Promise<string | undefined> {
  if (!POSIX) return undefined;
  const s = await stat(file);
  if ((s.mode & 0o077) !== 0) return `${file} is accessible by group or others (mode ${(s.mode & 0o777).toString(8).padStart(4, "0")}); run: chmod 600 ${file}`;
  const uid = process.getuid?.();
  if (uid !== undefined && s.uid !== uid && s.uid !== 0) return `${file} is owned by another user (uid ${s.uid}); it must belong to the account the agent runs as`;
  return undefined;
}
