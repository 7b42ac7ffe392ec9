// What the browser tests (and bench/dashboard_page.mjs) share: counted
// checks, a free port, Debian's chromium launched headless.
import net from "node:net";
import { createRequire } from "node:module";

const puppeteer = createRequire(import.meta.url)("puppeteer-core");

/// check(name, ok, detail) counts and prints failures; done() prints the
/// summary and exits 0 only when nothing failed.
export function checks(title) {
  let passed = 0, failed = 0;
  const check = (name, ok, detail = "") => {
    if (ok) passed++;
    else { failed++; console.log(`FAIL: ${name}${detail ? ": " + detail : ""}`); }
  };
  const done = () => {
    console.log(`${title}: ${passed} passed, ${failed} failed`);
    process.exit(failed === 0 ? 0 : 1);
  };
  return { check, done };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/// A TCP port free on 127.0.0.1 now.
export const freePort = () => new Promise((resolve) => {
  const s = net.createServer();
  s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => resolve(p)); });
});

/// Debian's chromium ($CHROMIUM to override), headless, without its
/// sandbox (the tests run as root in CI).
export const launch = (extra = {}) => puppeteer.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  ...extra,
});
