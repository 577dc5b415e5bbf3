// Times the first render of a report file in headless Chromium: from the
// start of navigation to the overview drawn (body[data-ready=overview]),
// then the alert list and a search over every alert. Prints figures; it is
// a benchmark, not a test. Uses tests/web's playwright-core.
//   node bench/render.mjs REPORT.html [RUNS]
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
const require = createRequire(resolve('tests/web/package.json'));
const { chromium } = require('playwright-core');

const file = resolve(process.argv[2]);
const runs = +(process.argv[3] || 3);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const first = [], list = [], search = [];
for (let i = 0; i < runs; i++) {
  const ctx = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await ctx.newPage();
  await page.goto('file://' + file, { timeout: 60000 });
  await page.waitForSelector('body[data-ready="overview"]', { timeout: 60000 });
  first.push(await page.evaluate(() => performance.now()));
  let t = Date.now();
  await page.evaluate(() => { document.body.removeAttribute('data-ready'); location.hash = '#/alerts'; });
  await page.waitForSelector('body[data-ready="alerts"]', { timeout: 60000 });
  list.push(Date.now() - t);
  t = Date.now();
  await page.evaluate(() => { document.body.removeAttribute('data-ready'); location.hash = '#/alerts?q=whoami%20domain'; });
  await page.waitForSelector('body[data-ready="alerts"]', { timeout: 60000 });
  search.push(Date.now() - t);
  await ctx.close();
}
await browser.close();
const med = (a) => a.slice().sort((x, y) => x - y)[Math.floor(a.length / 2)];
const f = (a) => `min ${Math.min(...a).toFixed(0)} ms, median ${med(a).toFixed(0)} ms`;
console.log(`report first render (navigation to overview drawn): ${f(first)}`);
console.log(`report alert list (first page of every alert):       ${f(list)}`);
console.log(`report search over every alert ("whoami domain"):    ${f(search)}`);
