// The dashboard with 100 stages (bench/dashboard_page.sh): how long each
// view takes to draw a sample in Debian's chromium, how large a sample is,
// and what an open page costs the node in CPU against no page at all.
//
// usage: node dashboard_page.mjs SLUICE_BINARY SOURCE_DIR WORK_DIR
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";

const [sluice, src, work] = process.argv.slice(2);
const { freePort, launch, sleep } = await import(`${src}/tests/browser/lib.mjs`);
const median = (xs) => { const v = [...xs].sort((a, b) => a - b); const n = v.length; return n % 2 ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2; };

// Ten chains of ten sluice.table stages, each passing its changes on.
const chains = 10, depth = 10;
let yaml = "pipeline: hundred\ntopics: [";
const topics = [];
for (let c = 0; c < chains; c++) for (let i = 0; i <= depth; i++) topics.push(`c${c}_${i}`);
yaml += topics.join(", ") + "]\nstages:\n";
for (let c = 0; c < chains; c++) for (let i = 0; i < depth; i++) {
  yaml += `  - name: s${c}_${i}\n    behaviour: sluice.table\n    subscribe: [{ topic: c${c}_${i} }]\n`;
  if (i < depth - 1) yaml += `    emits: [c${c}_${i + 1}]\n    settings: { topic: c${c}_${i + 1} }\n`;
}
writeFileSync(`${work}/hundred.yaml`, yaml);

const token = `bench-${Date.now()}`;
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const node = spawn(sluice, ["run", `${work}/hundred.yaml`, "--serve", "--data", `${work}/data`, "--http", `127.0.0.1:${port}`, "-q"],
  { env: { ...process.env, SLUICE_TOKEN: token }, stdio: ["ignore", "ignore", "inherit"] });
for (let i = 0; i < 300; i++) { try { if ((await fetch(`${base}/readyz`)).ok) break; } catch {} await sleep(50); }
const cpuMs = () => { // the node's user + system CPU so far
  const f = readFileSync(`/proc/${node.pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(f[11]) + Number(f[12])) * 1000 / 100; // USER_HZ 100
};

const browser = await launch({ defaultViewport: { width: 1360, height: 900 } });
try {
  const seconds = Number(process.env.SECONDS_PER_PHASE || 20);
  // 1. An idle node, no page, then one page open on the overview.
  let c0 = cpuMs(); await sleep(seconds * 1000); const noPage = (cpuMs() - c0) / seconds;
  const page = await browser.newPage();
  await page.goto(`${base}/`);
  await page.type("#login-token", token);
  await page.click("#login-form button");
  await page.waitForSelector("#view[data-view=overview] .card");
  c0 = cpuMs(); await sleep(seconds * 1000); const onePage = (cpuMs() - c0) / seconds;
  console.log(`node CPU, idle, 100 stages: no page ${noPage.toFixed(1)} ms/s; one page open ${onePage.toFixed(1)} ms/s`);
  // 2. Events flowing into every chain; each view's drawing time.
  let posting = true, posted = 0;
  const poster = (async () => {
    for (let n = 0; posting; n++) {
      const events = [];
      for (let c = 0; c < chains; c++) for (let k = 0; k < 10; k++)
        events.push({ topic: `c${c}_0`, key: `k${k}`, payload: { n, c }, attributes: { operation: "update" } });
      await fetch(`${base}/v1/events`, { method: "POST", headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` }, body: JSON.stringify(events) });
      posted += events.length;
      await sleep(200);
    }
  })();
  for (const view of ["overview", "graph", "members", "stage/s5_5"]) {
    await page.goto(`${base}/#/${view}`);
    const times = [], bytes = [];
    let last = await page.evaluate(() => Number(document.body.dataset.samples || 0));
    while (times.length < 15) {
      await page.waitForFunction((n) => Number(document.body.dataset.samples || 0) > n, { timeout: 10000 }, last);
      const d = await page.evaluate(() => ({ n: Number(document.body.dataset.samples), ms: Number(document.body.dataset.updateMs), b: Number(document.body.dataset.sampleBytes) }));
      last = d.n; times.push(d.ms); bytes.push(d.b);
    }
    if (process.env.SHOTS_DIR && view === "graph")
      await page.screenshot({ path: `${process.env.SHOTS_DIR}/graph-100-stages.png` });
    console.log(`view ${view}: draws a sample in median ${median(times).toFixed(1)} ms (max ${Math.max(...times).toFixed(1)}); a sample is ${(median(bytes) / 1024).toFixed(1)} KiB`);
  }
  posting = false;
  await poster;
  console.log(`events posted while drawing: ${posted}`);
  // 3. The page closed again: the node's CPU returns to what it was.
  await page.close();
  await sleep(3000);
  c0 = cpuMs(); await sleep(seconds * 1000);
  console.log(`node CPU, idle, after the page closed: ${((cpuMs() - c0) / seconds).toFixed(1)} ms/s`);
} finally {
  await browser.close();
  node.kill("SIGTERM");
}
