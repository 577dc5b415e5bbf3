// API tests of a big incident (bench_store --big-incident: one incident
// joining every alert of the store, 10,000 in the web tests): its document
// carries one page of alerts in event time with the trees of that page, and
// its alerts grouped by rule and by the top of their process tree; the pages
// of /api/incidents/ID/alerts together are exactly its alerts, in order. Each
// is checked against SQL. Also the overview's technique counts: each alert
// once per technique, whatever its rule's tactics.
//   node bigincident.mjs BIG_DB
import { check, counts, assert, eq, serve, req, sql } from './lib.mjs';

const DB = process.argv[2];
const BIG = +sql(DB, 'SELECT id FROM incidents ORDER BY nalerts DESC, id LIMIT 1');
const N = +sql(DB, `SELECT count(*) FROM incident_alerts WHERE incident_id = ${BIG}`);
const srv = await serve(DB);
const P = srv.port;

await check(`a ${N}-alert incident's document holds one page of alerts, not all`, async () => {
  assert(N >= 10000, `the big incident has ${N} alerts`);
  const r = await req(P, 'GET', `/api/incidents/${BIG}`);
  eq(r.status, 200, 'status');
  const d = r.json;
  eq(d.alerts.length, 200, 'alerts in the document');
  eq(d.total, N, 'total');
  eq(d.next, 200, 'next offset');
  const want = sql(DB, `SELECT a.id FROM incident_alerts ia JOIN alerts a ON a.id = ia.alert_id WHERE ia.incident_id = ${BIG}` +
    ' ORDER BY a.time_ns, a.id LIMIT 200').split('\n').map(Number);
  eq(JSON.stringify(d.alerts.map((a) => a.id)), JSON.stringify(want), 'the first 200 in event time');
  // the trees are those of the page's alerts: every alerted process of the page is in it, no other alerted one
  const inTree = new Set(d.tree.map((n) => n.id));
  assert(d.alerts.every((a) => a.proc == null || inTree.has(a.proc)), 'each alert of the page has its process in the tree');
  assert(d.tree.length < 2000, `the tree is the page's (${d.tree.length} processes)`);
});

await check('grouped by rule: every alert counted once, counts as in SQL', async () => {
  const d = (await req(P, 'GET', `/api/incidents/${BIG}`)).json;
  const want = sql(DB, `SELECT a.rule_id || ':' || count(*) FROM incident_alerts ia JOIN alerts a ON a.id = ia.alert_id` +
    ` WHERE ia.incident_id = ${BIG} GROUP BY a.rule_id ORDER BY a.rule_id`).split('\n');
  const got = d.by_rule.map((g) => g.rule + ':' + g.n).sort((x, y) => +x.split(':')[0] - +y.split(':')[0]);
  eq(JSON.stringify(got), JSON.stringify(want), 'alerts per rule');
  eq(d.by_rule.reduce((s, g) => s + g.n, 0), N, 'the groups add up to the incident');
  // a rule-and-tree group: its count is that rule's alerts whose process descends from the root
  const g = d.groups.find((x) => x.root && x.root.image);
  assert(g, 'a group under a known process');
  const under = sql(DB, `WITH RECURSIVE down(id) AS (SELECT ${g.root.id} UNION SELECT p.id FROM processes p JOIN down ON p.parent_id = down.id)` +
    ` SELECT count(*) FROM incident_alerts ia JOIN alerts a ON a.id = ia.alert_id WHERE ia.incident_id = ${BIG}` +
    ` AND a.rule_id = ${g.rule} AND a.process_id IN (SELECT id FROM down)`);
  eq(g.n, +under, `alerts of rule ${g.rule} under process ${g.root.id}`);
  assert(d.groups.some((x) => x.root && !x.root.image && x.root.seen === false), 'a tree whose top is not in the logs is grouped too');
});

await check('the pages of an incident\'s alerts are all of them, in event time, once each', async () => {
  const ids = [];
  let off = 0, pages = 0;
  while (off != null && pages < 100) {
    const r = await req(P, 'GET', `/api/incidents/${BIG}/alerts?offset=${off}&limit=1000`);
    eq(r.status, 200, `page at ${off}`);
    eq(r.json.total, N, 'total on every page');
    assert(r.json.alerts.length <= 1000, 'a page is at most the limit');
    r.json.alerts.forEach((a) => ids.push(a.id));
    off = r.json.next;
    pages++;
  }
  const want = sql(DB, `SELECT a.id FROM incident_alerts ia JOIN alerts a ON a.id = ia.alert_id WHERE ia.incident_id = ${BIG}` +
    ' ORDER BY a.time_ns, a.id').split('\n').map(Number);
  eq(ids.length, want.length, 'alerts over all pages');
  eq(JSON.stringify(ids), JSON.stringify(want), 'same alerts, same order');
});

await check('incident pages refuse other parameters and bad values', async () => {
  for (const [p, st] of [[`/api/incidents/${BIG}/alerts?rule=x`, 400], [`/api/incidents/${BIG}/alerts?limit=0`, 400],
    [`/api/incidents/${BIG}/alerts?limit=1001`, 400], [`/api/incidents/${BIG}/alerts?offset=-1`, 400],
    ['/api/incidents/999999/alerts', 404], [`/api/incidents/${BIG}/nosuch`, 404], [`/api/incidents/${BIG}?offset=1`, 400]]) {
    eq((await req(P, 'GET', p)).status, st, p);
  }
});

await check('overview: each technique counts its alerts once, whatever its rules\' tactics', async () => {
  const o = (await req(P, 'GET', '/api/overview')).json;
  const want = sql(DB, 'SELECT q.technique || \':\' || sum(c.n) FROM (SELECT rule_id, sum(n) n FROM count_rule GROUP BY rule_id) c' +
    ' JOIN rule_techniques q ON q.rule_id = c.rule_id GROUP BY q.technique ORDER BY q.technique').split('\n');
  const got = o.techniques.map((t) => t[0] + ':' + t[1]).sort();
  eq(JSON.stringify(got), JSON.stringify(want.slice().sort()), 'alerts per technique');
});

await srv.stop();
const { passed, failed } = counts();
console.log(`big incident: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
