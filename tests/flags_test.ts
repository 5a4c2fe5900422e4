// Command lines are read strictly and the same way in every command: plain
// decimal numbers, each flag once, negative values as anyone types them.
import assert from "node:assert/strict";
import { parseFlags, UsageError } from "../src/cli/flags.ts";
import { decimalNumber, formatBytes } from "../src/outputs/numbers.ts";
import { parseOptions } from "../src/cli/options.ts";

Deno.test("numbers are plain decimals, an exponent allowed; hex, blanks, words and infinities are not", () => {
  for (
    const [raw, value] of [["2", 2], ["-5", -5], ["+0.5", 0.5], [".5", 0.5], ["5.", 5], ["1e-3", 1e-3], ["2E2", 200]]
  ) {
    assert.equal(decimalNumber(raw as string), value, raw as string);
  }
  for (const raw of ["0x10", "0b1", "0o7", " 2", "2 ", "", "1_000", "Infinity", "NaN", "1e999", "1,5", "--1", "e5"]) {
    assert.equal(decimalNumber(raw), null, JSON.stringify(raw));
  }
});

Deno.test("sizes print with their exact byte count beside the rounded one", () => {
  assert.equal(formatBytes(1), "1 byte");
  assert.equal(formatBytes(1023), "1023 bytes");
  assert.equal(formatBytes(1536), "1.5 KiB (1536 bytes)");
  assert.equal(formatBytes(3 * 2 ** 30), "3.0 GiB (3221225472 bytes)");
});

Deno.test("a flag given twice is refused, whether spelled --x=v or --x v", () => {
  const options = { x: { type: "string" }, quiet: { type: "boolean" } } as const;
  for (const args of [["--x", "1", "--x", "2"], ["--x=1", "--x", "1"], ["--quiet", "--quiet"]]) {
    assert.throws(() => parseFlags(args, options), (e) => e instanceof UsageError && /given twice/.test(e.message));
  }
});

Deno.test("a negative number or list is a flag's value, not another flag", () => {
  const options = { x: { type: "string" }, quiet: { type: "boolean" } } as const;
  assert.equal(parseFlags(["--x", "-5,0,5"], options).values.x, "-5,0,5");
  assert.equal(parseFlags(["--x", "-.5"], options).values.x, "-.5");
  assert.throws(() => parseFlags(["--x", "--quiet"], options), /--x needs a value/);
  assert.throws(() => parseFlags(["--quiet", "-5"], options), /unexpected argument "-5"|unknown flag -5/);
});

Deno.test("every numeric train flag takes only plain decimals", () => {
  const bad = [
    ["--epochs", "0x3"],
    ["--epochs", " 3"],
    ["--lr", "Infinity"],
    ["--lr", "0.01, 0.02"],
    ["--hidden", "1e1,"],
    ["--seed", "-1"],
    ["--max-memory", " 512M"],
    ["--threads", "0b10"],
  ];
  for (const args of bad) {
    assert.throws(
      () => parseOptions(args),
      (e) => e instanceof UsageError && e.message.startsWith(args[0]),
      args.join(" "),
    );
  }
  const ok = parseOptions(["--epochs", "1e1", "--lr", "2e-2,.03", "--momentum", "+0.5"]);
  assert.deepEqual([ok.epochs, ok.grid.lr, ok.grid.momentum], [10, [0.02, 0.03], [0.5]]);
});
