// Shared by the browser tests: named checks that count themselves, Debian's chromium launched headless, and a page's
// errors collected.
import puppeteer from 'puppeteer-core';

let passed = 0;
// Runs one named assertion block and says so; a failing block throws (the test ends with the assertion's message).
export function check(name, fn) {
  fn();
  passed += 1;
  console.log(`ok - ${name}`);
}
export const checksPassed = () => passed;

export function launchChromium() {
  return puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--hide-scrollbars'],
  });
}

// Console errors and warnings and uncaught page errors go into `errors`.
export function collectErrors(page, errors) {
  page.on('console', m => { if (m.type() === 'error' || m.type() === 'warn') errors.push(`console ${m.type()}: ${m.text()}`); });
  page.on('pageerror', e => errors.push(`page error: ${e.message}`));
}

// A page at the dashboard's size whose console errors, page errors and failed requests go into the returned list.
export async function openPage(browser) {
  const page = await browser.newPage();
  await page.setViewport({width: 1400, height: 1500});
  const errors = [];
  collectErrors(page, errors);
  page.on('requestfailed', r => errors.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  return {page, errors};
}
