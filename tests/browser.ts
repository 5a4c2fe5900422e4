/**
 * Headless Chromium for the report test, driven over the Chrome DevTools
 * Protocol (a WebSocket of JSON messages): open a page, hear every failed
 * load, exception and console error, evaluate an expression in the page, and
 * take a full-page screenshot.
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
import { within } from "../src/kernels/deadline.ts";
import { run } from "./cli.ts";

/** Chromium's flags for a headless run with no profile, no sandbox (containers) and no background traffic. */
export const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--no-first-run",
] as const;

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
  /** A PNG of the whole page at `width` CSS pixels. */
  screenshot(): Promise<Uint8Array>;
  /** Closes the browser and removes its profile. */
  close(): Promise<void>;
}

type Message = { id?: number; method?: string; params?: Record<string, unknown>; result?: unknown; error?: unknown };

/** Starts Chromium with {@link CHROMIUM_FLAGS} and a fresh profile, and opens `url` in a `width`-pixel window. */
export async function openPage(chromium: string, url: string, width = 1280): Promise<Page> {
  const profile = await Deno.makeTempDir({ prefix: "bnlab-chromium-" });
  const child = new Deno.Command(chromium, {
    args: [...CHROMIUM_FLAGS, `--user-data-dir=${profile}`, "--remote-debugging-port=0", "about:blank"],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const cleanup = async () => {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    await child.status;
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  };
  try {
    const endpoint = await devtoolsEndpoint(child.stderr);
    const ws = new WebSocket(endpoint);
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = () => reject(new Error(`cannot connect to ${endpoint}`));
    });
    let next = 0;
    const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
    const listeners: ((m: Message) => void)[] = [];
    // A closed connection fails whatever still waits for an answer.
    ws.onclose = () => {
      for (const p of pending.values()) p.reject(new Error("the DevTools connection closed"));
      pending.clear();
    };
    ws.onmessage = (e) => {
      const m: Message = JSON.parse(e.data);
      if (m.id !== undefined) {
        const p = pending.get(m.id)!;
        pending.delete(m.id);
        if (m.error) p.reject(new Error(`${JSON.stringify(m.error)}`));
        else p.resolve(m.result);
      } else listeners.forEach((l) => l(m));
    };
    // Commands go to the page's session once attached (flat mode), to the browser before.
    const session: { id?: string } = {};
    const send = <T>(method: string, params: object = {}, to = session.id): Promise<T> => {
      const id = ++next;
      ws.send(JSON.stringify({ id, method, params, sessionId: to }));
      const answer = new Promise<T>((resolve, reject) =>
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject })
      );
      return within(answer, 30_000, `chromium's answer to ${method}`);
    };
    const { targetId } = await send<{ targetId: string }>("Target.createTarget", { url: "about:blank" });
    session.id = (await send<{ sessionId: string }>("Target.attachToTarget", { targetId, flatten: true })).sessionId;

    const requests: string[] = [];
    const problems: PageProblem[] = [];
    let loaded: () => void = () => {};
    const load = new Promise<void>((resolve) => loaded = resolve);
    listeners.push(({ method, params = {} }) => {
      const p = params as Record<string, never>;
      if (method === "Network.requestWillBeSent") requests.push((p.request as { url: string }).url);
      if (method === "Network.loadingFailed") problems.push({ kind: "load failed", text: JSON.stringify(p) });
      if (method === "Runtime.exceptionThrown") problems.push({ kind: "exception", text: JSON.stringify(p) });
      if (method === "Runtime.consoleAPICalled" && p.type === "error") {
        problems.push({ kind: "console error", text: JSON.stringify(p.args) });
      }
      if (method === "Log.entryAdded" && (p.entry as { level: string }).level === "error") {
        problems.push({ kind: "console error", text: (p.entry as { text: string }).text });
      }
      if (method === "Page.loadEventFired") loaded();
    });
    for (const domain of ["Page", "Network", "Runtime", "Log"]) await send(`${domain}.enable`);
    await send("Emulation.setDeviceMetricsOverride", { width, height: 900, deviceScaleFactor: 1, mobile: false });
    await send("Page.navigate", { url });
    await within(load, 30_000, `chromium loading ${url}`);

    return {
      requests,
      problems,
      async evaluate(expression) {
        const r = await send<{ result: { value: unknown }; exceptionDetails?: unknown }>("Runtime.evaluate", {
          expression,
          returnByValue: true,
          awaitPromise: true,
        });
        if (r.exceptionDetails) throw new Error(`evaluating ${expression}: ${JSON.stringify(r.exceptionDetails)}`);
        return r.result.value;
      },
      async screenshot() {
        const { cssContentSize: size } = await send<{ cssContentSize: { width: number; height: number } }>(
          "Page.getLayoutMetrics",
        );
        const clip = { x: 0, y: 0, width: Math.ceil(size.width), height: Math.ceil(size.height), scale: 1 };
        const { data } = await send<{ data: string }>("Page.captureScreenshot", {
          format: "png",
          clip,
          captureBeyondViewport: true,
        });
        return Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
      },
      async close() {
        // Browser.close goes to the browser, not the page's session; the browser may
        // close the connection before it answers, so its answer is not awaited long.
        await within(send("Browser.close", {}, undefined), 2_000, "Browser.close").catch(() => {});
        ws.close();
        await cleanup();
      },
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** Reads Chromium's stderr up to "DevTools listening on ws://…" (then keeps draining it); gives up after 30 s. */
async function devtoolsEndpoint(stderr: ReadableStream<Uint8Array>): Promise<string> {
  const lines = stderr.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const found = (async () => {
    while (true) {
      const { value, done } = await lines.read();
      if (done) throw new Error(`chromium exited without a DevTools endpoint:\n${text}`);
      text += value;
      const m = text.match(/DevTools listening on (ws:\/\/\S+)/);
      if (m) {
        (async () => {
          while (!(await lines.read()).done) { /* drain, so chromium never blocks on a full pipe */ }
        })();
        return m[1];
      }
    }
  })();
  found.catch(() => {}); // after a timeout, the browser's exit ends this loop with nobody listening
  return await within(found, 30_000, "chromium reporting its DevTools endpoint").catch((err) => {
    throw new Error(`${err.message}:\n${text}`);
  });
}
