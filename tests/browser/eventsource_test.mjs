// A browser's EventSource follows a change feed and resumes after the
// server restarts: Debian's chromium, headless, driven by puppeteer-core
// (no browser download). The page is served by the node itself
// (/healthz), so the feed is same-origin; the node runs with
// --public-read (an EventSource cannot send a bearer token).
//
// usage: node eventsource_test.mjs SLUICE_BINARY SOURCE_DIR WORK_DIR
import { spawn, execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { checks, freePort, launch, sleep } from "./lib.mjs";

const [sluice, src, work] = process.argv.slice(2);
const pipeline = `${src}/examples/package_trust/pipeline.yaml`;
const { check, done } = checks("eventsource_test");

// The first 80 npm rows, then the same 80 with other download counts
// (files named npm.tsv: the example routes by the feed's name).
const rows = readFileSync(`${src}/examples/package_trust/data/npm.tsv`, "utf8").split("\n");
mkdirSync(`${work}/first`);
mkdirSync(`${work}/second`);
writeFileSync(`${work}/first/npm.tsv`, rows.slice(0, 81).join("\n") + "\n");
const head = rows[0].split("\t");
const dl = head.indexOf("downloads_a_month");
writeFileSync(`${work}/second/npm.tsv`, [rows[0], ...rows.slice(1, 81).map((r, i) => {
  const f = r.split("\t"); f[dl] = String(1000 + i * 7); return f.join("\t");
})].join("\n") + "\n");

const port = await freePort();
const base = `http://127.0.0.1:${port}`;
let node = null;
async function startNode(feed) {
  node = spawn(sluice, ["run", pipeline, "--serve", "--data", `${work}/data`,
    "--http", `127.0.0.1:${port}`, "--public-read", "-q", "--feed", feed],
    { stdio: ["ignore", "ignore", "inherit"] });
  for (let i = 0; i < 200; i++) {
    try { if ((await fetch(`${base}/healthz`)).ok) return; } catch {}
    await sleep(50);
  }
  throw new Error("the node did not start");
}
async function stopNode() {
  const exited = new Promise((r) => node.once("exit", r));
  node.kill("SIGTERM");
  await exited;
}
const exported = () => {
  const out = execFileSync(sluice, ["export", "--data", `${work}/data`, "--stage", "score"], { encoding: "utf8" });
  const m = new Map();
  for (const line of out.split("\n").filter(Boolean)) {
    const tab = line.indexOf("\t");
    m.set(line.slice(0, tab), JSON.parse(line.slice(tab + 1)));
  }
  return m;
};

await startNode(`${work}/first/npm.tsv`);
const browser = await launch();
try {
  const page = await browser.newPage();
  const consoleErrors = [];
  page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
  await page.goto(`${base}/healthz`);
  await page.evaluate(() => {
    window.feed = { events: [], opens: 0, errors: 0 };
    const es = new EventSource("/v1/feed/score");
    es.onopen = () => window.feed.opens++;
    es.onerror = () => window.feed.errors++;
    for (const type of ["snapshot", "snapshot_end", "change", "removed", "reset", "progress"])
      es.addEventListener(type, (e) =>
        window.feed.events.push({ type, id: e.lastEventId, data: JSON.parse(e.data) }));
    window.es = es;
  });
  const feed = () => page.evaluate(() => window.feed);
  // view: last state per key, from the snapshot and the changes.
  const view = (events) => {
    const m = new Map();
    for (const e of events) {
      if (e.type === "reset") m.clear();
      if (e.type === "snapshot" || e.type === "change") m.set(e.data.key, e.data.state);
      if (e.type === "removed") m.delete(e.data.key);
    }
    return m;
  };
  const same = (a, b) => a.size === b.size &&
    [...a].every(([k, v]) => b.has(k) && JSON.stringify(b.get(k)) === JSON.stringify(v));
  const until = async (what, ms) => {
    for (let t = 0; t < ms; t += 100) { if (await what()) return true; await sleep(100); }
    return false;
  };

  // 1. Cold start: the snapshot, snapshot_end with its cursor, live changes.
  const first = exported();
  check("the first feed is processed (80 scores)", await until(async () => exported().size === 80, 30000));
  check("the browser's view equals sluice export",
    await until(async () => same(view((await feed()).events), exported()), 15000));
  let f = await feed();
  check("a snapshot_end arrived, with a cursor as its event id",
    f.events.some((e) => e.type === "snapshot_end" && e.id && e.data.cursor === e.id));
  const lastId = f.events.filter((e) => e.id).at(-1)?.id;

  // 2. The server restarts with new input; EventSource reconnects by
  // itself, sending Last-Event-ID, and the changes follow with no gap and
  // no duplicate.
  const before = f.events.length;
  await stopNode();
  check("the browser saw the connection drop",
    await until(async () => (await feed()).errors > 0, 10000));
  await startNode(`${work}/second/npm.tsv`);
  check("the browser reconnected", await until(async () => (await feed()).opens >= 2, 20000));
  check("the second feed is processed", await until(async () => {
    const now = exported();
    return now.size === 80 && [...now.values()].some((v, i) => JSON.stringify(v) !== JSON.stringify([...first.values()][i]));
  }, 30000));
  check("after the restart the browser's view equals sluice export again",
    await until(async () => same(view((await feed()).events), exported()), 20000));
  f = await feed();
  const after = f.events.slice(before);
  check("it resumed from its cursor: no new snapshot and no reset",
    !after.some((e) => e.type === "snapshot" || e.type === "reset"),
    JSON.stringify(after.slice(0, 3)));
  const changes = f.events.filter((e) => e.type === "change" || e.type === "removed");
  const seen = new Set(changes.map((e) => `${e.data.shard}/${e.data.offset}`));
  check("no change was delivered twice", seen.size === changes.length,
    `${changes.length} changes, ${seen.size} distinct`);
  check("the changes after the restart came", after.filter((e) => e.type === "change").length >= 80,
    `${after.length} events after the restart`);
  check("the last id before the restart was the resume point", typeof lastId === "string" && lastId.length > 0);
  check("no console errors but the dropped connection's",
    consoleErrors.every((m) => /EventSource|ERR_CONNECTION|net::|Failed to load resource/.test(m)),
    consoleErrors.join(" | "));
  await page.evaluate(() => window.es.close());
} finally {
  await browser.close();
  await stopNode().catch(() => {});
}
done();
