// Works the regulator console (/console/) in Debian's Chromium, headless, as
// a regulator would after `chemaudit login`, and reports what it saw: one
// JSON object per step on stdout, and a screenshot per step in out_dir. The
// test that runs it (tests/console_e2e_test.cc) decides what must hold; this
// script only acts and looks, and changes answers in flight where the spec
// asks it to (a tampered proof, a tampered checkpoint signature).
//
// Usage: node console.js SPEC.json
//   SPEC: {"enter_url": URL from chemaudit login, "out_dir": DIR, "code": CODE,
//          "enterprise": USCC, "year": YYYY}

'use strict';
const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

const spec = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const report = (step, fields) => console.log(JSON.stringify({ step, ...fields }));

// Flips one bit of a base64 value.
function flip(base64, at) {
  const bytes = Buffer.from(base64, 'base64');
  bytes[at % bytes.length] ^= 0x01;
  return bytes.toString('base64');
}

async function timelineSeen(tab) {
  await tab.waitForSelector('#proof-summary', { timeout: 20000 });
  return {
    checkpoint: await tab.getAttribute('#checkpoint-status', 'data-proof'),
    checkpoint_text: await tab.locator('#checkpoint-status').textContent(),
    proofs: await tab.locator('ol.timeline li').evaluateAll((items) => items.map((li) => li.dataset.proof)),
    texts: await tab.locator('ol.timeline li').allTextContents(),
    summary: await tab.locator('#proof-summary').textContent(),
    fork: await tab.locator('#fork').isVisible(),
  };
}

async function searchCode(tab) {
  await tab.click('nav button[data-tab="search"]');
  await tab.selectOption('#search-kind', 'code');
  await tab.fill('#search-text', spec.code);
  await tab.evaluate(() => { const r = document.getElementById('search-result'); r.replaceChildren(); });
  await tab.click('#search-form button[type="submit"]');
  return timelineSeen(tab);
}

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox'],
  });
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'zh-CN' });
    const tab = await context.newPage();
    tab.on('pageerror', (e) => report('page-error', { message: String(e) }));
    let signingOut = false;  // then the API's 401 is what is expected
    tab.on('console', (m) => {
      if (m.type() === 'error' && !signingOut) report('console-error', { message: m.text() });
    });
    const shot = (name) => tab.screenshot({ path: path.join(spec.out_dir, `console-${name}.png`), fullPage: true });

    // The address chemaudit login printed: the ticket opens the session.
    const entered = await tab.goto(spec.enter_url, { waitUntil: 'load' });
    await tab.waitForSelector('body[data-ready="true"], #signed-out:not([hidden])', { timeout: 20000 });
    const cookies = await context.cookies();
    report('entered', {
      status: entered.status(), url: tab.url(),
      who: await tab.locator('#who').textContent(),
      signed_out: await tab.locator('#signed-out').isVisible(),
      pin_warning: await tab.locator('#pin').isVisible(),
      pin_text: await tab.locator('#pin').textContent(),
      cookie: cookies.map((c) => ({ name: c.name, httpOnly: c.httpOnly, secure: c.secure, sameSite: c.sameSite, path: c.path })),
      script_sees_cookie: await tab.evaluate(() => document.cookie),
    });

    // A code's life, every proof checked in the page.
    report('timeline', await searchCode(tab));
    await shot('timeline');

    // Again: now consistent with the checkpoint this browser kept.
    report('timeline-again', await searchCode(tab));

    // A proof changed in flight: that event, and only it, fails.
    await tab.route('**/console/api/GetHistoryBundle', async (route) => {
      const response = await route.fetch();
      const bundle = await response.json();
      const e = bundle.events[1];
      e.inclusion_proof[0] = flip(e.inclusion_proof[0], 7);
      await route.fulfill({ response, json: bundle });
    });
    report('tampered-proof', await searchCode(tab));
    await shot('tampered-proof');
    await tab.unroute('**/console/api/GetHistoryBundle');

    // An event left out of the history: the next one's chain shows it.
    await tab.route('**/console/api/GetHistoryBundle', async (route) => {
      const response = await route.fetch();
      const bundle = await response.json();
      bundle.events.splice(1, 1);
      await route.fulfill({ response, json: bundle });
    });
    report('dropped-event', await searchCode(tab));
    await tab.unroute('**/console/api/GetHistoryBundle');

    // The checkpoint's signature changed in flight: nothing is proved.
    await tab.route('**/console/api/GetHistoryBundle', async (route) => {
      const response = await route.fetch();
      const bundle = await response.json();
      const note = bundle.checkpoint.signed_note;
      const line = note.lastIndexOf('\u2014 ');
      const [dash, name, sig] = note.slice(line).trim().split(' ');
      bundle.checkpoint.signed_note = note.slice(0, line) + `${dash} ${name} ${flip(sig, 20)}\n`;
      await route.fulfill({ response, json: bundle });
    });
    report('tampered-signature', await searchCode(tab));
    await shot('tampered-signature');
    await tab.unroute('**/console/api/GetHistoryBundle');

    // An enterprise: its events and its stock now.
    await tab.selectOption('#search-kind', 'enterprise');
    await tab.fill('#search-text', spec.enterprise);
    await tab.click('#search-form button[type="submit"]');
    await tab.waitForSelector('#search-result table + h3 + table', { timeout: 20000 });
    report('enterprise', { rows: await tab.locator('#search-result table').first().locator('tbody tr').count(),
                           stock: await tab.locator('#search-result table').last().locator('tbody tr').allTextContents() });
    await shot('enterprise');

    // Anomalies.
    await tab.click('nav button[data-tab="anomalies"]');
    await tab.click('#anomalies-form button[type="submit"]');
    await tab.waitForSelector('#anomalies-result table', { timeout: 20000 });
    report('anomalies', { rows: await tab.locator('#anomalies-result tbody tr').allTextContents() });
    await shot('anomalies');

    // Reconciliation for the year, with its chart.
    await tab.click('nav button[data-tab="reconcile"]');
    await tab.fill('#rec-enterprise', spec.enterprise);
    await tab.fill('#rec-year', String(spec.year));
    await tab.click('#reconcile-form button[type="submit"]');
    await tab.waitForSelector('#reconcile-balance', { timeout: 30000 });
    await tab.waitForFunction(() => !document.getElementById('reconcile-chart').hidden, null, { timeout: 30000 });
    await tab.waitForTimeout(300);
    report('reconcile', {
      balance: await tab.locator('#reconcile-balance').textContent(),
      rows: await tab.locator('#reconcile-result tbody tr').allTextContents(),
      chart_drawn: await tab.evaluate(() => {
        const c = document.getElementById('reconcile-chart');
        return c.width > 0 && c.height > 0 && typeof Chart !== 'undefined' && Chart.getChart(c) !== undefined;
      }),
    });
    await shot('reconcile');

    // Stock now at the enterprise.
    await tab.click('nav button[data-tab="stock"]');
    await tab.fill('#stock-enterprise', spec.enterprise);
    await tab.click('#stock-form button[type="submit"]');
    await tab.waitForSelector('#stock-result table', { timeout: 20000 });
    report('stock', { rows: await tab.locator('#stock-result tbody tr').allTextContents() });
    await shot('stock');

    // In transit now, in the enterprise's park-less world: the tab answers.
    await tab.click('nav button[data-tab="transit"]');
    await tab.fill('#transit-enterprise', spec.enterprise);
    await tab.click('#transit-form button[type="submit"]');
    await tab.waitForSelector('#transit-result table', { timeout: 20000 });
    report('transit', { text: await tab.locator('#transit-result p').first().textContent(),
                        rows: await tab.locator('#transit-result tbody tr').count() });
    await shot('transit');

    // Signed out: the API answers no more.
    signingOut = true;
    await tab.click('#logout');
    await tab.waitForSelector('#signed-out:not([hidden])', { timeout: 10000 });
    const after = await tab.evaluate(async () => (await fetch('/console/api/session')).status);
    report('signed-out', { session_status: after });
    await context.close();
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
