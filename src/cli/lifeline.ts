/**
 * Noticing that the process which started a run has gone away, so that the
 * run stops instead of training on as an orphan. `npx --yes deno@… task train`
 * runs the training three processes below the caller (npm exec → sh → deno
 * task → deno run), and npm does not pass SIGTERM on: killing it left the
 * training running and writing.
 *
 * The watch covers the run's launchers: the ancestors in the run's own
 * process group (the job a shell started: npm exec, sh and deno task, or a
 * `timeout` wrapping them), each known by its pid and start time. When one of
 * them is gone (or has exited and waits to be reaped), or the run's own
 * parent changes, the starter has gone away. An ancestor outside the group
 * (the login shell of a `nohup … &` job) may come and go freely.
 *
 * The ancestry comes from `ps` (procps), run at most once a second, when the
 * run polls for stop requests: Deno lets a program read `/proc/<pid>` only
 * with every permission, whereas running `ps` needs `--allow-run=ps` alone.
 * Without it (no permission, or no ps) only the parent is watched, through
 * `Deno.ppid`.
 *
 * @example
 * ```ts
 * import { StopRequests } from "./lifeline.ts";
 * const stops = new StopRequests(); // SIGINT, SIGTERM, or the starter gone
 * stops.signal; // null until one of them asks
 * stops.close();
 * ```
 * @module
 */

/** One process, as `ps` describes it. */
interface ProcessInfo {
  pid: number;
  parent: number;
  group: number;
  /** ps's STAT: R, S, D, … or Z for a process that has exited but not yet been reaped by its parent. */
  state: string;
  /** When it started: with the pid, it tells the process from a later one given the same pid. */
  start: string;
  /** Its command name. */
  name: string;
}

/** Every process `ps` lists, or those of `pids`; null where ps cannot be run. */
async function processes(pids?: readonly number[]): Promise<Map<number, ProcessInfo> | null> {
  const select = pids ? ["-p", pids.join(",")] : ["-e"];
  let text: string;
  try {
    const out = await new Deno.Command("ps", {
      args: ["-o", "pid=,ppid=,pgid=,stat=,comm=,lstart=", ...select],
      stdin: "null",
      stderr: "null",
    }).output();
    // ps exits 1 when none of the pids exists: an empty list, not a failure.
    text = new TextDecoder().decode(out.stdout);
  } catch {
    return null;
  }
  const all = new Map<number, ProcessInfo>();
  for (const line of text.split("\n")) {
    // comm= is at most 15 characters without spaces only by convention: lstart= (five words) goes last.
    const words = line.trim().split(/\s+/);
    if (words.length < 10) continue;
    const [pid, parent, group, state] = words.slice(0, 4);
    all.set(Number(pid), {
      pid: Number(pid),
      parent: Number(parent),
      group: Number(group),
      state,
      name: words.slice(4, -5).join(" "),
      start: words.slice(-5).join(" "),
    });
  }
  return all;
}

/** The ancestors in this process's own process group, nearest first; [] where ps cannot tell. */
async function launchers(): Promise<ProcessInfo[]> {
  const all = await processes();
  const self = all?.get(Deno.pid);
  if (!all || !self) return [];
  const chain: ProcessInfo[] = [];
  for (let p = all.get(self.parent); p && p.pid > 1 && p.group === self.group; p = all.get(p.parent)) chain.push(p);
  return chain;
}

/** May this process run ps? Asked first: a check without the permission would prompt on a terminal. */
function mayRunPs(): boolean {
  return Deno.permissions.querySync({ name: "run", command: "ps" }).state === "granted";
}

/** A watch of the run's starter (see {@link watchStarter}). */
interface StarterWatch {
  /** Checks the starter, unless it was checked less than a period ago (the check itself runs in the background). */
  poll(): void;
  /** Ends the watch. */
  end(): void;
}

/**
 * Calls `onGone` once, with a description of the process, when the run's
 * starter goes away (see the module doc). The ancestry is read at once; it is
 * checked again whenever the run polls, at most every `everyMs` milliseconds:
 * the run polls between steps and between output files anyway, and a timer
 * would cost every run the first-use load of Deno's timers (10 ms on the
 * main thread, 2 % of the default `deno task train`).
 */
function watchStarter(onGone: (who: string) => void, everyMs = 1000): StarterWatch {
  const parent = Deno.ppid;
  // Read now, while the starter is surely there; the run goes on meanwhile.
  const chain = mayRunPs() ? launchers() : Promise.resolve([]);
  let checking = false, ended = false, last = performance.now();
  const gone = (who: string) => {
    if (ended) return;
    ended = true;
    onGone(who);
  };
  const check = async () => {
    if (Deno.ppid !== parent) return gone(`the parent process (pid ${parent})`);
    const known = await chain;
    if (known.length === 0) return;
    const now = await processes(known.map((p) => p.pid));
    if (!now) return;
    for (const p of known) {
      const q = now.get(p.pid);
      if (!q || q.start !== p.start || q.state.startsWith("Z")) {
        return gone(`the process that started this run (${p.name}, pid ${p.pid})`);
      }
    }
  };
  return {
    poll() {
      if (checking || ended || performance.now() - last < everyMs) return;
      last = performance.now();
      checking = true;
      check().finally(() => checking = false);
    },
    end() {
      ended = true;
    },
  };
}

/** The signals that stop a run, each with its documented exit code (128 + the signal's number). */
export type StopSignal = "SIGINT" | "SIGTERM";

/**
 * Everything that can end a run from outside, in one place: SIGINT, SIGTERM,
 * and the starter going away (which stops the run as SIGTERM does). The run
 * polls {@link StopRequests.signal} between steps and between output files.
 */
export class StopRequests {
  /** Who went away, when that is why the run stops. */
  starterGone: string | null = null;
  #signal: StopSignal | null = null;
  readonly #listeners: [StopSignal, () => void][];
  readonly #watch: StarterWatch;

  /** Starts listening; {@link StopRequests.close} undoes it. */
  constructor() {
    this.#listeners = (["SIGINT", "SIGTERM"] as const).map((name) => {
      const listener = () => void (this.#signal ??= name);
      Deno.addSignalListener(name, listener);
      return [name, listener];
    });
    this.#watch = watchStarter((who) => {
      this.starterGone ??= who;
      this.#signal ??= "SIGTERM";
    });
  }

  /** The first stop asked for, or null. Reading it is also when the starter is checked (at most once a second). */
  get signal(): StopSignal | null {
    this.#watch.poll();
    return this.#signal;
  }

  /** Stops listening: from now on the signals have their default effect. */
  close(): void {
    for (const [name, listener] of this.#listeners) Deno.removeSignalListener(name, listener);
    this.#watch.end();
  }
}
