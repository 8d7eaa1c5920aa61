// `aio report`'s index.html in a real browser (Debian's chromium, driven by puppeteer-core), opened from disk with
// every network request refused: it must need nothing from elsewhere, show the run's settings, draw every plot (the
// Pareto frontier, the route split, the entropy histogram with tau, per-task bars), carry the same numbers as
// report.json, and log no errors. A screenshot is saved for people to look at.
//   node report.mjs REPORT_DIR SCREENSHOT_DIR
import assert from 'node:assert/strict';
import {readFileSync} from 'node:fs';
import path from 'node:path';
import {check, checksPassed, collectErrors, launchChromium} from './common.mjs';

const [dir, shots] = process.argv.slice(2);
const summary = JSON.parse(readFileSync(path.join(dir, 'report.json'), 'utf8'));
const pageUrl = `file://${path.resolve(dir, 'index.html')}`;

const browser = await launchChromium();
try {
  const page = await browser.newPage();
  await page.setViewport({width: 1400, height: 1200});
  const errors = [], elsewhere = [];
  collectErrors(page, errors);
  // Offline: the page itself may load, nothing else (data: URIs are part of the page).
  await page.setRequestInterception(true);
  page.on('request', req => {
    if (req.url() === pageUrl || req.url().startsWith('data:')) return req.continue();
    elsewhere.push(req.url());
    return req.abort();
  });
  await page.goto(pageUrl, {waitUntil: 'load'});

  const shown = await page.evaluate(() => {
    const settings = Object.fromEntries([...document.querySelectorAll('#settings tr')].map(
      tr => [tr.querySelector('th').textContent, tr.querySelector('td').textContent]));
    const scenarios = [...document.querySelectorAll('section.scenario')].map(s => {
      const perPolicy = [...s.querySelectorAll('h3')].find(h => h.textContent.startsWith('Per policy'));
      const rows = [...perPolicy.nextElementSibling.querySelectorAll('tr')].slice(1)
        .map(tr => [...tr.querySelectorAll('td')].map(td => td.textContent));
      return {
        id: s.id,
        plots: [...s.querySelectorAll('figure[data-plot]')].map(f => f.dataset.plot),
        svgs: s.querySelectorAll('figure svg').length,
        points: s.querySelectorAll('figure[data-plot^="pareto-"] circle').length,
        frontier: s.querySelectorAll('figure[data-plot^="pareto-"] polyline.frontier').length,
        tau: s.querySelector('figure[data-plot^="entropy-"] line.marker')?.dataset.value,
        taskBars: s.querySelectorAll('figure[data-plot^="tasks-"] rect title').length,
        perPolicy: rows,
      };
    });
    return {settings, scenarios};
  });

  check('the run settings are shown: weights, models, machine, threads, A-IO commit', () => {
    for (const key of ['weights', 'models', 'machine', 'threads per model', 'A-IO', 'probe'])
      assert.ok(shown.settings[key] && shown.settings[key] !== 'not recorded', `settings: ${key} missing`);
    assert.equal(shown.settings.weights.startsWith('synthetic'), summary.synthetic_models);
  });
  check('every scenario of report.json has its section', () =>
    assert.deepEqual(shown.scenarios.map(s => s.id), Object.keys(summary.scenarios).map(s => `scenario-${s}`)));
  for (const sc of shown.scenarios) {
    const name = sc.id.replace('scenario-', ''), want = summary.scenarios[name];
    const policies = Object.keys(want.policies);
    check(`scenario ${name}: every plot inline (Pareto, routes, entropy, per-task accuracy and tokens/s)`, () => {
      for (const kind of ['pareto', 'routes', 'entropy', 'tasks-accuracy', 'tasks-tps'])
        assert.ok(sc.plots.includes(`${kind}-${name}.svg`), `no ${kind} plot`);
      assert.equal(sc.svgs, sc.plots.length);
      assert.equal(sc.points, policies.length);
      assert.equal(sc.frontier, want.pareto.length > 1 ? 1 : 0, 'the frontier line is drawn when it joins two policies');
      assert.ok(sc.taskBars > 0);
    });
    check(`scenario ${name}: the entropy histogram marks tau`, () => assert.ok(Number(sc.tau) > 0, 'no tau line'));
    check(`scenario ${name}: the per-policy table carries report.json's numbers`, () => {
      assert.equal(sc.perPolicy.length, policies.length);
      for (const row of sc.perPolicy) {
        const policy = row[0].replace(' *', ''), p = want.policies[policy];
        assert.ok(p, `policy ${policy} not in report.json`);
        assert.equal(Number(row[1]), p.n);
        assert.equal(row[2], `${(100 * p.accuracy).toFixed(1)}%`);
        assert.equal(row[3], p.tokens_per_second.toFixed(2));
        assert.equal(row[0].endsWith(' *'), want.pareto.includes(policy), `${policy}: frontier mark`);
      }
    });
  }
  check('nothing was fetched from elsewhere (the page opens offline)', () => assert.deepEqual(elsewhere, []));
  check('no console errors or page errors', () => assert.deepEqual(errors, []));
  await page.screenshot({path: path.join(shots, 'report.png'), fullPage: true});
} finally {
  await browser.close();
}
console.log(`report: ${checksPassed()} checks passed; screenshot in ${shots}`);
