/// <reference lib="dom" />
/**
 * The playground page's entry point (bundled to `page.js` by `deno task site`):
 * reads the settings from the URL, trains the experiment `deno task train`
 * would train for them, in this page, and shows the sanity check, the summary
 * (the CLI's table, character for character), the charts and the downloads.
 * Changing a control rewrites the URL and retrains; a run that a newer change
 * made stale stops at its next step.
 *
 * @example
 * ```html
 * <script type="module" src="page.js"></script>
 * ```
 * @module
 */
import type { TopLevelSpec } from "vega-lite";
import { makePlan, type Plan } from "../experiment/plan.ts";
import { runExperiment, type RunResult } from "../experiment/run.ts";
import { type GroupSummary, outcomes, summarize, summaryTable } from "../experiment/summary.ts";
import { notebookData } from "../net/dataset.ts";
import { sanityLines } from "../net/sanity.ts";
import { fitSpec, layerHistogramsSpec, renderSvg, testLossSpec } from "../outputs/charts.ts";
import { lossesCsv, runKey } from "../outputs/losses.ts";
import { modelBytes, modelFileName } from "../outputs/write.ts";
import { fromQuery, KEYS, type PageSettings, toQuery, toRequest } from "./settings.ts";

/** The page's element with `id`, or an error naming it (the HTML and this module change together). */
function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
}

/** The numeric and choice controls, by setting: each control's id is the setting's query key. */
const FIELDS = (Object.entries(KEYS) as [keyof PageSettings, string][]).filter(([key]) => key !== "variants");

function showSettings(s: PageSettings): void {
  for (const box of document.querySelectorAll<HTMLInputElement>("input[name=variant]")) {
    box.checked = s.variants.includes(box.value as PageSettings["variants"][number]);
  }
  for (const [key, id] of FIELDS) byId<HTMLInputElement | HTMLSelectElement>(id).value = String(s[key]);
}

/** The controls' values, through the URL query's parser (which keeps every value in range). */
function readSettings(): PageSettings {
  const q = new URLSearchParams();
  const variants = [...document.querySelectorAll<HTMLInputElement>("input[name=variant]:checked")].map((b) => b.value);
  q.set("variants", variants.join(","));
  for (const [, id] of FIELDS) q.set(id, byId<HTMLInputElement | HTMLSelectElement>(id).value);
  return fromQuery(q.toString());
}

/** Offers `bytes` as a file called `name`. */
function download(name: string, bytes: BlobPart, type: string): void {
  const url = URL.createObjectURL(new Blob([bytes], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** The last finished experiment, for the downloads. */
let latest: { plan: Plan; results: RunResult[] } | null = null;
/** Bumped by every change: a run whose number is no longer current stops. */
let generation = 0;

async function train(s: PageSettings): Promise<void> {
  const mine = ++generation;
  const status = byId("status");
  status.textContent = "training…";
  const plan = makePlan(toRequest(s), { cores: 1, memory: null });
  byId("sanity").textContent = sanityLines(s.momentum, s.bnInit, s.seed).join("\n");
  const start = performance.now();
  const results = await runExperiment(plan, { stopRequested: () => mine === generation ? null : "superseded" });
  if (mine !== generation) return;
  const millis = performance.now() - start;
  const summaries = summarize(plan.groups, outcomes(results));
  byId("summary").textContent = summaryTable(summaries).join("\n");
  latest = { plan, results };
  const models = byId("model-downloads");
  models.replaceChildren(
    ...results.filter((r) => r.model).map((r) => {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = `Download ${modelFileName(r.run.group)}`;
      b.addEventListener(
        "click",
        () => download(modelFileName(r.run.group), modelBytes(r.run, r.model!).slice(), "application/octet-stream"),
      );
      return b;
    }),
  );
  status.textContent = `trained ${results.length} runs in ${millis.toFixed(0)} ms`;
  status.dataset.millis = String(millis);
  await drawCharts(plan, results, summaries, s, mine);
}

async function drawCharts(
  plan: Plan,
  results: RunResult[],
  summaries: GroupSummary[],
  s: PageSettings,
  mine: number,
): Promise<void> {
  const data = notebookData(s.seed, plan.trainSize, plan.testSize);
  const fitted = results.filter((r) => r.stopped === null)
    .map((r) => ({ label: r.run.group.label, predictions: r.predictions }));
  const diagnosed = results.filter((r) => r.diagnostics !== null)
    .map((r) => ({ ...runKey(r.run), label: r.run.group.label, diagnostics: r.diagnostics! }));
  const specs: TopLevelSpec[] = [
    testLossSpec(summaries.map((g) => ({ label: g.group.label, runs: g.runs })), false),
    fitSpec(data.test, fitted),
  ];
  if (diagnosed.length > 0) specs.push(layerHistogramsSpec(diagnosed));
  const svgs: string[] = [];
  for (const spec of specs) {
    svgs.push(await renderSvg(spec));
    if (mine !== generation) return;
  }
  byId("charts").innerHTML = svgs.join("\n");
}

function changed(): void {
  const s = readSettings();
  const query = toQuery(s);
  history.replaceState(null, "", query ? `?${query}` : location.pathname);
  train(s).catch(fail);
}

function fail(err: unknown): void {
  byId("status").textContent = `error: ${err instanceof Error ? err.message : String(err)}`;
  console.error(err);
}

byId("download-losses").addEventListener("click", () => {
  if (latest) download("losses.csv", lossesCsv(latest.results), "text/csv");
});
byId("controls").addEventListener("change", changed);
const initial = fromQuery(location.search);
showSettings(initial);
train(initial).catch(fail);
