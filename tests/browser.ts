/**
 * Headless Chromium for the browser tests, driven by puppeteer-core (npm):
 * find (or install) Debian's chromium, launch it, open a page and hear every
 * failed load, exception and console error, evaluate an expression in the
 * page, and take a full-page screenshot.
 *
 * @example
 * ```ts
 * import { findChromium, openPage } from "./browser.ts";
 * const page = await openPage((await findChromium()).path!, "file:///tmp/report/index.html");
 * const title = await page.evaluate("document.title");
 * await page.close();
 * ```
 * @module
 */
import puppeteer from "puppeteer-core";
import { within } from "../src/kernels/deadline.ts";
import { run } from "./cli.ts";

const CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

/**
 * The path of a Chromium binary, installing Debian's `chromium` package with
 * apt-get when it is missing and apt-get can; otherwise why there is none.
 */
export async function findChromium(): Promise<{ path: string | null; why: string }> {
  for (const path of CANDIDATES) if (await exists(path)) return { path, why: "" };
  if (!await exists("/usr/bin/apt-get")) return { path: null, why: "no chromium, and no apt-get to install it" };
  console.log("installing chromium with apt-get for the report test …");
  const apt = async (...args: string[]) => {
    const out = await run("/usr/bin/apt-get", args, "/", { env: { DEBIAN_FRONTEND: "noninteractive" } })
      .catch((err) => ({ code: 1, stderr: String(err) }));
    return { ok: out.code === 0, err: out.stderr.trim().split("\n").at(-1) ?? "" };
  };
  let install = await apt("install", "-y", "--no-install-recommends", "chromium");
  if (!install.ok) {
    await apt("update");
    install = await apt("install", "-y", "--no-install-recommends", "chromium");
  }
  for (const path of CANDIDATES) if (await exists(path)) return { path, why: "" };
  return { path: null, why: `no chromium, and apt-get install chromium failed: ${install.err}` };
}

/** Something the page reported going wrong. */
export interface PageProblem {
  kind: "load failed" | "exception" | "console error";
  text: string;
}

/** A page open in headless Chromium. */
export interface Page {
  /** Every URL the page requested (data: URLs included). */
  readonly requests: string[];
  /** Failed loads, exceptions and console errors, in order. */
  readonly problems: PageProblem[];
  /** The value of `expression` evaluated in the page (returned by value, promises awaited). */
  evaluate(expression: string): Promise<unknown>;
  /** A PNG of the whole page. */
  screenshot(): Promise<Uint8Array>;
  /** Closes the browser. */
  close(): Promise<void>;
}

/** Launches headless Chromium (no sandbox: containers) within a deadline. */
export function launch(chromium: string) {
  return within(
    puppeteer.launch({ executablePath: chromium, args: ["--no-sandbox", "--disable-gpu"], headless: true }),
    60_000,
    "Chromium's start",
  );
}

/** Starts Chromium and opens `url` in a `width`-pixel window, every request and problem recorded from the start. */
export async function openPage(chromium: string, url: string, width = 1280): Promise<Page> {
  const browser = await launch(chromium);
  const requests: string[] = [], problems: PageProblem[] = [];
  try {
    const page = await browser.newPage();
    await page.setViewport({ width, height: 800 });
    page.on("request", (r) => requests.push(r.url()));
    page.on("requestfailed", (r) => problems.push({ kind: "load failed", text: r.url() }));
    page.on("pageerror", (e) => problems.push({ kind: "exception", text: e instanceof Error ? e.message : String(e) }));
    page.on("console", (m) => m.type() === "error" && problems.push({ kind: "console error", text: m.text() }));
    await within(page.goto(url, { waitUntil: "load" }), 60_000, `loading ${url}`);
    return {
      requests,
      problems,
      evaluate: (expression) => within(page.evaluate(expression), 60_000, "an evaluation in the page"),
      screenshot: async () => new Uint8Array(await within(page.screenshot({ fullPage: true }), 60_000, "a screenshot")),
      close: () => within(browser.close(), 60_000, "closing Chromium"),
    };
  } catch (err) {
    await browser.close();
    throw err;
  }
}
