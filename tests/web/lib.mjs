// Shared helpers of the web tests: starting `stoat serve` on a free
// loopback port, raw HTTP requests (node:http, so any header can be set,
// Host and Origin included), and the one-line-per-check reporting that
// tests/web/run.sh counts.
import { spawn, spawnSync } from 'node:child_process';
import http from 'node:http';

export const STOAT = process.env.STOAT || 'build/stoat';
let passed = 0, failed = 0;

export async function check(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok   ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e && e.message ? e.message.split('\n')[0] : e}`);
  }
}
export function counts() { return { passed, failed }; }
export function assert(cond, msg) { if (!cond) throw new Error(msg || 'assertion failed'); }
export function eq(got, want, msg) {
  if (got !== want) throw new Error(`${msg || 'value'}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
}

// Starts stoat serve; resolves to {port, base, proc, stop()}.
export function serve(db, extra = []) {
  return new Promise((resolve, reject) => {
    const proc = spawn(STOAT, ['serve', db, '--listen', '127.0.0.1:0', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    const t = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error('serve did not start: ' + err)); }, 10000);
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/http:\/\/127\.0\.0\.1:(\d+)\//);
      if (m) {
        clearTimeout(t);
        const port = +m[1];
        resolve({
          port, base: `http://127.0.0.1:${port}`, proc,
          stop: () => new Promise((r) => { proc.once('exit', r); proc.kill('SIGTERM'); }),
        });
      }
    });
    proc.stderr.on('data', (d) => { err += d; });
    proc.on('exit', (code) => { clearTimeout(t); reject(new Error(`serve exited ${code}: ${err}`)); });
  });
}

// One HTTP request; resolves to {status, headers, text, json}, or fails when
// the whole answer is not in within `timeout` ms. `from` sends it from another
// loopback address (127.x.y.z), on a connection of its own.
export function req(port, method, path, { headers = {}, body = null, from = null, timeout = 10000 } = {}) {
  return new Promise((resolve, reject) => {
    const h = { Host: `127.0.0.1:${port}`, ...headers };
    if (body != null) h['Content-Length'] = Buffer.byteLength(body);
    const o = { host: '127.0.0.1', port, method, path, headers: h };
    if (from) Object.assign(o, { localAddress: from, agent: false });
    const r = http.request(o, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', (e) => { clearTimeout(timer); reject(e); });
      res.on('end', () => {
        clearTimeout(timer);
        const text = Buffer.concat(chunks).toString('utf8');
        let json = null;
        try { json = JSON.parse(text); } catch { json = null; }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
    });
    const timer = setTimeout(() => r.destroy(new Error(`no answer within ${timeout} ms`)), timeout);
    r.on('error', (e) => { clearTimeout(timer); reject(e); });
    if (body != null) r.write(body);
    r.end();
  });
}

// sqlite3 command-line client, for checking that refusals changed nothing.
export function sql(db, query) {
  const r = spawnSync('sqlite3', [db, query], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error('sqlite3: ' + r.stderr);
  return r.stdout.trim();
}

export function csrfOf(html) {
  const m = html.match(/name="stoat-csrf" content="([0-9a-f]+)"/);
  return m ? m[1] : '';
}
