// The plan is made once, before anything runs: every run in order with its
// whole configuration, the threads and jobs, and every refusal as data.
import assert from "node:assert/strict";
import { makePlan, NOTEBOOK_REQUEST, PlanError, type PlanProblem } from "../src/experiment/plan.ts";
import { singleGrid } from "../src/experiment/sweep.ts";
import { DEFAULTS } from "../src/net/train.ts";

const MACHINE = { cores: 2, memory: 16 * 2 ** 30 };

Deno.test("runs go configuration, then variant, then seed; the first seed of each group keeps its model and diagnostics", () => {
  const plan = makePlan({
    ...NOTEBOOK_REQUEST,
    variants: ["torch", "none"],
    seeds: 2,
    seed: 5,
    grid: { ...singleGrid(DEFAULTS), lr: [0.01, 0.03] },
  }, MACHINE);
  assert.deepEqual(
    plan.runs.map((r) => [r.index, r.group.label, r.seed, r.config.lr, r.config.seed, r.keepModel, r.diagnose]),
    [
      [0, "torch lr=0.01", 5, 0.01, 5, true, true],
      [1, "torch lr=0.01", 6, 0.01, 6, false, false],
      [2, "none lr=0.01", 5, 0.01, 5, true, true],
      [3, "none lr=0.01", 6, 0.01, 6, false, false],
      [4, "torch lr=0.03", 5, 0.03, 5, true, true],
      [5, "torch lr=0.03", 6, 0.03, 6, false, false],
      [6, "none lr=0.03", 5, 0.03, 5, true, true],
      [7, "none lr=0.03", 6, 0.03, 6, false, false],
    ],
  );
  assert.equal(plan.runs[1].label, "torch lr=0.01 seed 6");
  assert.ok(
    plan.runs.every((r) => r.group === plan.groups.find((g) => g.label === r.group.label)),
    "runs share their group",
  );
});

Deno.test("jobs: one for a short experiment, else the cores within threads and memory; an explicit count is kept", () => {
  assert.equal(makePlan(NOTEBOOK_REQUEST, MACHINE).jobs, 1, "the notebook's three runs train in milliseconds");
  const long = { ...NOTEBOOK_REQUEST, seeds: 20, epochs: 100 };
  assert.equal(makePlan(long, MACHINE).jobs, 2);
  assert.equal(makePlan(long, { ...MACHINE, cores: 1 }).jobs, 1);
  assert.equal(makePlan({ ...long, threads: 2 }, MACHINE).jobs, 1, "jobs × threads stays within the cores");
  const oneRun = makePlan(long, MACHINE).runBytes;
  assert.equal(makePlan({ ...long, maxMemory: Math.floor(1.5 * oneRun) }, MACHINE).jobs, 1, "two would not fit");
  assert.equal(makePlan({ ...NOTEBOOK_REQUEST, jobs: 3 }, MACHINE).jobs, 3);
  assert.equal(makePlan({ ...NOTEBOOK_REQUEST, jobs: 8 }, MACHINE).jobs, 3, "never more jobs than runs");
});

Deno.test("a request that cannot run is refused with its problem as data, before anything runs", () => {
  const problem = (request: Partial<typeof NOTEBOOK_REQUEST>): PlanProblem => {
    try {
      makePlan({ ...NOTEBOOK_REQUEST, ...request }, MACHINE);
    } catch (err) {
      if (err instanceof PlanError) return err.problem;
      throw err;
    }
    throw new Error("planned");
  };
  assert.deepEqual(problem({ seeds: 30 }), {
    kind: "too-many-runs",
    runs: 90,
    configurations: 1,
    seeds: 30,
    variants: 3,
    maxRuns: 64,
  });
  assert.deepEqual(problem({ seed: 2 ** 32 - 1, seeds: 2 }), { kind: "seed-range", seed: 2 ** 32 - 1, seeds: 2 });
  assert.deepEqual(problem({ grid: { ...singleGrid(DEFAULTS), batchSize: [333] } }), {
    kind: "batch",
    problem: { kind: "one-row", samples: 1000, batchSize: 333 },
  });
  const memory = problem({ maxMemory: 1000 });
  assert.equal(memory.kind, "memory");
  assert.ok(
    memory.kind === "memory" && memory.limit === 1000 && memory.limitFrom === "max-memory" && memory.need > 1000,
  );
  assert.equal(problem({ grid: { ...singleGrid(DEFAULTS), hidden: [4096], layers: [64] } }).kind, "memory");
});
