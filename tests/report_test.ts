// index.html: a self-contained report that a browser renders completely offline.
import assert from "node:assert/strict";
import { escapeHtml, reportHtml, svgDataUrl } from "../src/outputs/report.ts";
import { findChromium, openPage } from "./browser.ts";
import { inTempDir, train } from "./cli.ts";

const CHARTS = ["training-data", "test-loss", "fit", "layer-histograms", "grad-norms"];

Deno.test("the report escapes text and embeds each SVG as a data: URL that decodes back to it", () => {
  assert.equal(escapeHtml(`<a href="x">&'`), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
  const svg = `<svg xmlns="http://www.w3.org/2000/svg"><text>x² — ∂</text></svg>`;
  const url = svgDataUrl(svg);
  const bytes = Uint8Array.from(atob(url.slice(url.indexOf(",") + 1)), (c) => c.charCodeAt(0));
  assert.equal(new TextDecoder().decode(bytes), svg);
  // A chart-sized SVG (past the fallback's 32 KiB chunks) decodes back too, and equals btoa's encoding.
  const big = `<svg xmlns="http://www.w3.org/2000/svg">${"<text>x² — ∂ é</text>".repeat(5000)}</svg>`;
  const bigUrl = svgDataUrl(big);
  const utf8 = new TextEncoder().encode(big);
  assert.equal(bigUrl.slice(bigUrl.indexOf(",") + 1), btoa(Array.from(utf8, (b) => String.fromCharCode(b)).join("")));
  const html = reportHtml({
    title: "t <1>",
    configuration: [["lr", "0.02"]],
    summary: [["variant", "loss"], ["none", "58"]],
    charts: [{ name: "c", title: "C", svg }],
    files: ["losses.csv"],
  });
  assert.match(html, /<title>t &lt;1&gt;<\/title>/);
  assert.ok(html.includes(`src="${url}"`));
});

/** Every URL an index.html would load: src attributes and CSS url(). */
function loadedUrls(html: string): string[] {
  return [...html.matchAll(/\ssrc="([^"]*)"|url\(([^)]*)\)/g)].map((m) => m[1] ?? m[2]);
}

const chromium = await findChromium();
if (!chromium.path) console.log(`ignoring the browser test of the report: ${chromium.why}`);

Deno.test({
  name: "index.html opens in headless Chromium with every chart rendered and nothing failed or fetched",
  ignore: chromium.path === null,
  fn: async () => {
    await inTempDir(async (dir) => {
      const r = await train(dir, ["--seeds", "3", "--out", `${dir}/out`]);
      assert.equal(r.code, 0, r.stderr);
      const html = await Deno.readTextFile(`${dir}/out/index.html`);
      const urls = loadedUrls(html);
      assert.equal(urls.length, CHARTS.length);
      assert.ok(urls.every((u) => u.startsWith("data:image/svg+xml;base64,")), "the page loads only data: URLs");
      // Links point at the run's own files, which exist.
      for (const [, href] of html.matchAll(/href="([^"]*)"/g)) {
        assert.ok(!href.includes(":") && !href.includes("/"), `external link ${href}`);
        await Deno.stat(`${dir}/out/${href}`);
      }

      const page = await openPage(chromium.path!, `file://${dir}/out/index.html`);
      try {
        const state = await page.evaluate(`(async () => {
          await Promise.all([...document.images].map((img) => img.decode().catch(() => {})));
          return {
            title: document.title,
            summaryRows: document.querySelectorAll("table.summary tr").length,
            charts: [...document.images].map((img) => ({
              id: img.id,
              complete: img.complete,
              naturalWidth: img.naturalWidth,
              shownWidth: img.getBoundingClientRect().width,
              shownHeight: img.getBoundingClientRect().height,
            })),
          };
        })()`) as {
          title: string;
          summaryRows: number;
          charts: { id: string; complete: boolean; naturalWidth: number; shownWidth: number; shownHeight: number }[];
        };
        assert.match(state.title, /^bnlab: mybn, torch, none/);
        assert.equal(state.summaryRows, 4, "a header and one row per variant");
        assert.deepEqual(state.charts.map((c) => c.id), CHARTS.map((c) => `chart-${c}`));
        for (const c of state.charts) {
          assert.ok(c.complete && c.naturalWidth > 100, `${c.id} did not render: ${JSON.stringify(c)}`);
          assert.ok(c.shownWidth > 100 && c.shownHeight > 100, `${c.id} is not shown: ${JSON.stringify(c)}`);
        }
        assert.deepEqual(page.problems, []);
        const fetched = page.requests.filter((u) => !u.startsWith("data:") && u !== `file://${dir}/out/index.html`);
        assert.deepEqual(fetched, [], "the page fetched something besides itself");
        const png = await page.screenshot();
        assert.deepEqual([...png.subarray(1, 4)], [80, 78, 71], "the screenshot is a PNG");
        const shot = `${Deno.env.get("TMPDIR") ?? "/tmp"}/bnlab-report-screenshot.png`;
        await Deno.writeFile(shot, png);
        console.log(`report screenshot (${png.length} bytes): ${shot}`);
      } finally {
        await page.close();
      }
    });
  },
});
