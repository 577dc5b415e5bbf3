// API tests of a fleet incident (one chain across hosts, from a hunt over a
// generated fleet day: tests/cross/gen-fleet-day.py): its document names the
// hosts, the account and the logons between them, and counts its alerts per
// host (by_host); /api/incidents/ID/alerts?host=H pages one host's alerts
// in event time with that host's process trees, and the pages together are
// exactly that host's alerts of the incident. Each is checked against SQL.
//   node fleetincident.mjs FLEET_DB
import { check, counts, assert, eq, serve, req, sql } from './lib.mjs';

const DB = process.argv[2];
const INC = +sql(DB, 'SELECT id FROM incidents WHERE hosts IS NOT NULL ORDER BY id LIMIT 1');
const srv = await serve(DB);
const P = srv.port;
const perHost = (host, extra = '') => sql(DB, 'SELECT a.id FROM incident_alerts ia JOIN alerts a ON a.id = ia.alert_id' +
  ` JOIN hosts h ON h.id = a.host_id WHERE ia.incident_id = ${INC} AND h.name = '${host.replace(/'/g, "''")}'` +
  ` ORDER BY a.time_ns, a.id${extra}`).split('\n').filter(Boolean).map(Number);

await check('a fleet incident\'s document: hosts, account, logons in order, alerts counted per host', async () => {
  assert(INC > 0, 'the store holds a fleet incident');
  const d = (await req(P, 'GET', `/api/incidents/${INC}`)).json;
  const hosts = JSON.parse(sql(DB, `SELECT hosts FROM incidents WHERE id = ${INC}`));
  eq(JSON.stringify(d.incident.hosts), JSON.stringify(hosts), 'hosts');
  assert(hosts.length >= 2, `a chain across hosts (${hosts.length})`);
  assert(d.incident.account, 'the account');
  assert(d.edges.length >= 1, 'the logons');
  eq(JSON.stringify(d.edges.map((e) => e.first)), JSON.stringify(d.edges.map((e) => e.first).sort((x, y) => x - y)), 'logons in time order');
  const want = sql(DB, 'SELECT h.name || \':\' || count(*) FROM incident_alerts ia JOIN alerts a ON a.id = ia.alert_id' +
    ` JOIN hosts h ON h.id = a.host_id WHERE ia.incident_id = ${INC} GROUP BY h.name ORDER BY h.name`).split('\n');
  eq(JSON.stringify(d.by_host.map((x) => x.host + ':' + x.n).sort()), JSON.stringify(want), 'alerts per host');
  assert(d.by_host.length >= 2, 'alerts on two hosts at least');
  // a single host's incident has neither
  const single = sql(DB, 'SELECT id FROM incidents WHERE hosts IS NULL LIMIT 1');
  if (single) {
    const s = (await req(P, 'GET', `/api/incidents/${single}`)).json;
    assert(s.by_host === undefined && s.edges === undefined, 'a single host\'s incident has no by_host, no edges');
  }
});

await check('one host\'s alerts a page at a time: all of them, in event time, once each, with their trees', async () => {
  const d = (await req(P, 'GET', `/api/incidents/${INC}`)).json;
  for (const x of d.by_host) {
    const ids = [];
    let off = 0, pages = 0;
    while (off != null && pages < 1000) {
      const r = await req(P, 'GET', `/api/incidents/${INC}/alerts?` + new URLSearchParams({ host: x.host, offset: off, limit: 2 }));
      eq(r.status, 200, `${x.host} at ${off}`);
      eq(r.json.host, x.host, 'the page names its host');
      eq(r.json.total, x.n, `${x.host}: total on every page`);
      assert(r.json.alerts.length <= 2, 'a page is at most the limit');
      assert(r.json.alerts.every((a) => a.host === x.host), 'only that host\'s alerts');
      const inTree = new Set(r.json.tree.map((n) => n.id));
      assert(r.json.alerts.every((a) => a.proc == null || inTree.has(a.proc)), 'each alert\'s process in the page\'s trees');
      r.json.alerts.forEach((a) => ids.push(a.id));
      off = r.json.next;
      pages++;
    }
    eq(JSON.stringify(ids), JSON.stringify(perHost(x.host)), `${x.host}: the pages are its alerts in event time`);
  }
});

await check('a host the incident does not reach: an empty page; other parameters refused', async () => {
  const r = await req(P, 'GET', `/api/incidents/${INC}/alerts?host=no-such-host`);
  eq(r.status, 200, 'status');
  eq(r.json.total, 0, 'total');
  eq(r.json.alerts.length, 0, 'alerts');
  for (const [p, st] of [[`/api/incidents/${INC}/alerts?rule=x`, 400], [`/api/incidents/${INC}/alerts?host=x&level=3`, 400],
    ['/api/incidents/999999/alerts?host=x', 404]]) {
    eq((await req(P, 'GET', p)).status, st, p);
  }
});

await srv.stop();
const { passed, failed } = counts();
console.log(`fleet incident: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
