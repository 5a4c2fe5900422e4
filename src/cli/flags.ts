/**
 * The command lines of bnlab's commands, parsed one way: `node:util`'s
 * `parseArgs` in strict mode, with what it lets through refused as well (a
 * flag given twice) and what it refuses let through (a negative number as a
 * flag's value, `--x -5,0,5`). Every mistake is one {@link UsageError} line
 * that names the flag; the commands print it and exit 2.
 *
 * @example
 * ```ts
 * import { parseFlags } from "./flags.ts";
 * const { values } = parseFlags(["--x", "-1,2"], { x: { type: "string" } });
 * values.x; // "-1,2"
 * ```
 * @module
 */
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";

/** A flag that is unknown, malformed, repeated or out of range; the CLI prints it and exits 2. */
export class UsageError extends Error {}

/** A value that starts with a dash but is a number or a list of them: `-5`, `-0.5,1`, `-1e-3`. */
const NEGATIVE = /^-\.?\d/;

/**
 * Parses `args` against `options`; throws {@link UsageError} for an unknown
 * flag, a flag without its value, a flag given twice, or a stray argument
 * (unless `allowPositionals`).
 */
export function parseFlags<O extends ParseArgsOptionsConfig>(
  args: readonly string[],
  options: O,
  allowPositionals = false,
) {
  const joined = joinNegativeValues(args, options);
  let parsed;
  try {
    parsed = parseArgs({ args: joined, options, strict: true, allowPositionals, tokens: true });
  } catch (err) {
    throw usageErrorOf(err);
  }
  const seen = new Set<string>();
  for (const token of parsed.tokens ?? []) {
    if (token.kind !== "option") continue;
    if (seen.has(token.name)) throw new UsageError(`--${token.name} is given twice; give each flag once`);
    seen.add(token.name);
  }
  return { values: parsed.values, positionals: parsed.positionals };
}

/** `--x -5,0,5` → `--x=-5,0,5` for string flags, which parseArgs would otherwise call ambiguous. */
function joinNegativeValues(args: readonly string[], options: ParseArgsOptionsConfig): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const flag = args[i].startsWith("--") ? args[i].slice(2) : null;
    const next = args[i + 1];
    if (flag !== null && options[flag]?.type === "string" && next !== undefined && NEGATIVE.test(next)) {
      out.push(`--${flag}=${next}`);
      i++;
    } else out.push(args[i]);
  }
  return out;
}

/** The one-line {@link UsageError} for an error of `parseArgs` (an unknown flag, a stray argument, a missing value). */
function usageErrorOf(err: unknown): UsageError {
  const msg = err instanceof Error ? err.message : String(err);
  const unknown = msg.match(/^Unknown option '([^']+)'/);
  if (unknown) return new UsageError(`unknown flag ${unknown[1]} (see --help)`);
  const positional = msg.match(/^Unexpected argument '([^']+)'/);
  if (positional) return new UsageError(`unexpected argument ${JSON.stringify(positional[1])} (see --help)`);
  const missing = msg.match(/^Option '(?:-\w, )?(--[\w-]+)(?: <value>)?' argument (?:missing|is ambiguous)/);
  if (missing) return new UsageError(`${missing[1]} needs a value`);
  return new UsageError(msg.split("\n")[0]);
}
