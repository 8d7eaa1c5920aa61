// The dashboard with the config's own categories: a server whose config adds a fourth, `chat` (a probe trained by
// `aio probe train`, a policy rule that sends chat to the small model), gets labelled requests of all four; the page
// must offer chat in its category chooser, show chat in the route split as /metrics counts it, list chat requests,
// and draw the entropy histogram over 0..2 bits (log2 of four categories).
//   node categories.mjs BASE_URL SCREENSHOT_DIR
import assert from 'node:assert/strict';
import path from 'node:path';
import {check, checksPassed, launchChromium, openPage} from './common.mjs';

const [base, shots] = process.argv.slice(2);
const chat = async (content, label) => {
  const r = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST', headers: {'Content-Type': 'application/json'},
    body: JSON.stringify({model: 'aio', max_tokens: 4, temperature: 0, messages: [{role: 'user', content}],
                          aio: {label}})});
  return {status: r.status, aio: (await r.json()).aio};
};
const answers = [];
for (const [label, text] of [['chat', 'Tell me a bedtime story about a sleepy dragon.'],
                             ['chat', 'Write a short poem about the quiet harbour.'],
                             ['code', 'Write a Python function that reverses a linked list.'],
                             ['math', 'Tom has 3 boxes of 12 pencils and gives away 7. How many are left?'],
                             ['qa', 'Which planet is closest to the sun?']])
  answers.push(await chat(text, label));
check('all four categories were answered, chat read as chat and sent to the small model', () => {
  assert.deepEqual(answers.map(a => a.status), [200, 200, 200, 200, 200]);
  for (const a of answers.slice(0, 2)) {
    assert.equal(a.aio.probe.category, 'chat');
    assert.equal(a.aio.route.model, 'small');
  }
  for (const a of answers) assert.equal(Object.keys(a.aio.probe.distribution).length, 4);
});

const doc = await (await fetch(`${base}/v1/aio/stats`)).json();
const browser = await launchChromium();
try {
  const {page, errors} = await openPage(browser);
  await page.goto(`${base}/dashboard?interval=500`, {waitUntil: 'load'});
  await page.waitForFunction(n => document.body.dataset.rendered === String(n), {timeout: 20000}, doc.requests);
  const seen = await page.evaluate(() => ({
    options: [...document.querySelectorAll('#split-category option')].map(o => o.value),
    split: [...document.querySelectorAll('[data-split]')].filter(td => Number(td.textContent) > 0)
      .map(td => td.dataset.split),
    recent: [...document.querySelectorAll('#recent tr')].slice(1).map(tr => tr.querySelectorAll('td')[1]?.textContent),
  }));
  check('the category chooser offers the config\'s four categories', () => {
    for (const c of ['code', 'qa', 'math', 'chat']) assert.ok(seen.options.includes(c), `no ${c} in ${seen.options}`);
  });
  check('the route split and the last requests show chat', () => {
    assert.ok(seen.split.some(k => k.startsWith('chat|')), `no chat cell in ${seen.split}`);
    assert.equal(seen.recent.filter(c => c === 'chat').length, 2);
  });
  check('the entropy histogram spans log2 4 = 2 bits', () => assert.equal(doc.entropy.edges.at(-1), 2));
  await page.select('#split-category', 'chat');
  const chatSeries = await page.$$eval('#split-time rect[data-series]', rects => [...new Set(rects.map(r => r.dataset.series))]);
  check('narrowed to chat, the split over time shows the small model', () =>
    assert.deepEqual(chatSeries, ['small/plain']));
  await page.select('#split-category', '');
  await page.screenshot({path: path.join(shots, 'dashboard-four-categories.png'), fullPage: true});
  check('no console errors, page errors or failed requests', () => assert.deepEqual(errors, []));
} finally {
  await browser.close();
}
console.log(`dashboard (four categories): ${checksPassed()} checks passed`);
