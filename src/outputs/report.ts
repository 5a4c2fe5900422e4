/**
 * `index.html`: the run as one self-contained page — the configuration, the
 * summary table and every chart, each chart an SVG embedded as a `data:` URL,
 * with inline styles and no script, so the page opens offline and loads
 * nothing from anywhere.
 *
 * @example
 * ```ts
 * import { reportHtml } from "./report.ts";
 * const html = reportHtml({
 *   title: "bnlab run",
 *   configuration: [["epochs", "10"]],
 *   summary: [["variant", "final test loss"], ["none", "58.2789"]],
 *   charts: [{ name: "test-loss", title: "Test loss", svg: "<svg xmlns='http://www.w3.org/2000/svg'/>" }],
 *   files: ["losses.csv"],
 * });
 * ```
 * @module
 */

/** A chart of the report. */
export interface ReportChart {
  /** File stem, e.g. "test-loss" (the page links `<name>.svg` and `<name>.vl.json`). */
  name: string;
  /** Its title (the image's alt text and caption). */
  title: string;
  /** The rendered SVG document. */
  svg: string;
  /** A few sentences above it: what it measures and what to look for. */
  about?: string;
}

/** What the report shows. */
export interface Report {
  /** The page's title and heading. */
  title: string;
  /** Setting, value. */
  configuration: [string, string][];
  /** The summary: a header row, then a row per group. */
  summary: string[][];
  /** The charts, in order. */
  charts: ReportChart[];
  /** Other files of the run directory, linked by relative name. */
  files: string[];
}

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** `text` with the five HTML-special characters escaped. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/** A `data:` URL holding `svg` (base64 of its UTF-8 bytes). */
export function svgDataUrl(svg: string): string {
  return `data:image/svg+xml;base64,${base64(new TextEncoder().encode(svg))}`;
}

/** `Uint8Array.prototype.toBase64`, where the engine has it (V8 from 14.0, so Deno 2.9). */
type WithBase64 = Uint8Array & { toBase64?: () => string };

/**
 * Base64 of `bytes`: the engine's own encoder where it has one (3 ms for the
 * default run's five charts, 0.7 MB), else `btoa` of a binary string built
 * in chunks (65 ms for the same: about a tenth of the whole `deno task
 * train`).
 */
function base64(bytes: Uint8Array): string {
  const own = (bytes as WithBase64).toBase64;
  if (typeof own === "function") return own.call(bytes);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

const STYLE = `
body { font: 15px/1.45 system-ui, sans-serif; color: #222; max-width: 1200px; margin: 2em auto; padding: 0 1em; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; }
th, td { padding: 0.25em 0.8em; border-bottom: 1px solid #eee; text-align: right; white-space: nowrap; }
th { background: #f6f6f6; }
th:first-child, td:first-child { text-align: left; }
table.config td:last-child { text-align: left; }
figure { margin: 1.5em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9em; }
`;

/** The page's HTML. */
export function reportHtml(report: Report): string {
  const e = escapeHtml;
  const row = (cells: string[], tag: "td" | "th") =>
    `<tr>${cells.map((c) => `<${tag}>${e(c)}</${tag}>`).join("")}</tr>`;
  const [header, ...rows] = report.summary;
  const charts = report.charts.map((c) =>
    `${c.about ? `<p class="about">${e(c.about)}</p>\n` : ""}<figure>
<img class="chart" id="chart-${e(c.name)}" alt="${e(c.title)}" src="${svgDataUrl(c.svg)}">
<figcaption>${e(c.title)} — <a href="${e(c.name)}.svg">${e(c.name)}.svg</a>, vega-lite spec <a href="${
      e(c.name)
    }.vl.json">${e(c.name)}.vl.json</a></figcaption>
</figure>`
  );
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${e(report.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${e(report.title)}</h1>
<p>y = x² + N(0, 1) on x ∈ [−5, 5]; Linear → BN → activation blocks, then Linear; MSE, Adam.
Test losses in eval mode at the start of each epoch.</p>
<h2>Configuration</h2>
<table class="config">
${report.configuration.map(([k, v]) => row([k, v], "td")).join("\n")}
</table>
<h2>Summary</h2>
<table class="summary">
${header ? row(header, "th") : ""}
${rows.map((r) => row(r, "td")).join("\n")}
</table>
<h2>Charts</h2>
${charts.join("\n")}
<h2>Files</h2>
<ul>
${report.files.map((f) => `<li><a href="${e(f)}">${e(f)}</a></li>`).join("\n")}
</ul>
</body>
</html>
`;
}
