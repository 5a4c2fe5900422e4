// The playground (src/web/): built as `deno task site` builds it, opened in
// headless Chromium through puppeteer-core, served three ways: by
// src/cli/serve.ts (cross-origin isolated: the shared-memory kernels), by
// Python's plain http.server (no isolation: the one-thread kernels), and
// there again with the plain-SIMD kernels forced. With relaxed SIMD the page's
// summary must equal the CLI's for the same settings (every column but the
// training time), before and after a control changes the learning rate;
// without it, the finding must hold. Nothing may fail, log an error or leave
// the page's origin.
import assert from "node:assert/strict";
import { within } from "../src/kernels/deadline.ts";
import { respond } from "../src/cli/serve.ts";
import { findChromium, launch } from "./browser.ts";
import { buildSite } from "../src/cli/site.ts";
import { inTempDir, spawn, train } from "./cli.ts";

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

/** Serves `dir` with Python's http.server on a free port (no headers of ours); stops with the returned function. */
async function plainServer(dir: string): Promise<{ origin: string; stop: () => Promise<void> }> {
  const child = spawn("/usr/bin/python3", ["-u", "-m", "http.server", "0", "--bind", "127.0.0.1"], dir, {
    deadlineMs: 5 * 60_000,
  });
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const port = await within(
    (async () => {
      for (;;) {
        const { value, done } = await lines.read();
        if (done) throw new Error(`http.server ended: ${text}`);
        text += value;
        const m = text.match(/port (\d+)/);
        if (m) return Number(m[1]);
      }
    })(),
    30_000,
    "Python's http.server",
  );
  return {
    origin: `http://127.0.0.1:${port}`,
    stop: async () => {
      child.kill("SIGTERM");
      await lines.cancel();
      await child.stderr.cancel();
      await child.status;
    },
  };
}

type Browser = Awaited<ReturnType<typeof launch>>;

/**
 * Opens `url` and waits for the first training; returns the build the page
 * chose, its summary and training time, and a function that changes the
 * learning rate and returns the new summary. Problems (console errors, page
 * errors, failed loads, requests outside `origin`) collect in `problems`.
 */
async function openPlayground(browser: Browser, origin: string, url: string, problems: string[]) {
  const page = await browser.newPage();
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
  await within(page.goto(url), 60_000, "the page's load");
  const first = await trained("");
  const kernels = await page.$eval("html", (e) => e.getAttribute("data-kernels") ?? "");
  const setLr = async (lr: string) => {
    await page.$eval("#lr", (e, v) => {
      (e as unknown as { value: string }).value = v;
      e.dispatchEvent(new Event("change", { bubbles: true }));
    }, lr);
    const next = await trained(first.millis);
    return { ...next, search: new URL(page.url()).search };
  };
  return { page, kernels, first, setLr };
}

Deno.test({
  name:
    "the playground trains in the page and shows the CLI's numbers, served isolated, served plain, and without relaxed SIMD",
  ignore: chromium.path === null,
  fn: async () => {
    await inTempDir(async (dir) => {
      const site = `${dir}/site`;
      const { files, bytes } = await buildSite(site);
      assert.deepEqual(files, ["index.html", "page-compat.js", "page-single.js", "page.js"]);
      console.log(`site: ${files.length} files, ${bytes} bytes`);
      const cliDefaults = await cliSummary(dir, []);
      const cliLr = await cliSummary(dir, ["--lr", "0.05"]);
      const server = Deno.serve(
        { hostname: "127.0.0.1", port: 0, onListen() {} },
        (req) => respond(site, new URL(req.url).pathname),
      );
      const plain = await plainServer(site);
      const browser = await launch(chromium.path!);
      const problems: string[] = [];
      try {
        for (
          const [origin, expected] of [[`http://127.0.0.1:${server.addr.port}`, "threads"], [plain.origin, "single"]]
        ) {
          const p = await openPlayground(browser, origin, `${origin}/`, problems);
          assert.equal(p.kernels, expected, origin);
          assert.deepEqual(losses(p.first.summary), cliDefaults, `${expected}: the defaults`);
          console.log(`page (${expected}): the default experiment trained in ${Number(p.first.millis).toFixed(1)} ms`);
          assert.equal(await p.page.$$eval(".charts svg", (s) => s.length), 3);
          // The learning rate through its control: the table follows, and the URL holds the setting.
          const changed = await p.setLr("0.05");
          assert.deepEqual(losses(changed.summary), cliLr, `${expected}: --lr 0.05`);
          assert.equal(changed.search, "?lr=0.05");
          // Every control has a label.
          const unlabelled = await p.page.$$eval(
            "input, select",
            (els) =>
              els.filter((e) => !(e as unknown as { labels: { length: number } | null }).labels?.length)
                .map((e) => e.id || e.outerHTML),
          );
          assert.deepEqual(unlabelled, []);
          // Tab reaches every control, in the page's order.
          const controls = await p.page.$$eval("#controls input, #controls select", (els) => els.map((e) => e.id));
          const reached: string[] = [];
          for (let i = 0; i < controls.length; i++) {
            await p.page.keyboard.press("Tab");
            reached.push(await p.page.evaluate("document.activeElement?.id ?? ''") as string);
          }
          assert.deepEqual(reached, controls);
          await p.page.screenshot({ path: `${dir}/playground-${expected}.png`, fullPage: true });
          assert.ok((await Deno.stat(`${dir}/playground-${expected}.png`)).size > 10_000);
        }
        // Plain SIMD: each multiply-add rounds twice, so the numbers may differ; the finding must not.
        const compat = await openPlayground(browser, plain.origin, `${plain.origin}/?kernels=compat`, problems);
        assert.equal(compat.kernels, "compat");
        assert.match(await compat.page.$eval("#build", (e) => e.textContent ?? ""), /may differ/);
        const rows = losses(compat.first.summary).slice(1).map((l) => l.split(/\s+/));
        const final = Object.fromEntries(rows.map(([variant, loss]) => [variant, Number(loss)]));
        assert.ok(final.mybn < 20 && final.torch < 20 && final.none > 50, compat.first.summary);
        assert.deepEqual(problems, []);
      } finally {
        await browser.close();
        await plain.stop();
        await server.shutdown();
      }
    }, "bnlab-playground-");
  },
});
