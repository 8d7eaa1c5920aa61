// The dashboard when load decided a route: a server whose policy sends questions to the small model while the large
// one's only slot is busy gets a long request pinned to the large model, then a question; the page must count the
// request routed by load in its header, show the large model's expected wait in the models table, and mark the
// question's row in the last requests with the model whose load decided it.
//   node load.mjs BASE_URL SCREENSHOT_DIR
import assert from 'node:assert/strict';
import path from 'node:path';
import {check, checksPassed, launchChromium, openPage} from './common.mjs';

const [base, shots] = process.argv.slice(2);
const post = (body) => fetch(`${base}/v1/chat/completions`, {
  method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)});
const largeModel = async () => (await (await fetch(`${base}/v1/aio/stats`)).json()).models.find(m => m.name === 'large');

const long = post({model: 'large', max_tokens: 3000, ignore_eos: true, temperature: 0,
                   messages: [{role: 'user', content: 'Tell me everything about rivers.'}]});
let large;
for (let i = 0; i < 600; i++) {
  large = await largeModel();
  if (large.busy === 1 && large.wait_ms > 0) break;
  await new Promise(r => setTimeout(r, 20));
}
const browser = await launchChromium();
try {
  const {page, errors} = await openPage(browser);
  await page.goto(`${base}/dashboard?interval=500`, {waitUntil: 'load'});
  // While the long answer runs, the models table shows the large model's one slot busy, with a wait.
  await page.waitForFunction(() => [...document.querySelectorAll('#models tr')].some(tr =>
    tr.cells[0]?.textContent === 'large' && tr.cells[3]?.textContent === '1 / 1' &&
    tr.cells[5]?.textContent.endsWith(' s')), {timeout: 20000});
  const answer = await (await post({model: 'aio', max_tokens: 4, temperature: 0,
                                    messages: [{role: 'user', content: 'What is the capital city of France?'}]})).json();
  check('the question went to the small model because the large one was busy', () => {
    assert.equal(answer.aio.route.model, 'small');
    assert.equal(answer.aio.route.load.model, 'large');
  });
  await page.waitForFunction(() => document.getElementById('by-load').textContent === '1', {timeout: 20000});
  const rows = await page.$$eval('#recent [data-by-load]', tds => tds.map(td => td.textContent));
  check('the last requests mark the question as routed by the large model\'s load', () => {
    assert.equal(rows.length, 1);
    assert.match(rows[0], /^large \d+(\.\d)? s$/);
  });
  await page.screenshot({path: path.join(shots, 'dashboard-load.png'), fullPage: true});
  check('no console errors, page errors or failed requests', () => assert.deepEqual(errors, []));
} finally {
  await browser.close();
}
await long;
console.log(`load.mjs: ${checksPassed()} checks passed`);
