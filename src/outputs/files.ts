/**
 * Writing output files so that a reader never sees half of one: each file is
 * written under a temporary name in the same directory and renamed into place
 * (a rename within a directory is atomic).
 *
 * @example
 * ```ts
 * import { writeFileAtomic } from "./files.ts";
 * await writeFileAtomic("runs/demo/losses.csv", "variant,epoch\n");
 * ```
 * @module
 */

/** Writes `content` (text or bytes) to `path` through a temporary file and a rename. */
export async function writeFileAtomic(path: string, content: string | Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${Deno.pid}`;
  try {
    if (typeof content === "string") await Deno.writeTextFile(tmp, content);
    else await Deno.writeFile(tmp, content);
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
}
