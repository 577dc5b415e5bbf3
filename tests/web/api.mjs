// API tests of `stoat serve`: the rows the time, state and incident filters
// return, checked one by one against SQL; bad parameters, a missing or wrong
// token, an empty token file, CSRF attempts, a foreign Host, oversized
// requests and SQL metacharacters in every filter. Each refusal must come
// with the right status, and nothing may change: the store's tables are
// compared before and after.
//   node api.mjs SYNTH_DB
import { check, counts, assert, eq, serve, req, sql, csrfOf, STOAT } from './lib.mjs';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const DB = process.argv[2];
const snapshot = () => sql(DB, "SELECT (SELECT count(*) FROM alerts), (SELECT count(*) FROM incidents), (SELECT count(*) FROM triage), (SELECT count(*) FROM hosts), (SELECT count(*) FROM rules), (SELECT count(*) FROM sqlite_schema), (SELECT group_concat(state) FROM incidents), (SELECT sum(state) FROM alerts)");

sql(DB, 'UPDATE incidents SET state = 0; UPDATE alerts SET state = 0; DELETE FROM triage;');   // as made
const srv = await serve(DB);
const P = srv.port;
const before = snapshot();
const page = await req(P, 'GET', '/');
const CSRF = csrfOf(page.text);

await check('page: served with a CSP and a CSRF token', async () => {
  eq(page.status, 200, 'status');
  assert(/connect-src 'self'/.test(page.headers['content-security-policy'] || ''), 'CSP header');
  eq(CSRF.length, 64, 'csrf token length');
  eq(page.headers['x-frame-options'], 'DENY', 'X-Frame-Options');
});

await check('overview, hosts, rules, version answer JSON', async () => {
  for (const p of ['/api/overview', '/api/hosts', '/api/rules', '/api/version', '/api/incidents', '/api/alerts?limit=5']) {
    const r = await req(P, 'GET', p);
    eq(r.status, 200, p);
    assert(r.json, p + ' is JSON');
    assert(/application\/json/.test(r.headers['content-type']), p + ' content type');
  }
});

await check('an alert, its tree and an incident', async () => {
  const a = await req(P, 'GET', '/api/alerts/1');
  eq(a.status, 200, 'alert');
  assert(a.json.tree.length >= 2, 'ancestry in the alert');
  const t = await req(P, 'GET', '/api/alerts/1/tree');
  eq(t.json.tree.length, a.json.tree.length, 'tree route');
  const inc = await req(P, 'GET', '/api/incidents/1');
  eq(inc.status, 200, 'incident');
  assert(inc.json.alerts.length > 0 && inc.json.tree.length > 0, 'incident alerts and tree');
});

await check('filters: host, level, tactic, technique, search, paging', async () => {
  const all = (await req(P, 'GET', '/api/alerts?limit=1')).json.total;
  const h = await req(P, 'GET', '/api/alerts?host=srv07.corp.example&limit=1000');
  assert(h.json.alerts.length > 0 && h.json.alerts.every((a) => a.host === 'srv07.corp.example'), 'host filter');
  const l = await req(P, 'GET', '/api/alerts?level=critical&limit=1000');
  assert(l.json.alerts.every((a) => a.level >= 5), 'level filter');
  const s = await req(P, 'GET', '/api/search?q=whoami');
  eq(s.status, 200, 'search');
  assert(s.json.total > 0 && s.json.total <= all, 'search total');
  const p1 = await req(P, 'GET', '/api/alerts?limit=3');
  const p2 = await req(P, 'GET', '/api/alerts?limit=3&cursor=' + encodeURIComponent(p1.json.next));
  eq(p2.status, 200, 'second page');
  assert(p2.json.alerts[0].id !== p1.json.alerts[0].id, 'the cursor moves on');
});

// The time, state and incident filters, each checked for the rows it
// returns: every page of the listing, in order, against the same question
// asked of the store in SQL. Each case must keep some rows and drop others,
// so a filter that is ignored (or inverted) fails. Times stay strings: they
// are nanoseconds, beyond a JavaScript number's precision.
const sqlIds = (q) => { const t = sql(DB, q); return t ? t.split('\n').map(Number) : []; };
const nsAt = (table, col, offset) => sql(DB, `SELECT ${col} FROM ${table} ORDER BY ${col} LIMIT 1 OFFSET ${offset}`);
const NEWEST = 'ORDER BY time_ns DESC, id DESC';
async function alertIds(query) {
  const ids = [];
  let next = null, total = null;
  for (let page = 0; page < 10; page++) {
    const r = await req(P, 'GET', `/api/alerts?${query}&limit=1000${next ? '&cursor=' + encodeURIComponent(next) : ''}`);
    eq(r.status, 200, query);
    if (total === null) total = r.json.total;
    ids.push(...r.json.alerts.map((a) => a.id));
    if (r.json.alerts.length < 1000 || !r.json.next) break;
    next = r.json.next;
  }
  return { ids, total };
}
function sameRows(got, want, what) {
  const i = got.findIndex((id, k) => id !== want[k]);
  if (got.length !== want.length || i >= 0)
    throw new Error(`${what}: ${got.length} rows, want ${want.length}; first difference at ${i < 0 ? Math.min(got.length, want.length) : i}`);
}
async function expectAlerts(query, where) {
  const all = +sql(DB, 'SELECT count(*) FROM alerts');
  const want = sqlIds(`SELECT id FROM alerts a WHERE ${where} ${NEWEST}`);
  assert(want.length > 0 && want.length < all, `${query}: the case must keep some alerts and drop others (${want.length} of ${all})`);
  const { ids, total } = await alertIds(query);
  sameRows(ids, want, `/api/alerts?${query}`);
  eq(total, want.length, `${query}: total`);
}
async function expectIncidents(query, where) {
  const all = +sql(DB, 'SELECT count(*) FROM incidents');
  const want = sqlIds(`SELECT id FROM incidents WHERE ${where} ORDER BY id`);
  assert(want.length > 0 && want.length < all, `${query}: the case must keep some incidents and drop others (${want.length} of ${all})`);
  const r = await req(P, 'GET', `/api/incidents?${query}&limit=1000`);
  eq(r.status, 200, query);
  sameRows(r.json.incidents.map((i) => i.id).sort((a, b) => a - b), want, `/api/incidents?${query}`);
  eq(r.json.total, want.length, `${query}: total`);
}
const isoOf = (ns) => new Date(Number(BigInt(ns) / 1000000n)).toISOString();   // ns on whole ms

await check('filters: from and to return exactly the alerts in the range, bounds included', async () => {
  const F = nsAt('alerts', 'time_ns', 1000), T = nsAt('alerts', 'time_ns', 2000);
  await expectAlerts(`from=${F}`, `time_ns >= ${F}`);
  await expectAlerts(`to=${T}`, `time_ns <= ${T}`);
  await expectAlerts(`from=${F}&to=${T}`, `time_ns BETWEEN ${F} AND ${T}`);
  assert(BigInt(F) % 1000000n === 0n && BigInt(T) % 1000000n === 0n, 'the bounds fall on whole milliseconds');
  await expectAlerts(`from=${encodeURIComponent(isoOf(F))}&to=${encodeURIComponent(isoOf(T))}`, `time_ns BETWEEN ${F} AND ${T}`);
  const empty = await alertIds(`from=${T}&to=${F}`);
  eq(empty.ids.length, 0, 'from after to');
});

await check('filters: incident returns exactly the alerts of that incident', async () => {
  const incidents = sqlIds('SELECT id FROM incidents ORDER BY id');
  assert(incidents.length >= 2, 'the store has incidents');
  for (const id of incidents)
    await expectAlerts(`incident=${id}`, `id IN (SELECT alert_id FROM incident_alerts WHERE incident_id = ${id})`);
  eq((await alertIds('incident=999999')).ids.length, 0, 'an incident that does not exist');
});

await check('filters: state returns exactly the alerts and incidents in that state', async () => {
  sql(DB, 'UPDATE alerts SET state = id % 4; UPDATE incidents SET state = id % 4;');
  try {
    const names = ['new', 'acknowledged', 'false-positive', 'closed'];
    for (let st = 0; st < 4; st++) {
      await expectAlerts(`state=${names[st]}`, `state = ${st}`);
      await expectIncidents(`state=${names[st]}`, `state = ${st}`);
    }
    const F = nsAt('alerts', 'time_ns', 1000), T = nsAt('alerts', 'time_ns', 2000);
    await expectAlerts(`state=closed&from=${F}&to=${T}`, `state = 3 AND time_ns BETWEEN ${F} AND ${T}`);
  } finally {
    sql(DB, 'UPDATE alerts SET state = 0; UPDATE incidents SET state = 0;');   // as made
  }
});

await check('filters: from and to return exactly the incidents that overlap the range', async () => {
  const n = +sql(DB, 'SELECT count(*) FROM incidents');
  const F = nsAt('incidents', 'last_ns', Math.floor(n / 2)), T = nsAt('incidents', 'first_ns', Math.floor(n / 2));
  await expectIncidents(`from=${F}`, `last_ns >= ${F}`);
  await expectIncidents(`to=${T}`, `first_ns <= ${T}`);
  const F2 = nsAt('incidents', 'first_ns', Math.floor(n / 3)), T2 = nsAt('incidents', 'last_ns', Math.floor(2 * n / 3));
  await expectIncidents(`from=${F2}&to=${T2}`, `last_ns >= ${F2} AND first_ns <= ${T2}`);
});

const bad = [
  ['/api/alerts?limit=abc', 400], ['/api/alerts?limit=0', 400], ['/api/alerts?limit=5000', 400],
  ['/api/alerts?level=9', 400], ['/api/alerts?level=severe', 400], ['/api/alerts?state=open', 400],
  ['/api/alerts?incident=-1', 400], ['/api/alerts?incident=0', 400], ['/api/alerts?cursor=zzz', 400],
  ['/api/alerts?cursor=1:', 400], ['/api/alerts?from=yesterday', 400], ['/api/alerts?nosuch=1', 400],
  ['/api/alerts?offset=99999999', 400], ['/api/alerts?order=random', 400],
  ['/api/alerts?q=' + 'a'.repeat(600), 400], ['/api/alerts?host=' + 'h'.repeat(600), 400],
  ['/api/alerts/abc', 400], ['/api/alerts/0', 400], ['/api/alerts/-5', 400], ['/api/alerts/99999999999999999999', 400],
  ['/api/alerts/999999999', 404], ['/api/incidents/999999999', 404], ['/api/alerts/1/nope', 404],
  ['/api/overview?x=1', 400], ['/api/search', 400], ['/api/nope', 404], ['/nope', 404],
  ['/api/alerts?' + Array.from({ length: 30 }, (_, i) => 'host=' + i).join('&'), 400],
];
await check('bad parameters get 400/404 with a JSON error', async () => {
  for (const [p, want] of bad) {
    const r = await req(P, 'GET', p);
    eq(r.status, want, p.slice(0, 80));
    assert(r.json && typeof r.json.error === 'string', p.slice(0, 60) + ' has an error message');
  }
});

await check('a request target beyond the cap is refused', async () => {
  const r = await req(P, 'GET', '/api/alerts?q=' + 'x'.repeat(9000));
  assert(r.status === 414 || r.status === 400 || r.status === 413, 'status ' + r.status);
});

await check('methods other than GET and POST are refused', async () => {
  eq((await req(P, 'DELETE', '/api/alerts/1')).status, 405, 'DELETE');
  eq((await req(P, 'PUT', '/api/triage', { body: '{}' })).status, 405, 'PUT');
});

await check('a foreign Host header is refused (DNS rebinding)', async () => {
  eq((await req(P, 'GET', '/api/overview', { headers: { Host: 'attacker.example' } })).status, 403, 'Host');
  eq((await req(P, 'GET', '/', { headers: { Host: `attacker.example:${P}` } })).status, 403, 'Host with port');
  eq((await req(P, 'GET', '/', { headers: { Host: '127.0.0.1' } })).status, 403, 'no port: 80, not ours');
});

const evil = ["x' OR '1'='1", '"; DROP TABLE alerts; --', "' UNION SELECT name FROM sqlite_master --", '%', '_',
  '\\', 'NEAR(a b)', '*', 'a" OR "b', ')', "1; UPDATE incidents SET state=3", '\u0000x', 'ü\' --'];
await check('SQL and FTS metacharacters in every filter are only text', async () => {
  for (const v of evil) {
    for (const k of ['host', 'rule', 'tactic', 'technique', 'q']) {
      for (const route of ['/api/alerts', '/api/incidents', '/api/search']) {
        if (route === '/api/search' && k !== 'q') continue;
        const r = await req(P, 'GET', `${route}?${k}=${encodeURIComponent(v)}`);
        assert(r.status === 200 || r.status === 400, `${route} ${k}=${JSON.stringify(v)}: status ${r.status}`);
        assert(r.json, `${route} ${k}=${JSON.stringify(v)}: JSON`);
        if (k !== 'q' && r.status === 200 && route === '/api/alerts') eq(r.json.total, 0, `${k}=${JSON.stringify(v)} matches nothing`);
      }
    }
  }
  eq(snapshot(), before, 'the store after the hostile filters');
});

const triage = (body, headers = {}) => req(P, 'POST', '/api/triage', {
  headers: { 'Content-Type': 'application/json', 'X-Stoat-CSRF': CSRF, Origin: `http://127.0.0.1:${P}`, ...headers }, body });
const good = JSON.stringify({ kind: 'incident', id: 1, state: 'closed', note: 'x', who: 'api test' });

await check('CSRF: no token, a wrong token, a form post, a foreign origin, a cross-site fetch: 403', async () => {
  const cases = [
    { 'X-Stoat-CSRF': '' }, { 'X-Stoat-CSRF': 'f'.repeat(64) }, { 'X-Stoat-CSRF': CSRF.slice(0, 63) },
    { 'Content-Type': 'application/x-www-form-urlencoded' }, { 'Content-Type': 'text/plain' },
    { Origin: 'http://attacker.example' }, { Origin: 'null' }, { 'Sec-Fetch-Site': 'cross-site' },
  ];
  for (const h of cases) {
    const r = await triage(good, h);
    eq(r.status, 403, JSON.stringify(h));
  }
  eq(snapshot(), before, 'the store after the CSRF attempts');
});

await check('triage: bad bodies get 400/404/413 and change nothing', async () => {
  const cases = [
    ['not json', 400], ['{"kind":"incident","id":1}', 400], ['{"kind":"host","id":1,"state":"closed"}', 400],
    ['{"kind":"incident","id":"x","state":"closed"}', 400], ['{"kind":"incident","id":1,"state":"pwned"}', 400],
    ['{"kind":"incident","id":1,"state":"closed","admin":true}', 400], ['[1,2]', 400],
    ['{"kind":"incident","id":1,"state":"closed","note":"' + 'n'.repeat(5000) + '"}', 400],
    ['{"kind":"incident","id":999999,"state":"closed"}', 404], ['{"kind":"alert","id":999999,"state":"closed"}', 404],
    ['{"kind":"incident","id":1,"state":"closed","note":"' + 'n'.repeat(20000) + '"}', 413],
  ];
  for (const [body, want] of cases) eq((await triage(body)).status, want, body.slice(0, 60));
  eq(snapshot(), before, 'the store after the bad bodies');
});

await check('triage: a good request is stored with note, who and when', async () => {
  const r = await triage(JSON.stringify({ kind: 'incident', id: 1, state: 'acknowledged', note: 'checked <b>DC01</b> & "the share"', who: 'ana' }));
  eq(r.status, 200, 'status');
  const inc = await req(P, 'GET', '/api/incidents/1');
  eq(inc.json.incident.state, 1, 'state');
  eq(inc.json.triage[0].note, 'checked <b>DC01</b> & "the share"', 'note kept verbatim');
  eq(inc.json.triage[0].who, 'ana', 'who');
  eq(sql(DB, 'SELECT state FROM incidents WHERE id = 1'), '1', 'in the database');
  sql(DB, 'UPDATE incidents SET state = 0; DELETE FROM triage;');   // leave the store as we found it
});

await srv.stop();

await check('a token is required on a listen address that is not loopback', async () => {
  const r = spawnSync(STOAT, ['serve', DB, '--listen', '0.0.0.0:0'], { encoding: 'utf8', timeout: 5000 });
  eq(r.status, 2, 'exit code');
  assert(/token/.test(r.stderr), 'message names the token');
  const r2 = spawnSync(STOAT, ['serve', DB, '--listen', '[::]:0', '--token', 'short'], { encoding: 'utf8', timeout: 5000 });
  assert(r2.status !== 0, 'a short token is refused');
});

await check('with a token: none or a wrong one is 401, bearer and login cookie work', async () => {
  const TOKEN = 'correct-horse-battery-staple-42';
  const s2 = await serve(DB, ['--token', TOKEN]);
  try {
    eq((await req(s2.port, 'GET', '/api/overview')).status, 401, 'no token');
    eq((await req(s2.port, 'GET', '/')).status, 401, 'page without token');
    eq((await req(s2.port, 'GET', '/api/overview', { headers: { Authorization: 'Bearer wrong-token-wrong-token' } })).status, 401, 'wrong');
    eq((await req(s2.port, 'GET', '/api/overview', { headers: { Authorization: 'Bearer ' + TOKEN + 'x' } })).status, 401, 'longer');
    eq((await req(s2.port, 'GET', '/api/overview', { headers: { Authorization: 'Bearer ' + TOKEN } })).status, 200, 'bearer');
    eq((await req(s2.port, 'GET', '/login?token=nope')).status, 401, 'bad login');
    const login = await req(s2.port, 'GET', '/login?token=' + TOKEN);
    eq(login.status, 303, 'login redirects');
    const cookie = (login.headers['set-cookie'] || [])[0] || '';
    assert(/HttpOnly/.test(cookie) && /SameSite=Strict/.test(cookie), 'cookie flags');
    eq((await req(s2.port, 'GET', '/api/overview', { headers: { Cookie: cookie.split(';')[0] } })).status, 200, 'cookie');
    const t = await req(s2.port, 'POST', '/api/triage', { headers: { 'Content-Type': 'application/json', 'X-Stoat-CSRF': 'x' }, body: good });
    eq(t.status, 401, 'triage without token');
  } finally { await s2.stop(); }
  eq(snapshot(), before, 'the store after the token checks');
});

await check('--token-file: an empty file or first line is named as such, exit 3', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'stoat-token-'));
  try {
    const cases = [['empty', '', /token file is empty/], ['blank', '\n', /first line is empty/],
      ['crlf', '\r\nsecond-line-token-0123456789\n', /first line is empty/]];
    for (const [name, text, why] of cases) {
      writeFileSync(join(dir, name), text);
      const r = spawnSync(STOAT, ['serve', DB, '--listen', '127.0.0.1:0', '--token-file', join(dir, name)], { encoding: 'utf8', timeout: 5000 });
      eq(r.status, 3, `${name}: exit code`);
      assert(why.test(r.stderr) && r.stderr.includes(join(dir, name)), `${name}: ${r.stderr.trim()}`);
    }
    const r = spawnSync(STOAT, ['serve', DB, '--listen', '127.0.0.1:0', '--token-file', join(dir, 'none')], { encoding: 'utf8', timeout: 5000 });
    eq(r.status, 3, 'missing file: exit code');
    assert(/No such file/.test(r.stderr), 'missing file: ' + r.stderr.trim());
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

await check('a file that is not a stoat store is refused at start', async () => {
  const r = spawnSync(STOAT, ['serve', '/etc/hostname', '--listen', '127.0.0.1:0'], { encoding: 'utf8', timeout: 5000 });
  assert(r.status !== 0 && /not a stoat store|not an SQLite/.test(r.stderr), r.stderr);
});

const { passed, failed } = counts();
console.log(`api: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
