// Opens scan pages in Debian's Chromium, headless, as a phone on a slow 4G
// connection would, and reports what it saw: one JSON object per page on
// stdout. The test that runs it (tests/scan_page_browser_test.cc) decides
// what must hold; this script only looks and measures.
//
// Usage: node scan_pages.js SPEC.json
//   SPEC: {"base": "http://127.0.0.1:PORT", "out_dir": DIR,
//          "pages": [{"name": "genuine", "path": "/..."}, ...]}
// For each page, in a fresh browser context (empty cache):
//   - with JavaScript off (as a page must work in WeChat's browser): the
//     verdict word and its colour, horizontal overflow, broken images, a
//     full-page screenshot DIR/<name>.png at a phone's viewport;
//   - with JavaScript on, throttled to slow 4G (150 ms round trip, 1.6 Mbit/s
//     down, 750 kbit/s up, as Lighthouse's mobile profile): the time to the
//     load event, bytes transferred, and every request that left the server.
// playwright-core comes from tools/install-deps.sh
// (/usr/local/share/chemledger/browser-tests), found through NODE_PATH.

'use strict';
const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

const PHONE = {
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 3,
  isMobile: true,
  hasTouch: true,
  locale: 'zh-CN',
  userAgent:
    'Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) ' +
    'Chrome/120.0 Mobile Safari/537.36 MicroMessenger/8.0',
};
const SLOW_4G = {
  offline: false,
  latency: 150,
  downloadThroughput: (1.6 * 1024 * 1024) / 8,
  uploadThroughput: (750 * 1024) / 8,
};

async function look(browser, base, page, outDir) {
  const context = await browser.newContext({ ...PHONE, javaScriptEnabled: false });
  const tab = await context.newPage();
  const response = await tab.goto(base + page.path, { waitUntil: 'load' });
  const word = (await tab.locator('header .word').textContent()) || '';
  const headerClass = (await tab.locator('header').getAttribute('class')) || '';
  const background = await tab
    .locator('header')
    .evaluate((e) => getComputedStyle(e).backgroundColor);
  const overflow = await tab.evaluate(
    () => document.documentElement.scrollWidth > window.innerWidth + 1);
  const brokenImages = await tab.evaluate(
    () => Array.from(document.images).filter((i) => !i.complete || i.naturalWidth === 0).length);
  const images = await tab.evaluate(() => document.images.length);
  const text = await tab.locator('body').innerText();
  await tab.screenshot({ path: path.join(outDir, page.name + '.png'), fullPage: true });
  await context.close();
  return { status: response.status(), word, headerClass, background, overflow, images,
           brokenImages, text };
}

async function time(browser, base, page) {
  const context = await browser.newContext(PHONE);
  const tab = await context.newPage();
  const cdp = await context.newCDPSession(tab);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  await cdp.send('Network.emulateNetworkConditions', SLOW_4G);
  let bytes = 0;
  cdp.on('Network.loadingFinished', (e) => { bytes += e.encodedDataLength; });
  const external = [];
  tab.on('request', (r) => { if (!r.url().startsWith(base)) external.push(r.url()); });
  const started = Date.now();
  await tab.goto(base + page.path, { waitUntil: 'load' });
  const loadMs = Date.now() - started;
  const navigation = await tab.evaluate(() => {
    const n = performance.getEntriesByType('navigation')[0];
    const paint = performance.getEntriesByName('first-contentful-paint')[0];
    return { loadEventEnd: n.loadEventEnd, fcp: paint ? paint.startTime : -1 };
  });
  await context.close();
  return { loadMs, loadEventMs: Math.round(navigation.loadEventEnd),
           firstContentfulPaintMs: Math.round(navigation.fcp), bytes, external };
}

async function main() {
  const spec = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  fs.mkdirSync(spec.out_dir, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
  try {
    for (const page of spec.pages) {
      const seen = await look(browser, spec.base, page, spec.out_dir);
      const timed = await time(browser, spec.base, page);
      process.stdout.write(JSON.stringify({ name: page.name, ...seen, ...timed }) + '\n');
    }
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  process.stderr.write('scan_pages.js: ' + (e && e.stack ? e.stack : e) + '\n');
  process.exit(1);
});
