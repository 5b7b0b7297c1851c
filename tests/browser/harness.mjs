// What the browser scripts share (live_page.mjs, signin_mfa.mjs): failures and waiting, Chromium
// launched the same way, a watch on CSP violations and console errors, and the ending the Rust
// driver reads: `RESULT {…}` on stdout and exit 0, or `FAIL: …` on stderr and exit 1.

import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";

export const CHROMIUM = "/usr/bin/chromium";
const started = Date.now();

export const elapsedMs = () => Date.now() - started;

// `log(…)` to stderr, prefixed with the script's name and the seconds since it started.
export const logger = (name) => (...a) => console.error(`[${name} ${(elapsedMs() / 1000).toFixed(1)}s]`, ...a);

export class Failure extends Error {}

export function check(cond, message) {
  if (!cond) throw new Failure(message);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function until(what, timeoutMs, probe) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Failure(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

// A required environment variable; `driver` names the Rust test that sets it.
export function env(name, driver) {
  const v = process.env[name];
  if (!v) throw new Failure(`${name} is not set (this script is run by ${driver})`);
  return v;
}

// Launches headless Chromium, runs `body(browser, state)` and closes the browser. When `body`
// fails and `state.page` is set, a screenshot of it goes to `artifactsDir/<name>_failure.png`.
export async function withChromium(name, artifactsDir, body) {
  check(existsSync(CHROMIUM), `${CHROMIUM} not found: install Debian's chromium package (scripts/ensure-deps does)`);
  let chromium;
  try {
    ({ chromium } = await import("playwright-core"));
  } catch (e) {
    throw new Failure(`playwright-core is not installed: run \`npm ci --prefix tests/browser\` (scripts/test does): ${e.message}`);
  }
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
  const state = { page: null };
  try {
    return await body(browser, state);
  } catch (e) {
    if (state.page && artifactsDir) {
      mkdirSync(artifactsDir, { recursive: true });
      const shot = path.join(artifactsDir, `${name}_failure.png`);
      await state.page.screenshot({ path: shot }).then(
        () => console.error(`screenshot of the page: ${shot}`),
        () => {},
      );
    }
    throw e;
  } finally {
    await browser.close().catch(() => {});
  }
}

// Records the CSP violations of every page of `context` (a listener injected by DevTools before
// any page script, so not subject to the CSP) and the console errors and uncaught exceptions of
// `page`. `tolerate(re)` lets console errors matching `re` pass until `tolerate(null)`, for the
// errors the browser logs by itself when the test makes a request fail on purpose.
export async function watchConsole(context, page) {
  const csp = [];
  const errors = [];
  let tolerated = null;
  await context.exposeFunction("__cspViolation", (v) => csp.push(v));
  await context.addInitScript(() =>
    document.addEventListener("securitypolicyviolation", (e) =>
      window.__cspViolation({ page: location.pathname, directive: e.violatedDirective, blocked: e.blockedURI, sample: e.sample }),
    ),
  );
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    if (tolerated && tolerated.test(m.text())) return;
    errors.push(`${m.text()} (${m.location().url || "?"})`);
  });
  page.on("pageerror", (e) => errors.push(`uncaught: ${e.message}`));
  const distinct = (xs) => [...new Set(xs)].map((x) => (x.length > 300 ? x.slice(0, 300) + "…" : x));
  return {
    csp,
    errors,
    tolerate(re) {
      tolerated = re;
    },
    // Nothing broke the CSP, nothing logged an error.
    checkClean() {
      check(
        csp.length === 0 && !errors.some((m) => /Content Security Policy/i.test(m)),
        `${csp.length} CSP violation(s): ${distinct(csp.map((v) => JSON.stringify(v))).join(", ")}\n  ${distinct(errors).join("\n  ")}`,
      );
      check(errors.length === 0, `console errors:\n  ${distinct(errors).join("\n  ")}`);
    },
  };
}

// Runs `main` and ends the process the way the driver expects, within `timeoutMs`.
export function finish(name, timeoutMs, main) {
  const watchdog = setTimeout(() => {
    console.error(`FAIL: ${name} did not finish within ${timeoutMs / 1000} s`);
    process.exit(1);
  }, timeoutMs);
  main().then(
    (summary) => {
      clearTimeout(watchdog);
      console.log("RESULT " + JSON.stringify(summary));
      process.exit(0);
    },
    (e) => {
      clearTimeout(watchdog);
      console.error("FAIL: " + (e instanceof Failure ? e.message : e.stack || String(e)));
      process.exit(1);
    },
  );
}
