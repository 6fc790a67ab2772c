// Works the staff app (/app/) in Debian's Chromium, headless, at a phone's
// viewport, as warehouse staff would, and reports what it saw: one JSON
// object per step on stdout. The test that runs it
// (tests/staff_app_e2e_test.cc) registers the devices' keys, checks the
// ledger afterwards and decides what must hold; this script only acts and
// looks.
//
// Usage: node staff_app.js SPEC.json
//   SPEC: {"base": "http://127.0.0.1:PORT", "out_dir": DIR, "handshake_dir": DIR,
//          "labels": [URL, ...], "waybill": NUMBER, "site": SITE_ID,
//          "photo": PNG FILE (label 1)}
// Enrolment handshake, per device NAME: the script writes
// HANDSHAKE/NAME.key (the base64 public key the page shows) and waits for
// HANDSHAKE/NAME.registered, which the test creates once it has registered
// the key as an actor.

'use strict';
const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

const PHONE = {
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 2,
  isMobile: true,
  hasTouch: true,
  locale: 'zh-CN',
};

const spec = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const report = (step, fields) => console.log(JSON.stringify({ step, ...fields }));

async function waitForFile(file, seconds) {
  for (let i = 0; i < seconds * 10; ++i) {
    if (fs.existsSync(file)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('no ' + file + ' after ' + seconds + ' s');
}

// Opens the app on a fresh phone, makes its key, has the test register it.
async function enrol(browser, name) {
  const context = await browser.newContext(PHONE);
  const tab = await context.newPage();
  tab.on('pageerror', (e) => report('page-error', { device: name, message: String(e) }));
  const response = await tab.goto(spec.base + '/app/', { waitUntil: 'load' });
  await tab.click('#make-key');
  await tab.waitForSelector('#key-info:not([hidden])');
  const command = await tab.locator('#enrol-command').textContent();
  const publicKey = /--public-key (\S+)/.exec(command)[1];
  const keyId = await tab.locator('#key-id').textContent();
  fs.writeFileSync(path.join(spec.handshake_dir, name + '.key'), publicKey);
  await waitForFile(path.join(spec.handshake_dir, name + '.registered'), 60);
  await tab.click('#check-enrolment');
  await tab.waitForSelector('#work:not([hidden])', { timeout: 20000 });
  report('enrolled', { device: name, status: response.status(), key_id: keyId,
                       who: await tab.locator('#who').textContent(),
                       sites: await tab.locator('#site option').allTextContents() });
  return { context, tab };
}

async function scan(tab, text) {
  await tab.fill('#scan', text);
  await tab.press('#scan', 'Enter');
}

async function texts(tab, selector) { return tab.locator(selector).allTextContents(); }

async function lists(tab) {
  return (await texts(tab, '#comparison h3')).map((t) => t.trim());
}

async function waitRecorded(tab, count) {
  await tab.waitForFunction((n) => document.querySelectorAll('#queue li.done').length >= n,
                           count, { timeout: 20000 });
}

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox'],
  });
  try {
    const L = spec.labels;

    // Goods out at the producer: labels 1 and 2 of the waybill's three, and
    // label 4, which is not on it.
    const producer = await enrol(browser, 'producer');
    let tab = producer.tab;
    await tab.selectOption('#task', 'ship');
    await tab.fill('#waybill', spec.waybill);
    await tab.click('#load-waybill');
    await tab.waitForFunction(() => document.querySelector('#waybill-info').textContent !== '');
    for (const url of [L[0], L[1], L[3]]) await scan(tab, url);
    // The verdicts come from VerifyService.
    await tab.waitForFunction(() => document.querySelectorAll('#scanned li .genuine').length === 3,
                              null, { timeout: 10000 });
    const beforeShip = { lists: await lists(tab), scanned: await texts(tab, '#scanned li') };
    await tab.click('#submit');
    await waitRecorded(tab, 1);
    // The waybill is kept on the device for working offline, without its
    // crew's names, qualification numbers and phones.
    const kept = await tab.evaluate(() => localStorage.getItem('chemledger-staff') || '');
    report('shipped', { ...beforeShip, message: await tab.locator('#message').textContent(),
                        queue: await texts(tab, '#queue li'),
                        waybill_kept: String(kept.includes('YD-APP-1')),
                        crew_kept: String(kept.includes('qualification_number') ||
                                          kept.includes('"driver"')) });
    await tab.screenshot({ path: path.join(spec.out_dir, 'staff-app-ship.png'), fullPage: true });
    await producer.context.close();

    // Goods in at the consignee, offline: the waybill loaded while online,
    // then the connection lost; the scans are signed and queued with their
    // own time, and go in when the connection is back.
    const consignee = await enrol(browser, 'consignee');
    tab = consignee.tab;
    await tab.selectOption('#task', 'receive');
    await tab.fill('#waybill', spec.waybill);
    await tab.click('#load-waybill');
    await tab.waitForFunction(() => document.querySelector('#waybill-info').textContent !== '');
    await tab.evaluate(() => navigator.serviceWorker.ready);
    // The label keys' trust list, fetched at sign-in, for verdicts offline.
    await tab.waitForFunction(() => localStorage.getItem('chemledger-staff-trust') !== null,
                              null, { timeout: 10000 });
    await consignee.context.setOffline(true);
    await scan(tab, L[0]);
    await scan(tab, L[1]);
    // Told from the trust list the page fetched while online: genuine
    // signatures, the packages' state not known yet.
    await tab.waitForFunction(
        () => [...document.querySelectorAll('#scanned li')].filter((li) => li.textContent.includes('离线核验')).length === 2,
        null, { timeout: 10000 });
    const scannedOffline = await texts(tab, '#scanned li');
    await scan(tab, 'not a label');
    const unreadable = await tab.locator('#message').textContent();
    const scannedAt = Math.floor(Date.now() / 1000);
    await tab.click('#submit');
    await tab.waitForFunction(() => document.querySelector('#pending').textContent === '待提交 1');
    const offline = { pending: await tab.locator('#pending').textContent(),
                      network: await tab.locator('#network').textContent(),
                      queue: await texts(tab, '#queue li'), unreadable, scanned_at: scannedAt,
                      scanned: scannedOffline,
                      message: await tab.locator('#message').textContent() };
    await tab.screenshot({ path: path.join(spec.out_dir, 'staff-app-offline.png'), fullPage: true });
    // Reloaded without a connection, the page opens from its service
    // worker's copy, signed in, with the queue still there.
    await tab.reload({ waitUntil: 'load' });
    await tab.waitForSelector('#work:not([hidden])', { timeout: 10000 });
    offline.reloaded = { pending: await tab.locator('#pending').textContent(),
                         who: await tab.locator('#who').textContent() };
    await new Promise((r) => setTimeout(r, 3000));
    await consignee.context.setOffline(false);
    await tab.evaluate(() => window.dispatchEvent(new Event('online')));
    await tab.fill('#waybill', spec.waybill);
    await waitRecorded(tab, 1);
    report('received-offline', { ...offline, online_at: Math.floor(Date.now() / 1000),
                                 queue_after: await texts(tab, '#queue li'),
                                 pending_after: await tab.locator('#pending').textContent() });

    // Store-in at the site: label 1, by a photo the server decodes.
    await tab.selectOption('#task', 'store');
    const photoRequests = [];  // the paths the page asked for while it read the photo
    const onRequest = (r) => photoRequests.push(new URL(r.url()).pathname);
    tab.on('request', onRequest);
    await tab.setInputFiles('#photo', spec.photo);
    await tab.waitForFunction(() => document.querySelectorAll('#scanned li').length === 1,
                              null, { timeout: 20000 });
    tab.off('request', onRequest);
    const photo = { message: await tab.locator('#message').textContent(),
                    scanned: await texts(tab, '#scanned li'), requests: photoRequests };
    await tab.click('#submit');
    await waitRecorded(tab, 2);
    report('stored', { photo, queue: await texts(tab, '#queue li') });

    // A stock-take at the site: label 2 scanned, label 1 not; label 4,
    // which is not here, scanned too. Label 2 arrives in lower case (a
    // reader with caps lock): it is taken upper-cased and verifies.
    await tab.selectOption('#task', 'stocktake');
    await scan(tab, L[1].toLowerCase());
    await scan(tab, L[3]);
    await tab.waitForFunction(() => document.querySelectorAll('#scanned li .genuine').length === 2,
                              null, { timeout: 10000 });
    await tab.click('#submit');
    await tab.waitForFunction(() => document.querySelectorAll('#comparison h3').length === 2);
    report('stocktake', { message: await tab.locator('#message').textContent(),
                          lists: await lists(tab),
                          items: await texts(tab, '#comparison li') });
    await tab.screenshot({ path: path.join(spec.out_dir, 'staff-app-stocktake.png'),
                           fullPage: true });

    // A forged label (label 1's, a signature character changed) of a package
    // in this consignee's custody: 伪, and never booked, though the ledger
    // would take the code.
    const at = L[0].length - 10;
    const forged = L[0].slice(0, at) + (L[0][at] === 'A' ? 'B' : 'A') + L[0].slice(at + 1);
    await tab.click('#clear');
    await tab.selectOption('#task', 'store');
    await scan(tab, forged);
    await tab.waitForFunction(() => document.querySelectorAll('#scanned li .fake').length === 1,
                              null, { timeout: 10000 });
    const queueBefore = (await texts(tab, '#queue li')).length;
    await tab.click('#submit');
    await tab.waitForFunction(() => document.querySelector('#message').textContent.includes('核验未通过'));
    report('forged', { scanned: await texts(tab, '#scanned li'),
                       message: await tab.locator('#message').textContent(),
                       queue_grew: (await texts(tab, '#queue li')).length - queueBefore,
                       pending: await tab.locator('#pending').textContent() });
    await tab.screenshot({ path: path.join(spec.out_dir, 'staff-app-forged.png'), fullPage: true });
    await tab.click('#clear');

    // The same offline: the trust list kept on the phone shows it forged at
    // once; it is neither held nor booked.
    const doneBefore = (await texts(tab, '#queue li.done')).length;
    const queueBeforeOffline = (await texts(tab, '#queue li')).length;
    await consignee.context.setOffline(true);
    await scan(tab, forged);
    await tab.waitForFunction(() => document.querySelectorAll('#scanned li .fake').length === 1,
                              null, { timeout: 10000 });
    const scannedForged = await texts(tab, '#scanned li');
    await tab.click('#submit');
    await tab.waitForFunction(() => document.querySelector('#message').textContent.includes('核验未通过'));
    await tab.screenshot({ path: path.join(spec.out_dir, 'staff-app-forged-offline.png'),
                           fullPage: true });
    const message = await tab.locator('#message').textContent();
    await consignee.context.setOffline(false);
    await tab.evaluate(() => window.dispatchEvent(new Event('online')));
    await new Promise((r) => setTimeout(r, 1000));
    report('forged-offline', { scanned: scannedForged, message,
                               queue_grew: (await texts(tab, '#queue li')).length - queueBeforeOffline,
                               pending: await tab.locator('#pending').textContent(),
                               done_grew: (await texts(tab, '#queue li.done')).length - doneBefore });

    // A label the phone cannot judge offline (its signed part one character
    // short: not a label this page reads) is held unsigned, verified when
    // the connection is back, and then listed as not booked; nothing is sent.
    const heldBefore = (await texts(tab, '#queue li.done')).length;
    await tab.click('#clear');
    await consignee.context.setOffline(true);
    await scan(tab, L[0].slice(0, -1));
    await tab.click('#submit');
    await tab.waitForFunction(() => document.querySelector('#pending').textContent === '待提交 1');
    const held = { pending: await tab.locator('#pending').textContent(),
                   queue: await texts(tab, '#queue li') };
    await consignee.context.setOffline(false);
    await tab.evaluate(() => window.dispatchEvent(new Event('online')));
    await tab.waitForFunction(() => document.querySelector('#queue li.refused') !== null,
                              null, { timeout: 20000 });
    report('held-offline', { held, refused: await texts(tab, '#queue li.refused'),
                             pending: await tab.locator('#pending').textContent(),
                             done_grew: (await texts(tab, '#queue li.done')).length - heldBefore });

    // A refusal is shown, not queued again: storing label 4, which is in
    // the producer's custody, not the consignee's.
    await tab.selectOption('#task', 'store');
    await scan(tab, L[3]);
    const refusedBefore = (await texts(tab, '#queue li.refused')).length;
    await tab.click('#submit');
    await tab.waitForFunction((n) => document.querySelectorAll('#queue li.refused').length > n,
                              refusedBefore, { timeout: 20000 });
    await tab.waitForFunction(() => document.querySelector('#pending').textContent === '待提交 0');
    report('refused', { refused: await texts(tab, '#queue li.refused'),
                        pending: await tab.locator('#pending').textContent() });
    await consignee.context.close();
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
