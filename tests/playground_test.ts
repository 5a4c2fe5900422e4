// The playground (src/web/): built as `deno task site` builds it, served by
// src/cli/serve.ts, opened in headless Chromium through puppeteer-core. The
// page's summary must equal the CLI's for the same settings (every column but
// the training time), before and after a control changes the learning rate;
// nothing may fail, log an error or leave the page's origin.
import assert from "node:assert/strict";
import puppeteer from "puppeteer-core";
import { within } from "../src/kernels/deadline.ts";
import { respond } from "../src/cli/serve.ts";
import { findChromium } from "./browser.ts";
import { inTempDir, run, train } from "./cli.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const chromium = await findChromium();
if (chromium.path === null) console.log(`ignoring the playground test: ${chromium.why}`);

/** The summary table's rows without the training-time column (the times differ run to run). */
function losses(table: string): string[] {
  const lines = table.trim().split("\n");
  const cut = lines[0].indexOf("training time");
  return lines.map((l) => l.slice(0, cut).trimEnd());
}

/** The CLI's summary table for `args`, from its stdout. */
async function cliSummary(dir: string, args: string[]): Promise<string[]> {
  const r = await train(dir, [...args, "--out", `${dir}/cli-${args.join("_") || "defaults"}`]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split("\n");
  const start = lines.findIndex((l) => l.startsWith("variant "));
  const end = lines.findIndex((l, i) => i > start && l.trim() === "");
  return losses(lines.slice(start, end).join("\n"));
}

Deno.test({
  name: "the playground trains in the page and shows the CLI's numbers, for the defaults and after a change",
  ignore: chromium.path === null,
  fn: async () => {
    await inTempDir(async (dir) => {
      const site = `${dir}/site`;
      const bundle = await run(Deno.execPath(), [
        "bundle",
        "--quiet",
        "--minify",
        "--platform",
        "browser",
        "-o",
        `${site}/page.js`,
        `${ROOT}src/web/page.ts`,
      ], ROOT);
      assert.equal(bundle.code, 0, bundle.stderr);
      await Deno.copyFile(`${ROOT}src/web/index.html`, `${site}/index.html`);
      const server = Deno.serve(
        { hostname: "127.0.0.1", port: 0, onListen() {} },
        (req) => respond(site, new URL(req.url).pathname),
      );
      const origin = `http://127.0.0.1:${server.addr.port}`;
      const browser = await within(
        puppeteer.launch({ executablePath: chromium.path!, args: ["--no-sandbox", "--disable-gpu"], headless: true }),
        60_000,
        "Chromium's start",
      );
      try {
        const page = await browser.newPage();
        const problems: string[] = [];
        page.on("console", (m) => m.type() === "error" && problems.push(`console: ${m.text()}`));
        page.on("pageerror", (e) => problems.push(`page error: ${e instanceof Error ? e.message : String(e)}`));
        page.on("requestfailed", (r) => problems.push(`failed: ${r.url()}`));
        page.on("request", (r) => {
          if (!r.url().startsWith(origin) && !r.url().startsWith("blob:")) problems.push(`left the origin: ${r.url()}`);
        });
        const trained = async (previous: string) => {
          // A string: it runs in the page, where the DOM is (this file is type-checked without it).
          await page.waitForFunction(
            `(() => {
              const e = document.getElementById("status"), s = e?.textContent ?? "";
              return s.startsWith("trained") && e.getAttribute("data-millis") !== ${JSON.stringify(previous)} ||
                s.startsWith("error");
            })()`,
            { timeout: 120_000 },
          );
          const status = await page.$eval("#status", (e) => e.textContent ?? "");
          assert.match(status, /^trained 3 runs in \d+ ms$/, status);
          return {
            summary: await page.$eval("#summary", (e) => e.textContent ?? ""),
            millis: await page.$eval("#status", (e) => e.getAttribute("data-millis") ?? ""),
          };
        };
        await within(page.goto(`${origin}/`), 60_000, "the page's load");
        const first = await trained("");
        assert.deepEqual(losses(first.summary), await cliSummary(dir, []));
        console.log(`page: the default experiment trained in ${Number(first.millis).toFixed(1)} ms`);
        assert.equal(await page.$$eval(".charts svg", (s) => s.length), 3);

        // The learning rate through its control: the table follows, and the URL holds the setting.
        await page.$eval("#lr", (e) => {
          (e as unknown as { value: string }).value = "0.05";
          e.dispatchEvent(new Event("change", { bubbles: true }));
        });
        const changed = await trained(first.millis);
        assert.notDeepEqual(losses(changed.summary), losses(first.summary));
        assert.deepEqual(losses(changed.summary), await cliSummary(dir, ["--lr", "0.05"]));
        assert.equal(new URL(page.url()).search, "?lr=0.05");

        // Every control has a label.
        const unlabelled = await page.$$eval(
          "input, select",
          (els) =>
            els.filter((e) => !(e as unknown as { labels: { length: number } | null }).labels?.length)
              .map((e) => e.id || e.outerHTML),
        );
        assert.deepEqual(unlabelled, []);
        await page.screenshot({ path: `${dir}/playground.png`, fullPage: true });
        assert.ok((await Deno.stat(`${dir}/playground.png`)).size > 10_000);
        assert.deepEqual(problems, []);
      } finally {
        await browser.close();
        await server.shutdown();
      }
    }, "bnlab-playground-");
  },
});
