// Starvation tests of `stoat serve`: hundreds of slow clients, each sending
// the start of a request and then one header line a second (so it is never
// idle and never done), from one loopback address and from many, while a
// normal client keeps asking from an address of its own. Every one of the
// normal client's requests must be answered within a few seconds; the slow
// connections must be cut by the server although none of them goes idle;
// one address must not hold more than its share. Loopback only: every
// 127.x.y.z address is this machine, so "many addresses" needs no network.
//   node flood.mjs DB
import net from 'node:net';
import { check, counts, assert, eq, serve, req } from './lib.mjs';

const DB = process.argv[2];
const PER_ADDRESS = 32;   // README: the connections one client address may hold
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// One slow client. Resolves when its connection closes, to
// {byServer, answered, lines}; stop() closes it from this side.
const open = new Set();
function slow(port, from) {
  let s;
  const done = new Promise((resolve) => {
    s = net.connect({ host: '127.0.0.1', port, localAddress: from });
    let lines = 0, answered = false, byServer = false, tick = null;
    s.on('connect', () => {
      s.write(`GET /api/overview HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n`);
      tick = setInterval(() => { if (s.writable) s.write(`X-Slow-${++lines}: .\r\n`); }, 1000);
    });
    s.on('data', () => { answered = true; });
    s.on('end', () => { byServer = true; });      // the server's FIN
    s.on('error', () => { byServer = true; });    // refused or reset by the server
    s.on('close', () => { clearInterval(tick); open.delete(s); resolve({ byServer, answered, lines }); });
  });
  open.add(s);
  return { done, stop: () => s.destroy() };
}
const stopAll = () => { for (const s of open) s.destroy(); };

// A flood slot: a slow client, reopened half a second after the server
// closes it, until the flood ends. Records how its first connection ended.
async function slot(port, from, flood, first) {
  let r = await slow(port, from).done;
  first.push(r);
  while (flood.on) {
    if (r.byServer) flood.cut++;
    await sleep(500);
    if (!flood.on) break;
    r = await slow(port, from).done;
  }
}

const srv = await serve(DB);
const P = srv.port;

await check('a normal client is answered during a slow flood from one address and from forty', async () => {
  const flood = { on: true, cut: 0 };
  const one = [], many = [];
  const slots = [];
  for (let i = 0; i < 100; i++) slots.push(slot(P, '127.0.0.1', flood, one));
  for (let a = 1; a <= 40; a++)
    for (let i = 0; i < 12; i++) slots.push(slot(P, `127.0.1.${a}`, flood, many));
  await sleep(1500);   // let the flood take hold
  const t0 = Date.now();
  const bad = [];
  let n = 0;
  while (Date.now() - t0 < 12500) {
    const path = ['/api/version', '/', '/api/alerts?limit=5'][n++ % 3];
    try {
      const r = await req(P, 'GET', path, { from: '127.0.2.200', timeout: 5000 });
      if (r.status !== 200) bad.push(`${path}: ${r.status}`);
    } catch (e) { bad.push(`${path}: ${e.message}`); }
    await sleep(200);
  }
  flood.on = false;
  // the first connection of each slot still open now has held on past
  // every deadline: the server must have closed all of them by now
  const stillOpen = 580 - one.length - many.length;
  stopAll();
  await Promise.all(slots);
  eq(bad.length, 0, `failed requests (${bad.slice(0, 3).join('; ')})`);
  assert(n >= 10, `only ${n} requests were made`);
  eq(stillOpen, 0, 'slow connections of the first wave the server never closed');
  assert(many.every((r) => r.byServer && !r.answered), 'every first slow connection from the forty addresses was closed by the server, unanswered');
  assert(flood.cut > 0, 'reopened slow connections are cut as well');
});

await check('one address gets no more than its share of connections', async () => {
  const conns = Array.from({ length: 100 }, () => slow(P, '127.0.3.1'));
  await sleep(1500);
  const held = open.size;
  stopAll();
  await Promise.all(conns.map((c) => c.done));
  assert(held <= PER_ADDRESS, `one address holds ${held} connections, more than ${PER_ADDRESS}`);
  assert(held > 0, 'one address holds no connection at all');
});

await check('a request that never ends is cut although it is never idle', async () => {
  const c = slow(P, '127.0.3.2');   // a line every second: never idle
  const give_up = setTimeout(c.stop, 20000);
  const r = await c.done;
  clearTimeout(give_up);
  assert(r.byServer, `the server let it send ${r.lines} header lines in 20 s without closing it`);
  assert(!r.answered, 'not answered');
});

await check('after the flood: answered as before', async () => {
  const r = await req(P, 'GET', '/api/overview');
  eq(r.status, 200, 'status');
  assert(r.json, 'JSON');
});

await srv.stop();
const { passed, failed } = counts();
console.log(`flood: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
