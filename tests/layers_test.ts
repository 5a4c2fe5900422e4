// src/ is layered (src/README.md): each folder imports only from the folders
// below it, so the kernels know nothing of training and the network nothing
// of files or flags.
import assert from "node:assert/strict";

const SRC = new URL("../src/", import.meta.url);

/** Each folder and the folders it may import from. */
const MAY_IMPORT: Record<string, string[]> = {
  kernels: [],
  net: ["kernels"],
  experiment: ["kernels", "net"],
  outputs: ["kernels", "net", "experiment"],
  conformance: ["kernels", "net"],
  cli: ["kernels", "net", "experiment", "outputs", "conformance"],
  web: ["kernels", "net", "experiment", "outputs"],
};

Deno.test("every src/ module imports only from its own folder or the layers below it", () => {
  const folders = [...Deno.readDirSync(SRC)].filter((e) => e.isDirectory).map((e) => e.name).sort();
  assert.deepEqual(folders, Object.keys(MAY_IMPORT).sort(), "a folder without a rule");
  assert.deepEqual([...Deno.readDirSync(SRC)].filter((e) => e.isFile).map((e) => e.name), ["README.md"]);
  for (const folder of folders) {
    for (const file of Deno.readDirSync(new URL(`${folder}/`, SRC))) {
      const text = Deno.readTextFileSync(new URL(`${folder}/${file.name}`, SRC));
      for (const [, spec] of text.matchAll(/^(?:import|export)[^"]*from "(\.[^"]+)"/gm)) {
        const target = new URL(spec, new URL(`${folder}/${file.name}`, SRC)).pathname;
        const inSrc = target.startsWith(SRC.pathname) ? target.slice(SRC.pathname.length).split("/")[0] : null;
        if (inSrc === null) {
          assert.ok(folder === "kernels" && spec.includes("kernels/build/"), `${folder}/${file.name} imports ${spec}`);
          continue;
        }
        assert.ok(
          inSrc === folder || MAY_IMPORT[folder].includes(inSrc),
          `${folder}/${file.name} imports ${spec}, but ${folder}/ may import only ${MAY_IMPORT[folder].join(", ")}`,
        );
      }
    }
  }
});
