// The web dashboard in a real browser: Debian's chromium, headless, driven
// by puppeteer-core. One node runs the example pipeline with a console
// token and a read-only token; the test logs in through the page's form,
// walks every view (no console errors; numbers equal to `sluice console
// -c` and /metrics at the same moment), watches the overview move while
// events flow, pauses and resumes a stage from the page, redrives a dead
// letter and sees the key's new state, and checks that actions without
// the token and forged cross-site requests are refused. With SHOTS_DIR,
// a screenshot of each view is written there.
//
// usage: node dashboard_test.mjs SLUICE_BINARY SOURCE_DIR WORK_DIR
import { spawn, execFileSync } from "node:child_process";
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import http from "node:http";
import { checks, freePort, launch, sleep } from "./lib.mjs";

const [sluice, src, work] = process.argv.slice(2);
const shots = process.env.SHOTS_DIR || "";
const example = `${src}/examples/package_trust`;
const { check, done } = checks("dashboard_test");

const token = `console-${process.pid}-${Date.now()}`;
const viewer = `viewer-${process.pid}-${Date.now()}`;
writeFileSync(`${work}/viewer.token`, viewer + "\n", { mode: 0o600 });
writeFileSync(`${work}/tokens`, "viewer read file:viewer.token\n", { mode: 0o600 });
// The same pipeline with a mistake: parse may only emit to `enriched`,
// so its events fail for good (a dead letter naming the topic) until the
// right topology is applied again.
writeFileSync(`${work}/broken.yaml`, readFileSync(`${example}/pipeline.yaml`, "utf8")
  .replace("emits: [parsed]", "emits: [enriched]"));

const port = await freePort(), admin = await freePort();
const base = `http://127.0.0.1:${port}`;
const env = { ...process.env, SLUICE_TOKEN: token };
mkdirSync(`${work}/logs`, { recursive: true });
const node = spawn(sluice, ["run", `${example}/pipeline.yaml`, "--serve", "--data", `${work}/data`,
  "--http", `127.0.0.1:${port}`, "--listen", `127.0.0.1:${admin}`, "--tokens-file", `${work}/tokens`,
  "--feed", `${example}/data/npm.tsv`], { env, stdio: ["ignore", "ignore", "pipe"] });
let log = "";
node.stderr.on("data", (d) => { log += d.toString(); });
for (let i = 0; i < 300; i++) {
  try { if ((await fetch(`${base}/readyz`)).ok) break; } catch {}
  await sleep(50);
}

// One console command's JSON. A connection the busy machine did not
// complete (exit 3) is tried again, up to three times.
const consoleCmd = (...args) => {
  for (let attempt = 1; ; attempt++) {
    try {
      return JSON.parse(execFileSync(sluice, ["console", `127.0.0.1:${admin}`, "-c", args.join(" ")],
        { env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }));
    } catch (e) {
      if (e.status !== 3 || attempt === 3) throw e;
      console.log(`console ${args.join(" ")}: unreachable (attempt ${attempt}; node exit ${node.exitCode})`);
      execFileSync("sleep", ["0.5"]);
    }
  }
};
const metrics = async () => {
  const text = await (await fetch(`${base}/metrics`)).text();
  const m = new Map();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const i = line.lastIndexOf(" ");
    m.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return m;
};
const post = (events, auth = token) => fetch(`${base}/v1/events`, {
  method: "POST", headers: { "Content-Type": "application/json", Authorization: `Bearer ${auth}` },
  body: JSON.stringify(events),
});
const npmEvent = (name, downloads) => ({
  topic: "registry", key: `npm/${name}`,
  payload: { name, version: "1.0.0", downloads_a_month: String(downloads), summary: "from the dashboard test" },
  attributes: { ecosystem: "npm", format: "tsv" },
});
const drained = async () => {
  for (let i = 0; i < 600; i++) {
    const s = consoleCmd("stages").stages;
    if (s.every((x) => x.queued_normal + x.queued_urgent + x.in_flight === 0) && !s.some((x) => x.paused)) return s;
    await sleep(100);
  }
  throw new Error("the pipeline did not drain");
};

const browser = await launch({ defaultViewport: { width: 1360, height: 900 } });
const consoleErrors = [];
const watch = (page, who) => {
  page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(`${who}: ${m.text()}`); });
  page.on("pageerror", (e) => consoleErrors.push(`${who}: ${e.message}`));
  page.on("response", (r) => { if (r.status() >= 400) consoleErrors.push(`${who}: ${r.status()} ${r.url()}`); });
};
const shot = async (page, name) => { if (shots) await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true }); };
const text = (page, sel) => page.$eval(sel, (e) => e.textContent.trim());
const num = (s) => Number(String(s).replace(/[^0-9.\-]/g, ""));
const waitSamples = async (page, n) => {
  const start = await page.evaluate(() => Number(document.body.dataset.samples || 0));
  await page.waitForFunction((want) => Number(document.body.dataset.samples || 0) >= want, { timeout: 15000 }, start + n);
};
// The cells of the overview's stage table, by stage and column.
const stageCells = (page) => page.$$eval("#view table tbody tr", (rows) => rows.map((r) => {
  const o = {};
  for (const td of r.querySelectorAll("td")) o[td.dataset.col] = td.textContent.trim();
  return o;
}));

// Three members from examples/cluster on free ports: the members view of
// one shows every member and the shard owners as its console says.
async function clusterMembers() {
  const dir = `${work}/cluster`;
  mkdirSync(dir);
  writeFileSync(`${dir}/secret`, "cluster-secret-" + Date.now() + "\n", { mode: 0o600 });
  const seeds = [await freePort(), await freePort(), await freePort()];
  const https = { a: await freePort(), b: await freePort(), c: await freePort() };
  const members = [];
  for (const n of ["a", "b", "c"]) {
    let yaml = readFileSync(`${src}/examples/cluster/${n}.yaml`, "utf8")
      .replaceAll("/usr/share/sluice/examples", `${src}/examples`)
      .replaceAll("/var/lib/sluice", dir)
      .replaceAll("/etc/sluice/cluster.secret", `${dir}/secret`)
      .replace(/^http: .*$/m, `http: 127.0.0.1:${https[n]}`);
    seeds.forEach((p, i) => { yaml = yaml.replaceAll(`127.0.0.1:740${i + 1}`, `127.0.0.1:${p}`); });
    writeFileSync(`${dir}/${n}.yaml`, yaml);
    members.push(spawn(sluice, ["node", "--settings", `${dir}/${n}.yaml`], { env, stdio: ["ignore", "ignore", "ignore"] }));
  }
  try {
    const a = `http://127.0.0.1:${https.a}`;
    const ask = async (c) => (await fetch(`${a}/v1/dashboard/console?c=${c}`, { headers: { Authorization: `Bearer ${token}` } })).json();
    let nodes = null;
    for (let i = 0; i < 300; i++) {
      try {
        nodes = await ask("nodes");
        if (nodes.joined && nodes.nodes.length === 3 && nodes.nodes.every((m) => m.status === "up" && m.shards > 0)) break;
      } catch {}
      await sleep(100);
    }
    const page = await browser.newPage();
    watch(page, "cluster page");
    await page.goto(`${a}/#/members`);
    await page.waitForSelector("#login:not(.hidden)");
    await page.type("#login-token", token);
    await page.click("#login-form button");
    await page.waitForSelector("#sh-owned", { timeout: 15000 });
    const shards = await ask("shards");
    const names = await page.$$eval('#view td[data-col="name"]', (tds) => tds.map((t) => t.textContent.trim()).join(","));
    check("cluster: the members view lists every member", names === "a,b,c", names);
    const statuses = await page.$$eval('#view td[data-col="status"]', (tds) => tds.map((t) => t.textContent.trim()).join(","));
    check("cluster: every member up", statuses === "up,up,up", statuses);
    check("cluster: shards owned here as the console says", num(await text(page, "#sh-owned")) === shards.owned_here);
    const owners = await page.$$eval('#view td[data-col="member"]', (tds) => tds.map((t) => [t.textContent.trim(),
      t.parentElement.querySelector('td[data-col="shards"]').textContent.trim()]));
    check("cluster: the shard map's owners as the console says",
      JSON.stringify(Object.fromEntries(owners.map(([m, n]) => [m, num(n)]))) === JSON.stringify(shards.owners),
      JSON.stringify(owners));
    await shot(page, "members-cluster");
    await page.close();
  } finally {
    for (const m of members) m.kill("SIGTERM");
    await Promise.all(members.map((m) => new Promise((r) => (m.exitCode !== null ? r() : m.once("exit", r)))));
  }
}

try {
  // -- login -------------------------------------------------------------
  const page = await browser.newPage();
  watch(page, "page");
  await page.goto(`${base}/`);
  await page.waitForSelector("#login:not(.hidden)");
  check("without a session the page asks for a token", true);
  await page.type("#login-token", "not-the-token");
  await page.click("#login-form button");
  await page.waitForFunction(() => document.querySelector("#login-error").textContent.length > 0);
  check("a wrong token is refused on the form", (await text(page, "#login-error")).includes("not one the node knows"));
  consoleErrors.length = 0; // the refused login's 401 is expected
  await page.$eval("#login-token", (e) => { e.value = ""; });
  await page.type("#login-token", token);
  await page.click("#login-form button");
  await page.waitForSelector("#view[data-view=overview] .cards .card");
  const cookies = await page.cookies();
  const session = cookies.find((c) => c.name === "sluice_session");
  check("the session cookie is HttpOnly and SameSite=Strict", session && session.httpOnly && session.sameSite === "Strict",
    JSON.stringify(session));
  check("the token is not kept in the page", !(await page.content()).includes(token));

  // -- overview: counters move while events flow ------------------------
  await waitSamples(page, 1);
  const before = num(await text(page, "#ov-done"));
  let posting = true;
  const poster = (async () => {
    for (let i = 0; posting; i++) {
      await post(Array.from({ length: 50 }, (_, k) => npmEvent(`dash-flow-${i}-${k}`, 100 + k)));
      await sleep(100);
    }
  })();
  await waitSamples(page, 3);
  const after = num(await text(page, "#ov-done"));
  check("the overview's done counter moves while events flow", after > before, `${before} -> ${after}`);
  check("the overview shows a rate while events flow", num(await text(page, "#ov-rate-out")) > 0);
  posting = false;
  await poster;
  await drained();
  await waitSamples(page, 2);
  // Numbers against the console and /metrics at one moment (nothing moves now).
  const cs = consoleCmd("stages").stages;
  const m = await metrics();
  const cells = await stageCells(page);
  for (const s of cs) {
    const row = cells.find((r) => r.name === s.name) || {};
    check(`overview ${s.name}: done equals the console`, num(row.done) === s.done, `${row.done} vs ${s.done}`);
    check(`overview ${s.name}: in equals /metrics`, num(row.in) === m.get(`sluice_stage_in_total{stage="${s.name}"}`),
      `${row.in} vs ${m.get(`sluice_stage_in_total{stage="${s.name}"}`)}`);
    check(`overview ${s.name}: dead-lettered equals /metrics`,
      num(row.dead_lettered) === (m.get(`sluice_stage_failed_total{stage="${s.name}"}`) || 0));
  }
  check("overview: done summed equals the console", num(await text(page, "#ov-done")) === cs.reduce((a, s) => a + s.done, 0));
  check("overview: one member up", (await text(page, "#ov-members")) === "1 / 1");
  await shot(page, "overview");

  // -- pipeline graph -----------------------------------------------------
  await page.goto(`${base}/#/graph`);
  await page.waitForSelector("#graph svg g.stage");
  const drawn = await page.$$eval("#graph g.stage", (gs) => gs.map((g) => g.dataset.stage));
  check("graph: every stage drawn", drawn.join(",") === "parse,enrich,score", drawn.join(","));
  const topics = await page.$$eval("#graph g.topic", (gs) => gs.map((g) => g.dataset.topic));
  check("graph: every topic drawn", topics.join(",") === "registry,parsed,enriched", topics.join(","));
  check("graph: edges from topics to stages and on", (await page.$$("#graph path.edge")).length === 5);
  await shot(page, "graph");
  await page.click('#graph g.stage[data-stage="enrich"]');
  await page.waitForSelector("#view[data-view=stage] #st-done");
  check("graph: a click opens the stage", (await page.$eval("#stage-select", (e) => e.value)) === "enrich");

  // -- members and shards -------------------------------------------------
  await page.goto(`${base}/#/members`);
  await page.waitForSelector("#mem-store");
  await waitSamples(page, 1);
  const nodes = consoleCmd("nodes");
  const memberName = await page.$eval('#view td[data-col="name"]', (e) => e.textContent.trim());
  check("members: the node's name as the console says", memberName === nodes.nodes[0].name);
  const m2 = await metrics();
  check("members: commits equal /metrics", num(await text(page, "#mem-commits")) === m2.get("sluice_store_commits_total"),
    `${await text(page, "#mem-commits")} vs ${m2.get("sluice_store_commits_total")}`);
  await page.waitForFunction(() => document.querySelectorAll("#view table").length >= 2);
  check("members: the shard owner", (await page.content()).includes("a single node owns every key"));
  await shot(page, "members");

  // -- stage: pause from the page stops it --------------------------------
  await page.goto(`${base}/#/stage/score`);
  await page.waitForSelector("#st-done");
  await waitSamples(page, 1);
  check("stage: done equals the console", num(await text(page, "#st-done")) === consoleCmd("stages").stages[2].done);
  await page.click("#stage-pause");
  await page.waitForFunction(() => document.querySelector("#st-state").textContent === "paused", { timeout: 10000 });
  check("stage: the console says paused", consoleCmd("stages").stages[2].paused === true);
  const scoreIn = consoleCmd("stages").stages[2].in;
  await post([npmEvent("dash-paused", 4242)]);
  await sleep(1500);
  const paused = consoleCmd("stages").stages[2];
  check("stage: a paused stage takes nothing", paused.in === scoreIn && paused.queued_normal === 1,
    `in ${scoreIn} -> ${paused.in}, queued ${paused.queued_normal}`);
  await waitSamples(page, 1);
  check("stage: the page shows the queued event", num(await text(page, "#st-q-normal")) === 1);
  await shot(page, "stage");
  await page.click("#stage-pause"); // now "Resume"
  await page.waitForFunction(() => document.querySelector("#st-state").textContent === "running", { timeout: 10000 });
  await drained();
  check("stage: resumed, the event is done", consoleCmd("inspect", "score", "npm/dash-paused").key === "npm/dash-paused");
  check("the actions are on the audit trail with who did them",
    /pause score by console from 127\.0\.0\.1 \(dashboard\): done/.test(log) && /resume score by console/.test(log));

  // -- key ------------------------------------------------------------------
  await page.goto(`${base}/#/key/score/${encodeURIComponent("npm/1up")}`);
  await page.waitForSelector("#key-version");
  const k = consoleCmd("inspect", "score", "npm/1up");
  check("key: the state is what inspect says",
    JSON.stringify(JSON.parse(await text(page, "#key-state"))) === JSON.stringify(k.state));
  check("key: the version is what inspect says", num(await text(page, "#key-version")) === k.version);
  await page.waitForFunction(() => document.querySelectorAll('#view td[data-col="stage"]').length >= 3);
  const traced = await page.$$eval('#view td[data-col="stage"]', (tds) => tds.map((t) => t.textContent.trim()).join(","));
  check("key: the trace lists the stages as the console does", traced === consoleCmd("trace", "npm/1up").path.map((p) => p.stage).join(","), traced);
  await post([npmEvent("1up", 999999)]);
  await page.waitForFunction((v) => Number(document.querySelector("#key-version").textContent.replace(/\D/g, "")) > v,
    { timeout: 10000 }, k.version);
  // score keeps a changelog: the change arrives on the key's change feed.
  await page.waitForSelector("#key-changes tbody tr", { timeout: 10000 });
  const change = await page.$$eval("#key-changes tbody tr td", (tds) => tds.map((t) => t.textContent.trim()));
  check("key: the change shows up live, with its version", num(change[1]) === consoleCmd("inspect", "score", "npm/1up").version
    && change[2] === "change", change.join(" | "));
  await shot(page, "key");

  // -- dead letters: redrive after the mistake is mended -------------------
  // The mistaken topology, applied from the Pipeline view: its diff first.
  await page.goto(`${base}/#/graph`);
  await page.waitForSelector("#topo-path");
  await page.type("#topo-path", `${work}/broken.yaml`);
  await page.click("#topo-diff");
  await page.waitForSelector("#topo-result pre");
  check("pipeline: the diff of a topology file", (await text(page, "#topo-result pre")).includes("stage parse: emits parsed -> enriched"),
    await text(page, "#topo-result"));
  await page.click("#topo-apply");
  await page.waitForFunction(() => document.querySelector("#topo-result").textContent.startsWith("applied"), { timeout: 15000 });
  check("pipeline: applied from the page", /topology apply \S+broken\.yaml by console from 127\.0\.0\.1 \(dashboard\): done/.test(log));
  await shot(page, "graph-topology");
  await post([npmEvent("dash-redrive", 31337)]);
  let dead = [];
  for (let i = 0; i < 100 && dead.length === 0; i++) {
    dead = consoleCmd("dlq", "list", "--key", "npm/dash-redrive").dead_letters;
    await sleep(100);
  }
  check("a dead letter from the mistaken topology", dead.length === 1);
  consoleCmd("topology", "apply", `${example}/pipeline.yaml`);
  await page.goto(`${base}/#/dlq`);
  await page.waitForSelector("#dlq-list table");
  const listed = await page.$$eval("#dlq-list tbody tr", (rows) => rows.length);
  check("dlq: the page lists what the console lists", listed === consoleCmd("dlq", "list").dead_letters.length);
  await page.click(`#dlq-list tbody tr:has(input[data-id="${dead[0].id}"]) td[data-col="key"]`);
  await page.waitForSelector("#dlq-detail");
  check("dlq: one shown with its error", (await text(page, "#dlq-detail")).includes("enriched"));
  await shot(page, "dlq");
  await page.click(`input[data-id="${dead[0].id}"]`);
  await page.click("#dlq-redrive");
  await page.waitForFunction(() => document.querySelector("#dlq-result").textContent.startsWith("redrive"));
  check("dlq: the redrive's result is shown", (await text(page, "#dlq-result")).includes("redriven"),
    await text(page, "#dlq-result"));
  await drained();
  await page.goto(`${base}/#/key/score/${encodeURIComponent("npm/dash-redrive")}`);
  await page.waitForFunction(() => document.querySelector("#key-state") && document.querySelector("#key-state").textContent.includes("dash-redrive"), { timeout: 10000 });
  check("dlq: the redriven key's new state shows on the page",
    JSON.stringify(JSON.parse(await text(page, "#key-state"))) === JSON.stringify(consoleCmd("inspect", "score", "npm/dash-redrive").state));
  check("dlq: the redrive is on the audit trail", /dlq redrive \S+ by console from 127\.0\.0\.1 \(dashboard\): done/.test(log));

  // -- subscribers ----------------------------------------------------------
  const feed = await page.evaluate(() => { window.es = new EventSource("/v1/feed/score"); return true; });
  await page.goto(`${base}/#/subscribers`);
  await page.evaluate(() => { window.es2 = new EventSource("/v1/feed/score?prefix=npm/"); });
  // The page reads `subscribers` every 2 s; a stream closed a moment ago
  // (the Key view's) leaves the console's list at its next heartbeat.
  let rows = -1, listed2 = -2;
  for (let i = 0; i < 100 && !(rows === listed2 && rows >= 2); i++) {
    await sleep(200);
    rows = await page.$$eval("#subs-list tbody tr", (r) => r.length);
    listed2 = consoleCmd("subscribers").subscribers.length;
  }
  check("subscribers: the page lists the console's subscribers", feed && rows === listed2 && rows >= 2, `${rows} vs ${listed2}`);
  await shot(page, "subscribers");

  // -- refusals -------------------------------------------------------------
  // A read-only token: the page shows, the actions are refused.
  const ro = await browser.createBrowserContext();
  const rpage = await ro.newPage();
  watch(rpage, "read-only page");
  await rpage.goto(`${base}/#/stage/parse`);
  await rpage.waitForSelector("#login:not(.hidden)");
  await rpage.type("#login-token", viewer);
  await rpage.click("#login-form button");
  await rpage.waitForSelector("#stage-pause");
  check("read-only: the pause button is disabled", await rpage.$eval("#stage-pause", (b) => b.disabled));
  const roPost = await rpage.evaluate(async () => {
    const s = await (await fetch("/v1/dashboard/session")).json();
    const r = await fetch("/v1/dashboard/console", { method: "POST", headers: { "Content-Type": "application/json", "X-Sluice-CSRF": s.csrf },
      body: JSON.stringify({ command: "pause", args: ["parse"] }) });
    return r.status;
  });
  check("read-only: a pause is refused 403", roPost === 403, String(roPost));
  consoleErrors.splice(0, consoleErrors.length, ...consoleErrors.filter((e) => !e.includes("403")));
  await ro.close();
  // No session at all.
  const anon = await fetch(`${base}/v1/dashboard/console`, { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ command: "pause", args: ["parse"] }) });
  check("without the token: an action is refused 401", anon.status === 401);
  // The session cookie without the CSRF header, and from another origin.
  const cookie = `sluice_session=${session.value}`;
  const noCsrf = await fetch(`${base}/v1/dashboard/console`, { method: "POST", headers: { Cookie: cookie, "Content-Type": "application/json" },
    body: JSON.stringify({ command: "pause", args: ["parse"] }) });
  check("the session without its CSRF header is refused 403", noCsrf.status === 403);
  const csrf = await page.evaluate(async () => (await (await fetch("/v1/dashboard/session")).json()).csrf);
  const evilOrigin = await fetch(`${base}/v1/dashboard/console`, { method: "POST",
    headers: { Cookie: cookie, "X-Sluice-CSRF": csrf, Origin: "http://evil.example", "Content-Type": "application/json" },
    body: JSON.stringify({ command: "pause", args: ["parse"] }) });
  check("another origin with the session is refused 403", evilOrigin.status === 403);
  const evilLogin = await fetch(`${base}/v1/dashboard/login`, { method: "POST",
    headers: { Origin: "http://evil.example", "Content-Type": "text/plain" }, body: JSON.stringify({ token }) });
  check("a login from another origin is refused 403 (no cookie)", evilLogin.status === 403 && !evilLogin.headers.get("set-cookie"));
  // A forged cross-site POST from another site's page, in the browser
  // that is logged in: a form and a fetch with credentials.
  const evilPort = await freePort();
  const evil = http.createServer((req, res) => {
    res.setHeader("Content-Type", "text/html");
    res.end(`<!doctype html><form id="f" method="POST" action="${base}/v1/dashboard/console" enctype="text/plain">
      <input name='{"command":"pause","args":["parse"],"x":"' value='"}'></form>
      <script>fetch("${base}/v1/dashboard/console", {method: "POST", credentials: "include", mode: "no-cors",
        headers: {"Content-Type": "text/plain"}, body: JSON.stringify({command: "pause", args: ["enrich"]})})
        .finally(() => document.getElementById("f").submit());</script>`);
  }).listen(evilPort, "127.0.0.2");
  const epage = await browser.newPage();
  await epage.goto(`http://127.0.0.2:${evilPort}/`);
  await sleep(1500);
  await epage.close();
  evil.close();
  const afterForgery = consoleCmd("stages").stages;
  check("a forged cross-site POST paused nothing", afterForgery.every((s) => !s.paused),
    afterForgery.map((s) => `${s.name}:${s.paused}`).join(","));
  check("forged requests are on the audit trail", /refused POST \/v1\/dashboard\/console by anonymous from 127\.0\.0\.1/.test(log));

  // Bad requests get a clear answer naming what is wrong.
  const bearer = { Authorization: `Bearer ${token}` };
  const bad = async (path, init) => { const r = await fetch(`${base}${path}`, init); return [r.status, (await r.json()).error || ""]; };
  let [st, why] = await bad("/v1/dashboard/console", { method: "POST", headers: bearer, body: "pause score" });
  check("an action body that is not JSON: 400 naming the shape", st === 400 && why.includes('{"command"'), `${st} ${why}`);
  [st, why] = await bad("/v1/dashboard/console", { method: "POST", headers: bearer, body: JSON.stringify({ command: "leave" }) });
  check("an action the page may not run: 400 naming those it may", st === 400 && why.includes("dlq redrive, dlq drop, topology apply"), `${st} ${why}`);
  [st, why] = await bad("/v1/dashboard/console?c=bogus", { headers: bearer });
  check("an unknown read command: 400", st === 400 && why.includes("'bogus'"), `${st} ${why}`);
  [st, why] = await bad("/v1/dashboard/console?c=inspect&a=score", { headers: bearer });
  check("inspect without its key: 400 with the usage", st === 400 && why.length > 0, `${st} ${why}`);
  [st, why] = await bad("/v1/dashboard/console?c=inspect&a=score&a=npm/no-such-key", { headers: bearer });
  check("an unknown key: 409 naming it", st === 409 && why.includes("npm/no-such-key"), `${st} ${why}`);
  [st, why] = await bad("/v1/dashboard/login", { method: "POST", body: "{\"tok" });
  check("a malformed login: 400", st === 400 && why.includes("token"), `${st} ${why}`);
  [st, why] = await bad("/dashboard/nothing.js", {});
  check("an unknown file: 404 naming it", st === 404 && why.includes("nothing.js"), `${st} ${why}`);

  // -- logout ---------------------------------------------------------------
  await page.goto(`${base}/#/overview`);
  await page.waitForSelector("#logout:not(.hidden)");
  await page.click("#logout");
  await page.waitForSelector("#login:not(.hidden)");
  const ended = await fetch(`${base}/v1/dashboard/stream`, { headers: { Cookie: cookie } });
  check("after logout the session is gone", ended.status === 401, String(ended.status));

  await clusterMembers();
  check("no console errors on any view", consoleErrors.length === 0, consoleErrors.join(" | "));
} catch (e) {
  check("the test ran to its end", false, e.stack || String(e));
  console.log(`node exit: ${node.exitCode} ${node.signalCode}; its log ends:\n${log.split("\n").slice(-30).join("\n")}`);
} finally {
  await browser.close();
  node.kill("SIGTERM");
}
done();
