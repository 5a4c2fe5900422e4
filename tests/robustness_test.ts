// What a run does when it cannot finish: divergence and interruption keep
// every completed epoch and say where they stopped.
import assert from "node:assert/strict";
import { parseCsv } from "../src/outputs/csv.ts";
import { within } from "../src/kernels/deadline.ts";
import { finish, inTempDir, run, spawn, spawnTrain, trainCommand } from "./cli.ts";

const ESC = String.fromCharCode(27);

/** Rows of losses.csv, each checked to be complete: five fields, numbers where numbers belong. */
async function completeRows(path: string): Promise<string[][]> {
  const { header, rows } = parseCsv(await Deno.readTextFile(path));
  assert.deepEqual(header, ["variant", "seed", "epoch", "test_loss", "train_loss"]);
  for (const row of rows) {
    assert.equal(row.length, 5, row.join(","));
    assert.ok(Number.isFinite(Number(row[3])), row.join(","));
  }
  return rows;
}

/** A run that trains until stopped; width 256 makes an epoch take a few tens of milliseconds. */
const ENDLESS = ["--epochs", "100000", "--variants", "torch", "--hidden", "256"];

/** Resolves once losses.csv in `out` holds a completed epoch. */
async function firstEpoch(out: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const text = await Deno.readTextFile(`${out}/losses.csv`).catch(() => "");
    if (text.split("\n").length > 2) return; // header and at least one epoch
    if (Date.now() > deadline) throw new Error("no epoch completed within 60 s");
    await new Promise((r) => setTimeout(r, 20));
  }
}

function noTemporaryFiles(dir: string): void {
  const names = [...Deno.readDirSync(dir)].map((e) => e.name);
  assert.deepEqual(names.filter((n) => n.includes(".tmp")), [], `left behind: ${names}`);
}

Deno.test("at --lr 2e19 mybn diverges mid-epoch while torch and none still train; exit code 3", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bnlab-diverge-" });
  try {
    const r = await finish(spawnTrain(dir, ["--lr", "2e19", "--out", `${dir}/out`]));
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /^train: mybn diverged at epoch 0, step \d+ \(non-finite \w+\); losses\.csv keeps/m);
    assert.doesNotMatch(r.stderr, /torch diverged|none diverged/);
    const rows = await completeRows(`${dir}/out/losses.csv`);
    // mybn completed no epoch; torch and none have all 10 epochs and the final row.
    assert.deepEqual(rows.map((row) => row[0]), [...Array(11).fill("torch"), ...Array(11).fill("none")]);
    const preds = parseCsv(await Deno.readTextFile(`${dir}/out/predictions.csv`));
    assert.deepEqual(preds.header, ["x", "y", "torch", "none"]);
    noTemporaryFiles(`${dir}/out`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--lr 1e20 diverges every variant; each is named with its epoch and step, and the exit code is 3", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bnlab-diverge-" });
  try {
    const r = await finish(spawnTrain(dir, ["--lr", "1e20", "--out", `${dir}/out`]));
    assert.equal(r.code, 3, r.stderr);
    for (const v of ["mybn", "torch", "none"]) {
      assert.match(r.stderr, new RegExp(`^train: ${v} diverged at epoch 0, step \\d+ \\(non-finite \\w+\\)`, "m"));
    }
    assert.deepEqual(await completeRows(`${dir}/out/losses.csv`), []);
    noTemporaryFiles(`${dir}/out`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
  Deno.test(`${signal} after the first epoch keeps every completed epoch and exits ${code}`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "bnlab-signal-" });
    try {
      const out = `${dir}/out`;
      // Width 256 makes an epoch take a few tens of milliseconds.
      const child = spawnTrain(dir, [...ENDLESS, "--out", out]);
      await firstEpoch(out);
      child.kill(signal);
      const r = await finish(child);
      assert.equal(r.code, code, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(
          `^train: ${signal} during torch, epoch \\d+, step \\d+; .*losses\\.csv keeps every completed epoch`,
          "m",
        ),
      );
      const rows = await completeRows(`${out}/losses.csv`);
      assert.ok(rows.length >= 1);
      rows.forEach((row, i) => {
        assert.equal(row[0], "torch");
        assert.equal(Number(row[2]), i);
        assert.ok(Number.isFinite(Number(row[4])), `epoch ${i} has no train loss`);
      });
      const stoppedAt = Number(r.stderr.match(/epoch (\d+), step/)![1]);
      assert.ok(rows.length === stoppedAt, `${rows.length} rows, stopped in epoch ${stoppedAt}`);
      noTemporaryFiles(out);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("when the process that started a run goes away, the run stops as on SIGTERM and keeps its epochs", async () => {
  // As npx does to deno task: the starter dies, the process between it and the
  // training lives on and passes no signal down.
  await inTempDir(async (dir) => {
    const out = `${dir}/out`, log = `${dir}/log`;
    const training = [...trainCommand(dir), ...ENDLESS, "--out", out].join(" ");
    const middle = `${training} & echo "pid $!"; wait $!; echo "exit $?"`;
    const starter = spawn("sh", ["-c", `sh -c '${middle}' > ${log} 2>&1 & wait`], dir);
    await firstEpoch(out);
    starter.kill("SIGKILL");
    await finish(starter);
    const text = await within(
      (async () => {
        for (;;) {
          const text = await Deno.readTextFile(log);
          if (/^exit \d+$/m.test(text)) return text;
          await new Promise((r) => setTimeout(r, 50));
        }
      })(),
      60_000,
      "the orphaned training",
    ).catch(async (err) => {
      const pid = (await Deno.readTextFile(log)).match(/^pid (\d+)$/m)?.[1];
      if (pid) Deno.kill(Number(pid), "SIGKILL");
      throw err;
    });
    assert.match(text, /^exit 143$/m, text);
    assert.match(text, /^train: the process that started this run \(sh, pid \d+\) went away; stopping as on SIGTERM$/m);
    assert.match(text, /^train: SIGTERM during torch, epoch \d+, step \d+; .*losses\.csv keeps every completed epoch/m);
    assert.ok((await completeRows(`${out}/losses.csv`)).length >= 1);
    noTemporaryFiles(out);
  });
});

Deno.test("SIGTERM while the outputs are written: exit 143, what was and was not written, nothing half-written", async () => {
  await inTempDir(async (dir) => {
    const out = `${dir}/out`;
    await Deno.mkdir(out);
    const child = spawnTrain(dir, ["--epochs", "2", "--seeds", "2", "--hidden", "6,8", "--force", "--out", out]);
    // The run's first output file is written through predictions.csv.tmp-<pid>: a FIFO there holds
    // the run inside its output phase (opening a FIFO to write waits for a reader) until the
    // signal is in, whatever the machine's load. (Sending the signal when the summary appeared
    // raced the whole output phase on a loaded machine.) --force: the FIFO is not bnlab's, and stays.
    // Frozen while the FIFO is made, so that it is there before the run can reach its outputs.
    child.kill("SIGSTOP");
    const fifo = `${out}/predictions.csv.tmp-${child.pid}`;
    assert.equal((await run("mkfifo", [fifo], dir)).code, 0);
    child.kill("SIGCONT");
    const stdout = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let printed = "";
    await within(
      (async () => {
        while (!/final test loss/.test(printed)) {
          const { value, done } = await stdout.read();
          if (done) throw new Error(`train ended before its summary:\n${printed}`);
          printed += value;
        }
      })(),
      120_000,
      "the summary table",
    );
    child.kill("SIGTERM");
    // The run's event loop is idle while it waits on the FIFO: the listener runs at once; a second is generous.
    await new Promise((r) => setTimeout(r, 1000));
    const drain = await Deno.open(fifo, { read: true });
    for (const buf = new Uint8Array(4096); (await drain.read(buf)) !== null;) { /* the CSV, discarded */ }
    drain.close();
    while (!(await stdout.read()).done) { /* drain */ }
    const stderr = await new Response(child.stderr).text();
    const { code } = await child.status;
    assert.equal(code, 143, stderr);
    const m = stderr.match(
      /^train: SIGTERM while writing the outputs, after every run completed; .*losses\.csv keeps every epoch; written: (.*); not written: (.*)$/m,
    );
    assert.ok(m, stderr);
    const [written, missing] = [m[1].split(", "), m[2].split(", ")];
    assert.ok(written.includes("predictions.csv") && missing.includes("index.html"), stderr);
    assert.ok(!written.some((name) => name.endsWith(".svg")), "no chart written after the signal");
    const files = [...Deno.readDirSync(out)].map((e) => e.name).filter((n) => !n.startsWith(".")).sort();
    assert.deepEqual(files, written.toSorted(), "the files on disk are exactly those said to be written");
    const manifest = (await Deno.readTextFile(`${out}/.bnlab-files`)).trim().split("\n");
    const unlisted = written.filter((name) => !manifest.includes(name));
    assert.deepEqual(unlisted, [], "the manifest lists every file written, for a later --force");
    assert.throws(() => Deno.lstatSync(`${out}/.bnlab-lock`), Deno.errors.NotFound, "the lock is released");
    // Every epoch of every run: 2 widths × 2 seeds × 3 variants, epochs 0–2.
    assert.equal(parseCsv(await Deno.readTextFile(`${out}/losses.csv`)).rows.length, 12 * 3);
    noTemporaryFiles(out);
  });
});

Deno.test("on a terminal the progress line redraws in place on stderr; --quiet and a pipe print none", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bnlab-progress-" });
  try {
    const args = ["--epochs", "40", "--variants", "torch", "--hidden", "64", "--batch-size", "16"];
    const deno = trainCommand(dir).join(" ");
    // `script` runs the command on a pseudo-terminal and copies what it prints.
    const tty = await run("script", ["-qefc", `${deno} ${args.join(" ")} --out ${dir}/tty`, "/dev/null"], dir);
    const shown = tty.stdout;
    assert.equal(tty.code, 0, shown);
    // Each redraw returns the cursor and erases the line (ESC [2K) before the text.
    assert.ok(shown.includes(`\r${ESC}[2Krun 1/1, torch: epoch `), "no progress line redrawn in place");
    assert.match(shown, /run 1\/1, torch: epoch \d+\/40, step \d+\/63, test loss \S+, \d+ steps\/s/);

    const quiet = await run(
      "script",
      ["-qefc", `${deno} ${args.join(" ")} --quiet --out ${dir}/quiet`, "/dev/null"],
      dir,
    );
    assert.doesNotMatch(quiet.stdout, /steps\/s/);

    const piped = await finish(spawnTrain(dir, [...args, "--out", `${dir}/piped`]));
    assert.equal(piped.code, 0, piped.stderr);
    assert.equal(piped.stderr, "");
    assert.ok(!piped.stdout.includes("\r") && !piped.stdout.includes(ESC), "control characters on a pipe");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--json prints one JSON object on stdout and nothing else", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bnlab-json-" });
  try {
    const r = await finish(spawnTrain(dir, ["--epochs", "2", "--json", "--out", `${dir}/out`]));
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout);
    assert.equal(summary.out, `${dir}/out`);
    assert.deepEqual(summary.results.map((x: { variant: string }) => x.variant), ["mybn", "torch", "none"]);
    for (const x of summary.results) {
      assert.equal(x.test_loss.length, 3);
      assert.equal(x.final_test_loss, x.test_loss[2]);
      assert.equal(x.stopped, null);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
