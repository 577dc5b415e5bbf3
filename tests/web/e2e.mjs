// End-to-end tests in headless Chromium (Debian's, driven by playwright-core):
// the dashboard over a store and the report file opened from disk, each
// walked as an analyst would: filter by host, open the incident, see its
// process tree, change its triage state, reload and find it kept. Runs on
// the store of a real hunt of demo/ and on a synthetic store with incidents
// and deep process trees (bench_store). Screenshots go to OUT.
// A store with a 10,000-alert incident crossing a new year (BIG_DB) tests
// the grouped and paged incident view and the chart's axis. A store with a
// fleet incident (FLEET_DB) tests its view host by host.
//   node e2e.mjs OUT DEMO_DB DEMO_REPORT SYNTH_DB SYNTH_REPORT BIG_DB BIG_REPORT [FLEET_DB FLEET_REPORT]
// E2E_ONLY=TEXT runs only the checks whose name holds TEXT (while working).
import { chromium } from 'playwright-core';
import { spawnSync } from 'node:child_process';
import { copyFileSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { check, counts, assert, eq, serve, sql, STOAT } from './lib.mjs';

const [OUT, DEMO_DB, DEMO_REPORT, SYNTH_DB, SYNTH_REPORT, BIG_DB, BIG_REPORT, FLEET_DB, FLEET_REPORT] = process.argv.slice(2);
const ONLY = process.env.E2E_ONLY || '';
function checkIf(name, fn) { return !ONLY || name.includes(ONLY) ? check(name, fn) : Promise.resolve(); }

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

// A fresh profile per context: nothing carries over between the flows.
async function newPage() {
  const ctx = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await ctx.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('console', (m) => { if (m.type() === 'error') problems.push('console: ' + m.text()); });
  // The report must not touch the network; the dashboard only its own origin.
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith('file://') && !u.startsWith('data:') && !/^http:\/\/127\.0\.0\.1:\d+\//.test(u)) problems.push('request to ' + u);
  });
  return { ctx, page, problems };
}

// Every check waits for the state it then reads, never for a moment: the
// page is drawn asynchronously (and the dashboard redraws itself when the
// store changes), so a check that reads right after an action can read the
// page as it was before it.

// The view drawn for the page's current address (app.js sets data-hash with
// data-ready): after a change of address the view of the address before is
// still there until the new one is drawn.
async function ready(page, view) {
  await page.waitForFunction((v) => document.body.getAttribute('data-ready') === v &&
    document.body.getAttribute('data-hash') === location.hash, view, { timeout: 15000 });
}

// Waits until fn (run in the page with arg) is true; on a timeout the error
// says what was expected and what the page showed last (show, also run in
// the page).
async function until(page, what, fn, arg, show) {
  try {
    await page.waitForFunction(fn, arg, { timeout: 15000 });
  } catch (e) {
    const seen = show ? await page.evaluate(show, arg).catch(() => '?') : '';
    throw new Error(`${what}${show ? ': the page shows ' + JSON.stringify(seen) : ''} (${e.message.split('\n')[0]})`);
  }
}

// The flow the issue asks for. host: the host to filter by (null: the host
// of the first incident). Returns after the triage state survived a reload.
async function incidentFlow(page, url, label, host) {
  await page.goto(url + '#/incidents');
  await ready(page, 'incidents');
  const options = await page.$$eval('#f-host option', (os) => os.map((o) => o.value).filter(Boolean));
  assert(options.length > 0, 'the host filter lists hosts');
  if (!host) {
    const first = await page.$('.inc');
    assert(first, 'at least one incident');
    host = (await first.$eval('.meta b', (b) => b.textContent));
  }
  assert(options.includes(host), `host ${host} in the filter`);
  await page.selectOption('#f-host', host);
  await until(page, `the address filters by ${host}`, (h) => location.hash.includes('host=' + encodeURIComponent(h)), host,
    () => location.hash);
  await ready(page, 'incidents');
  // the list drawn for the filtered address: its incidents, all of that host
  await until(page, `only incidents of ${host} after filtering`, (h) => {
    const bs = Array.from(document.querySelectorAll('.inc .meta b'));
    return bs.length > 0 && bs.every((b) => b.textContent === h);
  }, host, () => Array.from(document.querySelectorAll('.inc .meta b')).map((b) => b.textContent).slice(0, 5));
  const hosts = await page.$$eval('.inc .meta b', (bs) => bs.map((b) => b.textContent));
  assert(hosts.length > 0, `incidents on ${host}`);
  assert(hosts.every((h) => h === host), 'only incidents of that host after filtering');
  const href = await page.$eval('.inc .title a', (a) => a.getAttribute('href'));
  await page.click('.inc .title a');
  await until(page, `the address of the incident ${href}`, (hr) => location.hash === hr, href, () => location.hash);
  await ready(page, 'incident');
  const id = await page.$eval('#incident-view', (e) => e.getAttribute('data-id'));
  const timeline = await page.$$('#incident-timeline li');
  assert(timeline.length > 0, 'the chain has alerts on its timeline');
  const nodes = await page.$$('#ptree .pnode');
  assert(nodes.length >= 2, `a process tree (${nodes.length} processes)`);
  const hits = await page.$$('#ptree .pnode.hit');
  assert(hits.length >= 1, 'alerted processes are marked in the tree');
  await page.screenshot({ path: `${OUT}/${label}-incident.png`, fullPage: true });
  // triage
  await page.selectOption('#triage-state', '1');
  await page.fill('#triage-note', `checked by the ${label} test`);
  await page.fill('#triage-who', 'e2e');
  await page.click('#triage-save');
  await until(page, 'the state saved', () => (document.querySelector('.triage-current') || {}).textContent === 'acknowledged',
    null, () => (document.querySelector('.triage-current') || {}).textContent);
  await page.reload();
  await ready(page, 'incident');
  eq(await page.$eval('.triage-current', (e) => e.textContent), 'acknowledged', 'state after a reload');
  const hist = await page.$eval('.hist', (e) => e.textContent);
  assert(hist.includes(`checked by the ${label} test`) && hist.includes('e2e'), 'note and name in the history');
  return { id, host };
}

async function alertFlow(page, url, label, host) {
  await page.goto(url + '#/alerts?host=' + encodeURIComponent(host));
  await ready(page, 'alerts');
  const cells = await page.$$eval('#alerts-table tr[data-alert] td:nth-child(3)', (tds) => tds.map((t) => t.textContent));
  assert(cells.length > 0, 'alerts of the host');
  assert(cells.every((h) => h === host), 'only that host');
  const href = await page.$eval('#alerts-table tr[data-alert] td:nth-child(4) a', (a) => a.getAttribute('href'));
  await page.click('#alerts-table tr[data-alert] td:nth-child(4) a');
  await until(page, `the address of the alert ${href}`, (hr) => location.hash === hr, href, () => location.hash);
  await ready(page, 'alert');
  const fields = await page.$$('#alert-fields dt');
  assert(fields.length > 0, 'the event fields are shown');
  await page.screenshot({ path: `${OUT}/${label}-alert.png`, fullPage: true });
  return fields.length;
}

async function overview(page, url, label) {
  await page.goto(url);
  await ready(page, 'overview');
  assert(await page.$('.chart svg rect'), 'the chart has bars');
  assert(await page.$('#attack-matrix .cell'), 'the ATT&CK matrix has cells');
  await page.screenshot({ path: `${OUT}/${label}-overview.png`, fullPage: true });
  return page.$eval('#total-alerts', (e) => e.textContent);
}

function noProblems(problems) { eq(problems.join('; '), '', 'page errors and foreign requests'); }

// ------------------------------------------------------------ synthetic store

const srv = await serve(SYNTH_DB);
const LIVE = srv.base + '/';
try {
  await checkIf('dashboard (synthetic): overview with chart and ATT&CK matrix', async () => {
    const { ctx, page, problems } = await newPage();
    await overview(page, LIVE, 'dashboard-synthetic');
    noProblems(problems);
    await ctx.close();
  });
  await checkIf('dashboard (synthetic): filter by host, open the incident, process tree, triage kept', async () => {
    const { ctx, page, problems } = await newPage();
    const { id } = await incidentFlow(page, LIVE, 'dashboard-synthetic', 'srv07.corp.example');
    eq(sql(SYNTH_DB, `SELECT state FROM incidents WHERE id = ${+id}`), '1', 'state in the store');
    eq(sql(SYNTH_DB, `SELECT who FROM triage WHERE kind = 1 AND target_id = ${+id} ORDER BY id DESC LIMIT 1`), 'e2e', 'who in the store');
    noProblems(problems);
    await ctx.close();
  });
  await checkIf('dashboard (synthetic): alerts filtered by host, an alert with its event', async () => {
    const { ctx, page, problems } = await newPage();
    await alertFlow(page, LIVE, 'dashboard-synthetic', 'ws04.corp.example');
    noProblems(problems);
    await ctx.close();
  });
  await checkIf('dashboard (synthetic): hostile text in the page stays text', async () => {
    const { ctx, page, problems } = await newPage();
    await page.goto(LIVE + '#/alerts?q=' + encodeURIComponent('<img src=x onerror=alert(1)>'));
    await ready(page, 'alerts');
    eq(await page.$('img'), null, 'no element made from the search text');
    noProblems(problems);
    await ctx.close();
  });
} finally {
  await srv.stop();
}

await checkIf('report (synthetic, from disk): filter by host, open the incident, process tree, triage kept', async () => {
  const { ctx, page, problems } = await newPage();
  const url = 'file://' + resolve(SYNTH_REPORT);
  await overview(page, url, 'report-synthetic');
  await incidentFlow(page, url, 'report-synthetic', 'srv07.corp.example');
  await alertFlow(page, url, 'report-synthetic', 'ws04.corp.example');
  noProblems(problems);
  await ctx.close();
});

// ------------------------------------------------------------ live updates

await checkIf('dashboard: new alerts written to the served store appear without a reload', async () => {
  const copy = `${OUT}/live.db`;
  // a WAL left beside an older copy would be read into this one
  for (const x of ['', '-wal', '-shm']) rmSync(copy + x, { force: true });
  copyFileSync(DEMO_DB, copy);
  const s = await serve(copy);
  const { ctx, page, problems } = await newPage();
  try {
    const before = await overview(page, s.base + '/', 'dashboard-live');
    const r = spawnSync(STOAT, ['hunt', '-q', 'demo/', '--db', copy, '-o', '/dev/null'], { encoding: 'utf8' });
    eq(r.status, 0, 'second hunt into the served store: ' + r.stderr);
    // the page redraws on its own; it may first show a part of the second
    // hunt (a commit while it ran): wait for all of it
    const want = 2 * +before.replace(/,/g, '');
    await until(page, `twice the alerts (${want})`, (w) => {
      const e = document.querySelector('#total-alerts');
      return !!e && +e.textContent.replace(/,/g, '') === w;
    }, want, () => (document.querySelector('#total-alerts') || {}).textContent);
    const after = await page.$eval('#total-alerts', (e) => e.textContent);
    eq(+after.replace(/,/g, ''), want, 'twice the alerts');
    noProblems(problems);
  } finally { await ctx.close(); await s.stop(); }
});

// A correlation's alert (the rule pack's discovery burst fires on demo/):
// its view shows type, value, window and group, and the matches it counted.
const demoCorr = sql(DEMO_DB, 'SELECT alert_id FROM correlations ORDER BY alert_id LIMIT 1');
async function correlationFlow(page, url, label) {
  assert(demoCorr, 'the demo hunt stored a correlation');
  await page.goto(url + '#/alert/' + demoCorr);
  await ready(page, 'alert');
  const kv = await page.$$eval('#corr-detail dt', (ds) => ds.map((d) => d.textContent));
  for (const k of ['type', 'value', 'window']) assert(kv.includes(k), `the correlation's ${k} is shown`);
  assert(kv.some((k) => k.startsWith('group: ')), 'its group is shown');
  const ev = await page.$$('#corr-evidence li');
  const linked = await page.$$('#corr-alerts li a');
  assert(ev.length + linked.length > 0, 'the matches or alerts it joins are listed');
  await page.screenshot({ path: `${OUT}/${label}-correlation.png`, fullPage: true });
}

// ------------------------------------------------------------ the demo hunt

const demoIncidents = +sql(DEMO_DB, 'SELECT count(*) FROM incidents');
const demoHost = demoIncidents ? sql(DEMO_DB, 'SELECT h.name FROM incidents i JOIN hosts h ON h.id = i.host_id ORDER BY i.level DESC, i.score DESC LIMIT 1')
  : sql(DEMO_DB, 'SELECT name FROM hosts ORDER BY id LIMIT 1');
const NEEDS = demoIncidents ? '' : ' [needs incidents from the correlation work: the demo store has none yet]';

const demo = await serve(DEMO_DB);
try {
  await checkIf('dashboard (demo hunt): overview, alerts of one host with their events', async () => {
    const { ctx, page, problems } = await newPage();
    await overview(page, demo.base + '/', 'dashboard-demo');
    await alertFlow(page, demo.base + '/', 'dashboard-demo', demoHost);
    noProblems(problems);
    await ctx.close();
  });
  await checkIf('dashboard (demo hunt): a correlation alert with its type, value, window, group and matches', async () => {
    const { ctx, page, problems } = await newPage();
    await correlationFlow(page, demo.base + '/', 'dashboard-demo');
    noProblems(problems);
    await ctx.close();
  });
  await checkIf('dashboard (demo hunt): filter by host, open the incident, process tree, triage kept' + NEEDS, async () => {
    const { ctx, page, problems } = await newPage();
    try {
      const { id } = await incidentFlow(page, demo.base + '/', 'dashboard-demo', demoHost);
      eq(sql(DEMO_DB, `SELECT state FROM incidents WHERE id = ${+id}`), '1', 'state in the store');
      noProblems(problems);
    } finally {
      await page.screenshot({ path: `${OUT}/dashboard-demo-last.png`, fullPage: true }).catch(() => {});
      await ctx.close();
    }
  });
} finally {
  await demo.stop();
}

await checkIf('report (demo hunt, from disk): overview, alerts of one host', async () => {
  const { ctx, page, problems } = await newPage();
  const url = 'file://' + resolve(DEMO_REPORT);
  await overview(page, url, 'report-demo');
  await alertFlow(page, url, 'report-demo', demoHost);
  noProblems(problems);
  await ctx.close();
});

await checkIf('report (demo hunt, from disk): a correlation alert with its type, value, window, group and matches', async () => {
  const { ctx, page, problems } = await newPage();
  await correlationFlow(page, 'file://' + resolve(DEMO_REPORT), 'report-demo');
  noProblems(problems);
  await ctx.close();
});

await checkIf('report (demo hunt, from disk): filter by host, open the incident, process tree, triage kept' + NEEDS, async () => {
  const { ctx, page, problems } = await newPage();
  try {
    await incidentFlow(page, 'file://' + resolve(DEMO_REPORT), 'report-demo', demoHost);
    noProblems(problems);
  } finally {
    await ctx.close();
  }
});

// ------------------------------------------------------------ ATT&CK matrix

// Where each technique cell sits (its column's tactic) and whether the
// matrix fits: no column right of the window, no sideways scroll.
async function matrixAt(page, url, width, label) {
  await page.setViewportSize({ width, height: 1000 });
  await page.goto(url + '#/attack');
  await ready(page, 'attack');
  await page.screenshot({ path: `${OUT}/${label}-attack-${width}.png`, fullPage: true });
  return page.evaluate(() => {
    const m = document.querySelector('#attack-matrix');
    const cols = Array.from(m.querySelectorAll('.col'));
    const where = {};
    m.querySelectorAll('.cell[data-technique]').forEach((c) => {
      const t = c.getAttribute('data-technique');
      if (!t) return;
      (where[t] = where[t] || []).push(c.closest('.col').getAttribute('data-tactic'));
    });
    return {
      tactics: cols.map((c) => c.getAttribute('data-tactic')),
      outside: cols.filter((c) => { const r = c.getBoundingClientRect(); return r.left < 0 || r.right > window.innerWidth + 0.5; })
        .map((c) => c.getAttribute('data-tactic')),
      scroll: document.scrollingElement.scrollWidth - window.innerWidth,
      matrixScroll: m.scrollWidth - m.clientWidth,
      where,
      unnamed: Array.from(m.querySelectorAll('.cell[data-technique]')).filter((c) => c.getAttribute('data-technique') &&
        !(c.querySelector('.tname') || {}).textContent).map((c) => c.getAttribute('data-technique')),
    };
  });
}
async function matrixFlow(url, label) {
  const { ctx, page, problems } = await newPage();
  try {
    for (const width of [1280, 1600, 2200]) {
      const m = await matrixAt(page, url, width, label);
      for (const t of ['initial-access', 'execution', 'persistence', 'stealth', 'credential-access', 'exfiltration', 'command-and-control', 'impact'])
        assert(m.tactics.includes(t), `tactic ${t} has a column (${m.tactics.join(', ')})`);
      eq(m.outside.join(', '), '', `tactics beyond the window at ${width} px`);
      assert(m.scroll <= 0 && m.matrixScroll <= 0, `no sideways scroll at ${width} px (page ${m.scroll}, matrix ${m.matrixScroll})`);
      eq(m.unnamed.join(', '), '', `technique cells without a name at ${width} px`);
      // the demo's rules tag T1105 with defense evasion and exfiltration too: it is command and control only
      eq(JSON.stringify(m.where.T1105), JSON.stringify(['command-and-control']), 'T1105 under its own tactic only');
      eq(JSON.stringify(m.where.T1048), JSON.stringify(['exfiltration']), 'T1048 under its own tactic only');
      eq(JSON.stringify(m.where['T1059.004']), JSON.stringify(['execution']), 'T1059.004 under its own tactic only');
    }
    const name = await page.$eval('#attack-matrix .cell[data-technique="T1105"] .tname', (e) => e.textContent);
    eq(name, 'Ingress Tool Transfer', 'T1105 named');
    noProblems(problems);
  } finally { await ctx.close(); }
}
{
  const s = await serve(DEMO_DB);
  try {
    await checkIf('ATT&CK matrix (dashboard, demo hunt): names, each technique under its own tactics, every tactic in sight at 1280-2200 px',
      () => matrixFlow(s.base + '/', 'dashboard-demo'));
  } finally { await s.stop(); }
  await checkIf('ATT&CK matrix (report, demo hunt): names, each technique under its own tactics, every tactic in sight at 1280-2200 px',
    () => matrixFlow('file://' + resolve(DEMO_REPORT), 'report-demo'));
}

// ------------------------------------------------------------ a big incident, a new year

const BIG = BIG_DB ? +sql(BIG_DB, 'SELECT id FROM incidents ORDER BY nalerts DESC, id LIMIT 1') : 0;
const BIG_N = BIG ? +sql(BIG_DB, `SELECT count(*) FROM incident_alerts WHERE incident_id = ${BIG}`) : 0;
const BIG_RULES = BIG ? +sql(BIG_DB, `SELECT count(DISTINCT a.rule_id) FROM incident_alerts ia JOIN alerts a ON a.id = ia.alert_id WHERE ia.incident_id = ${BIG}`) : 0;
const bigOrder = BIG ? sql(BIG_DB, `SELECT a.id FROM incident_alerts ia JOIN alerts a ON a.id = ia.alert_id WHERE ia.incident_id = ${BIG} ORDER BY a.time_ns, a.id`).split('\n').map(Number) : [];

async function bigIncidentFlow(page, url, label) {
  await page.goto(url + '#/incident/' + BIG);
  await ready(page, 'incident');
  const v = await page.evaluate(() => ({
    rules: document.querySelectorAll('#incident-groups tr.grp-rule').length,
    sum: Array.from(document.querySelectorAll('#incident-groups tr.grp-rule td.n')).reduce((s, td) => s + +td.textContent.replace(/,/g, ''), 0),
    trees: document.querySelectorAll('#incident-groups tr.grp-tree').length,
    unseen: Array.from(document.querySelectorAll('#incident-groups tr.grp-tree')).some((tr) => /process not in the logs \(pid \d+\)/.test(tr.textContent)),
    items: document.querySelectorAll('#incident-timeline li').length,
    first: +(document.querySelector('#incident-timeline li') || { getAttribute: () => 0 }).getAttribute('data-alert'),
    pager: (document.querySelector('#incident-page') || {}).textContent,
    elements: document.getElementsByTagName('*').length,
    groupsFirst: (() => { const g = document.querySelector('#incident-groups'), t = document.querySelector('#incident-timeline');
      return !!g && !!t && !!(g.compareDocumentPosition(t) & Node.DOCUMENT_POSITION_FOLLOWING); })(),
    treeUnseen: Array.from(document.querySelectorAll('#ptree .pnode.unseen')).map((n) => n.textContent),
  }));
  eq(v.rules, BIG_RULES, 'one group row per rule');
  eq(v.sum, BIG_N, 'the rule groups add up to the incident');
  assert(v.trees > 0, 'process-tree groups under the rules');
  assert(v.unseen, 'a tree whose top is not in the logs says so, with its pid');
  assert(v.groupsFirst, 'the groups come before the timeline');
  eq(v.items, 200, 'one page of the timeline');
  eq(v.first, bigOrder[0], 'the first alert in event time first');
  eq(v.pager, `alerts 1–200 of ${BIG_N.toLocaleString('en-US')}`, 'the page says where it is');
  assert(v.elements < 12000, `the page stays small (${v.elements} elements)`);
  assert(v.treeUnseen.some((t) => /process not in the logs/.test(t) && /pid \d+/.test(t)) && !v.treeUnseen.some((t) => /\?/.test(t)),
    `unknown processes in the tree say "not in the logs" with their pid (${v.treeUnseen.slice(0, 2).join(' | ')})`);
  await page.screenshot({ path: `${OUT}/${label}-big-incident.png`, fullPage: false });
  await page.click('#incident-next');
  await until(page, 'the second page', () => /alerts 201–400 of/.test((document.querySelector('#incident-page') || {}).textContent || ''), null,
    () => (document.querySelector('#incident-page') || {}).textContent);
  await ready(page, 'incident');
  const second = await page.$$eval('#incident-timeline li', (ls) => ls.map((l) => +l.getAttribute('data-alert')));
  eq(JSON.stringify(second), JSON.stringify(bigOrder.slice(200, 400)), 'the second page is the next 200 in event time');
  // a rule's group opens its alerts in the incident
  const href = await page.$eval('#incident-groups tr.grp-rule a', (a) => a.getAttribute('href'));
  const n = await page.$eval('#incident-groups tr.grp-rule td.n', (td) => td.textContent);
  await page.click('#incident-groups tr.grp-rule a');
  await until(page, 'the address of the group', (hr) => location.hash === hr, href, () => location.hash);
  await ready(page, 'alerts');
  const count = await page.$eval('#alert-count', (e) => e.textContent);
  eq(count.split(' ')[0], n, 'the group\'s alerts, listed');
}

async function yearAxis(page, url) {
  await page.goto(url);
  await ready(page, 'overview');
  const ticks = await page.$$eval('.chart svg text.axis', (ts) => ts.map((t) => t.textContent));
  assert(ticks.some((t) => /^2026-12-31 /.test(t)) && ticks.some((t) => /^2027-01-01 /.test(t)),
    `the axis names the years it crosses (${ticks.join(' | ')})`);
}

if (BIG) {
  const s = await serve(BIG_DB);
  try {
    await checkIf(`big incident (dashboard): ${BIG_N} alerts grouped by rule and tree first, then paged`, async () => {
      const { ctx, page, problems } = await newPage();
      try { await bigIncidentFlow(page, s.base + '/', 'dashboard'); noProblems(problems); } finally { await ctx.close(); }
    });
    await checkIf('timeline (dashboard): the axis shows the year when the alerts cross one', async () => {
      const { ctx, page, problems } = await newPage();
      try { await yearAxis(page, s.base + '/'); noProblems(problems); } finally { await ctx.close(); }
    });
  } finally { await s.stop(); }
  await checkIf(`big incident (report): ${BIG_N} alerts grouped by rule and tree first, then paged`, async () => {
    const { ctx, page, problems } = await newPage();
    try { await bigIncidentFlow(page, 'file://' + resolve(BIG_REPORT), 'report'); noProblems(problems); } finally { await ctx.close(); }
  });
  await checkIf('timeline (report): the axis shows the year when the alerts cross one', async () => {
    const { ctx, page, problems } = await newPage();
    try { await yearAxis(page, 'file://' + resolve(BIG_REPORT)); noProblems(problems); } finally { await ctx.close(); }
  });
}

// ------------------------------------------------------------ a fleet incident, host by host

const FLEET = FLEET_DB ? +sql(FLEET_DB, 'SELECT id FROM incidents WHERE hosts IS NOT NULL ORDER BY id LIMIT 1') : 0;

async function fleetIncidentFlow(page, url, label) {
  const hosts = JSON.parse(sql(FLEET_DB, `SELECT hosts FROM incidents WHERE id = ${FLEET}`));
  const per = {};
  sql(FLEET_DB, 'SELECT h.name || \'|\' || count(*) FROM incident_alerts ia JOIN alerts a ON a.id = ia.alert_id' +
    ` JOIN hosts h ON h.id = a.host_id WHERE ia.incident_id = ${FLEET} GROUP BY h.name`).split('\n').forEach((l) => {
    const [h, n] = l.split('|'); per[h] = +n;
  });
  const edges = JSON.parse(sql(FLEET_DB, `SELECT edges FROM incidents WHERE id = ${FLEET}`)).length;
  const parts = () => Array.from(document.querySelectorAll('.host-part')).map((p) => ({
    host: p.getAttribute('data-host'), items: p.querySelectorAll('ol.timeline li').length,
    nodes: p.querySelectorAll('.pnode').length, page: (p.querySelector('.host-page') || {}).textContent,
    prev: !!p.querySelector('.host-prev') }));
  await page.goto(url + '#/incident/' + FLEET);
  await ready(page, 'incident');
  const v = await page.evaluate(parts);
  eq(JSON.stringify(v.map((x) => x.host)), JSON.stringify(hosts), 'one part per host, in the order the chain reached them');
  for (const x of v) eq(x.items, per[x.host] || 0, `${x.host}: its alerts listed`);
  assert(v.some((x) => x.nodes > 0), 'the hosts\' process trees beside their alerts');
  eq(await page.$$eval('#incident-edges tr.edge', (rs) => rs.length), edges, 'the logons between the hosts');
  await page.screenshot({ path: `${OUT}/${label}-fleet-incident.png`, fullPage: true });
  // one host paged from its second alert; the others stay at their first
  const paged = hosts.find((h) => (per[h] || 0) >= 2);
  assert(paged, 'a host with two alerts or more');
  await page.goto(url + '#/incident/' + FLEET + '?' + new URLSearchParams({ host: paged, at: 1 }));
  await ready(page, 'incident');
  const w = await page.evaluate(parts);
  const x = w.find((y) => y.host === paged);
  eq(x.page, `alerts 2–${per[paged]} of ${per[paged]}`, `${paged}: the page says where it is`);
  eq(x.items, per[paged] - 1, `${paged}: the rest of its alerts`);
  assert(x.prev, `${paged}: a way back to its first page`);
  for (const y of w) if (y.host !== paged) eq(y.items, per[y.host] || 0, `${y.host}: still at its first page`);
}

if (FLEET) {
  const s = await serve(FLEET_DB);
  try {
    await checkIf('fleet incident (dashboard): hosts, logons, each host\'s alerts and process trees, paged by host', async () => {
      const { ctx, page, problems } = await newPage();
      try { await fleetIncidentFlow(page, s.base + '/', 'dashboard'); noProblems(problems); } finally { await ctx.close(); }
    });
  } finally { await s.stop(); }
  if (FLEET_REPORT) {
    await checkIf('fleet incident (report): hosts, logons, each host\'s alerts and process trees, paged by host', async () => {
      const { ctx, page, problems } = await newPage();
      try { await fleetIncidentFlow(page, 'file://' + resolve(FLEET_REPORT), 'report'); noProblems(problems); } finally { await ctx.close(); }
    });
  }
}

await browser.close();
const { passed, failed } = counts();
console.log(`e2e: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
