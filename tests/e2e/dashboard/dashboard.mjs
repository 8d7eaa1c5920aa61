// The live dashboard in a real browser (Debian's chromium, driven by puppeteer-core): a mixed batch of requests goes
// through `aio serve`, the page must show the same route split as /metrics and the same requests as the stats feed,
// update when more requests arrive, draw its charts, and log no errors. Screenshots are saved for people to look at.
// A second server, started with --api-key, must show the key form and then the data once the key is given.
//   node dashboard.mjs BASE_URL SCREENSHOT_DIR KEYED_BASE_URL API_KEY
import assert from 'node:assert/strict';
import path from 'node:path';
import {check, checksPassed, launchChromium, openPage} from './common.mjs';

const [base, shots, keyedBase, apiKey] = process.argv.slice(2);
const routeRecords = []; // the `aio` objects of the non-streamed answers

async function post(route, body) {
  const r = await fetch(`${base}${route}`, {method: 'POST', headers: {'Content-Type': 'application/json'},
                                            body: JSON.stringify(body)});
  const text = await r.text();
  if (r.status === 200 && !body.stream) routeRecords.push(JSON.parse(text).aio);
  return r.status;
}
const chat = (content, extra = {}) => post('/v1/chat/completions',
  {model: 'aio', max_tokens: 12, temperature: 0, messages: [{role: 'user', content}], ...extra});

// A mixed batch: routed code / QA / math chats, a completion pinned to a model, requests naming the draft and PLD
// policies (speculation shows up as acceptance), a streamed answer and an unknown model (404).
async function sendBatch(round) {
  const jobs = [
    () => chat(`Write a Python function that reverses a list (${round}).`),
    () => chat(`def fibonacci(n):\n    # return the n-th Fibonacci number (${round})`),
    () => chat(`What is the capital of France, and why (${round})?`),
    () => chat(`Who wrote Pride and Prejudice (${round})?`),
    () => chat(`Compute 17 * 23 + ${round} and show the steps.`),
    () => chat(`Tell me a story about a dragon (${round}).`, {aio: {policy: 'draft'}}),
    () => chat(`for i in range(10): print(i) for i in range(10): print(i) (${round})`, {aio: {policy: 'static-small-pld'}}),
    () => chat(`Stream a haiku (${round}).`, {stream: true}),
    () => post('/v1/completions', {model: 'small', prompt: `Once upon a time (${round})`, max_tokens: 6}),
    () => chat('hello', {model: 'medium'}),
  ];
  const statuses = [];
  for (let i = 0; i < jobs.length; i += 2) statuses.push(...await Promise.all(jobs.slice(i, i + 2).map(j => j())));
  return statuses;
}

// /metrics' aio_requests_total for status 200, keyed as the page keys its split table: category|model/strategy.
async function metricsSplit() {
  const text = await (await fetch(`${base}/metrics`)).text();
  const split = {};
  for (const line of text.split('\n')) {
    const m = line.match(/^aio_requests_total\{model="([^"]*)",category="([^"]*)",strategy="([^"]*)",status="200"\} (\S+)$/);
    if (m) split[`${m[2] || 'unprobed'}|${m[1]}/${m[3]}`] = Number(m[4]);
  }
  return split;
}
const stats = async () => (await fetch(`${base}/v1/aio/stats`)).json();

async function pageSplit(page) {
  return page.$$eval('[data-split]', cells => Object.fromEntries(
    cells.map(td => [td.dataset.split, Number(td.textContent)]).filter(([, n]) => n > 0)));
}

const statuses = await sendBatch(1);
check('the batch was answered (404 for the unknown model)', () =>
  assert.deepEqual(statuses.filter(s => s !== 200), [404]));

const browser = await launchChromium();
try {
  const {page, errors} = await openPage(browser);

  let doc = await stats();
  await page.goto(`${base}/dashboard?interval=500`, {waitUntil: 'load'});
  await page.waitForFunction(n => document.body.dataset.rendered === String(n), {timeout: 20000}, doc.requests);

  const expected = await metricsSplit();
  const shown = await pageSplit(page);
  check('the route split table shows /metrics\' counts', () => assert.deepEqual(shown, expected));
  const headerCount = await page.$eval('#requests', e => Number(e.textContent));
  check('the header counts every request the stats feed has', () => assert.equal(headerCount, doc.requests));
  const drawn = await page.evaluate(() => ({
    splitBars: document.querySelectorAll('#split-time rect[data-series]').length,
    entropyBars: document.querySelectorAll('#entropy rect[data-count]').length,
    tau: document.querySelector('#entropy line[data-tau]')?.dataset.tau,
    tpsLines: document.querySelectorAll('#tps polyline, #tps rect').length,
    acceptance: [...document.querySelectorAll('#draft rect[data-acceptance]')].map(r => r.dataset.acceptance),
    recentRows: document.querySelectorAll('#recent tr').length - 1,
    models: [...document.querySelectorAll('#models tr td:first-child')].map(td => td.textContent),
  }));
  check('the charts are drawn: split bars, entropy histogram with the tau line, tokens/s', () => {
    assert.ok(drawn.splitBars > 0, 'no route split bars');
    assert.ok(drawn.entropyBars > 0, 'no entropy bars');
    assert.equal(Number(drawn.tau), doc.tau);
    assert.ok(drawn.tpsLines > 0, 'no tokens/s series');
  });
  check('draft acceptance per category is shown (the draft policy ran)', () => {
    assert.ok(Object.keys(doc.draft).length > 0, 'the stats feed has no drafted tokens');
    assert.equal(drawn.acceptance.length, Object.keys(doc.draft).length);
  });
  const tableRows = await page.$$eval('#recent tr', rows => rows.slice(1).map(
    tr => [...tr.querySelectorAll('td')].map(td => td.textContent)));
  check('the last requests table shows the route records the answers carried', () => {
    // Columns: time, category, entropy, model, strategy, by load, replica, status, tokens, ...
    const shownRoutes = tableRows.filter(r => r[7] === '200').map(r => `${r[1]}|${r[2]}|${r[3]}|${r[4]}|${r[8]}`).sort();
    const answered = routeRecords.map(a => `${a.probe?.category || 'unprobed'}|${(a.probe?.entropy ?? 0).toFixed(3)}|` +
                                           `${a.route.model}|${a.route.strategy}|${a.tokens.generated}`);
    for (const want of answered) assert.ok(shownRoutes.includes(want), `no row for ${want} in ${shownRoutes.join(', ')}`);
  });
  check('the last requests and the resident models are listed', () => {
    assert.equal(drawn.recentRows, Math.min(doc.requests, 50));
    assert.deepEqual(drawn.models.sort(), ['large', 'small']);
  });
  // The split over time for one category: only the routes that category took.
  await page.select('#split-category', 'code');
  const codeSeries = await page.$$eval('#split-time rect[data-series]', rects => [...new Set(rects.map(r => r.dataset.series))].sort());
  const codeRoutes = [...new Set(doc.series.buckets.flatMap(b => Object.keys(b.routes.code || {})))].sort();
  check('the split over time can be narrowed to one category', () => assert.deepEqual(codeSeries, codeRoutes));
  await page.select('#split-category', '');
  await page.screenshot({path: path.join(shots, 'dashboard.png'), fullPage: true});

  // More traffic: the page follows without a reload.
  await sendBatch(2);
  doc = await stats();
  await page.waitForFunction(n => document.body.dataset.rendered === String(n), {timeout: 20000}, doc.requests);
  const after = await metricsSplit(), shownAfter = await pageSplit(page);
  const total = split => Object.values(split).reduce((a, b) => a + b, 0);
  check('the page updates when more requests arrive, still matching /metrics', () => {
    assert.deepEqual(shownAfter, after);
    assert.ok(total(after) > total(expected));
  });
  await page.screenshot({path: path.join(shots, 'dashboard-updated.png'), fullPage: true});
  if (keyedBase) {
    // With an API key: the page asks for it, the feed refuses without it, and with it the page shows the data.
    const keyed = await browser.newPage();
    keyed.on('pageerror', e => errors.push(`page error: ${e.message}`));
    await keyed.goto(`${keyedBase}/dashboard?interval=500`, {waitUntil: 'load'});
    await keyed.waitForSelector('#keyform', {visible: true, timeout: 20000});
    const beforeKey = await keyed.$eval('#status', e => e.textContent);
    await keyed.type('#key', apiKey);
    await keyed.click('#keyform button');
    await keyed.waitForFunction(() => document.body.dataset.rendered !== undefined, {timeout: 20000});
    const formHidden = await keyed.$eval('#keyform', f => getComputedStyle(f).display === 'none');
    check('with an API key the page asks for it, then shows the data', () => {
      assert.match(beforeKey, /API key/);
      assert.ok(formHidden);
    });
    await keyed.close();
  }
  // (The keyed page's refused first poll logs a 401 to its console by design: only its page errors count.)
  check('no console errors, page errors or failed requests', () => assert.deepEqual(errors, []));
} finally {
  await browser.close();
}
console.log(`dashboard: ${checksPassed()} checks passed; screenshots in ${shots}`);
