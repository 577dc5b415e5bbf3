// `stoat serve` on port 80, HTTP's default: browsers then send a Host
// header without a port ("127.0.0.1", "localhost") and an Origin without one.
// Both must be taken, and foreign names still refused. Binding port 80 needs
// a network namespace of its own, which run.sh makes (unshare -rn); so this
// never touches the machine's port 80.
//   node port80.mjs DB
import { check, counts, assert, eq, serve, req, csrfOf } from './lib.mjs';

const DB = process.argv[2];
const srv = await serve(DB, ['--listen', '127.0.0.1:80']);
eq(srv.port, 80, 'the port serve reports');

await check('port 80: a Host without a port is the default port', async () => {
  for (const host of ['127.0.0.1', 'localhost', 'LOCALHOST', '127.0.0.1:80', 'localhost:80', '[::1]', '[::1]:80', '127.0.0.2']) {
    const r = await req(80, 'GET', '/api/version', { headers: { Host: host } });
    eq(r.status, 200, `Host: ${host}`);
  }
});

await check('port 80: foreign names and other ports are still refused', async () => {
  for (const host of ['attacker.example', 'attacker.example:80', '127.0.0.1:8080', 'localhost:81', '127.0.0.1:', '[::1',
    '[::2]', '[::1]x', '::1', '127.0.0.1:80:80', '10.0.0.1']) {
    const r = await req(80, 'GET', '/api/version', { headers: { Host: host } });
    eq(r.status, 403, `Host: ${JSON.stringify(host)}`);
  }
});

await check('port 80: the page\'s own state changes pass the origin check', async () => {
  const page = await req(80, 'GET', '/', { headers: { Host: '127.0.0.1' } });
  eq(page.status, 200, 'page');
  // a body that is refused only after every check of who is asking
  const r = await req(80, 'POST', '/api/triage', {
    headers: { Host: '127.0.0.1', Origin: 'http://127.0.0.1', 'Content-Type': 'application/json', 'X-Stoat-CSRF': csrfOf(page.text) },
    body: '{"kind":"incident","id":1}' });
  eq(r.status, 400, 'a same-origin request with a bad body');
  assert(/state/.test(r.json && r.json.error), 'refused for its body: ' + r.text);
});

await srv.stop();
const { passed, failed } = counts();
console.log(`port80: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
