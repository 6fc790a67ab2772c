// ChemLedger 仓库作业: the staff app (docs/staff-app.md).
//
// Goods in and out against a waybill, store-in and stock-take at a
// registered site, by scanning labels with a handheld scanner (which types
// the label's URL into the scan field and presses Enter) or a phone photo
// that the server decodes.
//
// Signed in means: this browser holds an Ed25519 key, made here and never
// extractable (WebCrypto, kept in IndexedDB), that the enterprise's admin
// registered as an actor. Every event is a signed envelope made here, as
// every other client makes them (docs/signatures.md): the app writes the
// chemledger.v1.Event bytes itself, signs PAE(context, bytes) and sends
// them through the server's HTTP bridge (web/api_bridge.h) to
// LedgerService.Append, which checks every rule. Signing needs no network,
// so a scan made offline is signed at once with its own time and kept in a
// queue on the device (localStorage, one key per record, so that two tabs
// never overwrite each other's) until the server takes it; a retry sends the
// same bytes, which the ledger answers with the first receipt.
'use strict';

const $ = (id) => document.getElementById(id);
const te = new TextEncoder();
const EVENT_CONTEXT = 'application/vnd.chemledger.event.v1+protobuf';
const READ_CONTEXT = 'application/vnd.chemledger.read.v2';
const METHOD = {
  deployment: '/chemledger.v1.RegistryService/GetDeployment',
  actor: '/chemledger.v1.RegistryService/GetActor',
  sites: '/chemledger.v1.RegistryService/ListSites',
  waybill: '/chemledger.v1.WaybillService/GetWaybill',
  stock: '/chemledger.v1.LedgerService/ListStock',
  verify: '/chemledger.v1.VerifyService/Verify',
  trustList: '/chemledger.v1.LabelService/GetTrustList',
  append: '/chemledger.v1.LedgerService/Append',
};
const STEP = { STORING: 2, SHIPPING: 3, RECEIVING: 4 };
const MAX_CODES_PER_EVENT = 1000;  // api/wire.h kMaxCodesPerEvent
const CHINA_OFFSET_MINUTES = 480;
const TASK_NAMES = { receive: '收货', ship: '发货', store: '入库', stocktake: '盘点' };

// ---- Bytes.

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}
const hex = (u8) => Array.from(u8, (x) => x.toString(16).padStart(2, '0')).join('');
function base64(u8) {
  let s = '';
  for (let i = 0; i < u8.length; i += 0x8000) {
    s += String.fromCharCode.apply(null, u8.subarray(i, i + 0x8000));
  }
  return btoa(s);
}
const unbase64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
async function sha256(u8) { return new Uint8Array(await crypto.subtle.digest('SHA-256', u8)); }

// The Protobuf wire format, for the few messages the app sends.
class ProtoWriter {
  constructor() { this.bytes = []; }
  varint(n) {
    let v = BigInt.asUintN(64, BigInt(n));
    while (v > 127n) { this.bytes.push(Number(v & 127n) | 128); v >>= 7n; }
    this.bytes.push(Number(v));
    return this;
  }
  tag(field, wireType) { return this.varint(field * 8 + wireType); }
  raw(field, u8) {
    this.tag(field, 2).varint(u8.length);
    for (const x of u8) this.bytes.push(x);
    return this;
  }
  string(field, s) { return s ? this.raw(field, te.encode(s)) : this; }
  uint(field, n) { return n ? this.tag(field, 0).varint(n) : this; }
  message(field, writer) { return this.raw(field, writer.done()); }
  done() { return Uint8Array.from(this.bytes); }
}

// DSSE's pre-authentication encoding (docs/signatures.md).
function pae(type, body) {
  return concat(te.encode(`DSSEv1 ${te.encode(type).length} ${type} ${body.length} `), body);
}

// ---- The device key, in IndexedDB.

function keyStore(mode, action) {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open('chemledger-staff', 1);
    open.onupgradeneeded = () => open.result.createObjectStore('keys');
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const request = action(open.result.transaction('keys', mode).objectStore('keys'));
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    };
  });
}
const loadKey = () => keyStore('readonly', (s) => s.get('device'));
const storeKey = (k) => keyStore('readwrite', (s) => s.put(k, 'device'));
const dropKey = () => keyStore('readwrite', (s) => s.delete('device'));

// A key id (docs/signatures.md, "Key ids").
async function keyIdOf(publicRaw) {
  const id = await sha256(concat(te.encode('chemledger key id v1'), Uint8Array.of(0, 1), publicRaw));
  return hex(id.subarray(0, 8));
}

async function makeKey() {
  // Not extractable: script on this page can sign with it but never read it.
  const pair = await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']);
  const publicRaw = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
  const key = { privateKey: pair.privateKey, publicRaw, keyId: await keyIdOf(publicRaw) };
  await storeKey(key);
  return key;
}

async function sign(context, body) {
  return new Uint8Array(await crypto.subtle.sign({ name: 'Ed25519' }, app.key.privateKey,
                                                  pae(context, body)));
}

// ---- What the device remembers (localStorage).

const STORE = 'chemledger-staff';
const saved = JSON.parse(localStorage.getItem(STORE) || '{}');

// A waybill as kept on the device for working offline: what the page reads
// of it, without its signed changes (which can be large) and without its
// crew (names, 从业资格证号 and phones: personal data the page never shows,
// not to be left on a shared warehouse device).
function keptWaybill(record) {
  const { changes, ...kept } = record || {};
  if (kept.waybill) {
    const { driver, escort, ...waybill } = kept.waybill;
    kept.waybill = waybill;
  }
  return kept;
}
const app = {
  key: null,
  origin: saved.origin || '',
  actor: saved.actor || null,
  sites: saved.sites || [],
  // number -> WaybillRecord (JSON), for working offline; keyed by what was
  // scanned or typed, so with no prototype ("__proto__" is a number too)
  waybills: Object.assign(Object.create(null), Object.fromEntries(
      Object.entries(saved.waybills || {}).map(([n, w]) => [n, keptWaybill(w)]))),
  clockOffset: saved.clockOffset || 0,  // server clock - device clock, seconds
  task: saved.task || 'receive',
  site: saved.site || '',
  scanned: new Map(),  // code -> {url, at, verdict, note}
  online: navigator.onLine,
};
function save() {
  localStorage.setItem(STORE, JSON.stringify({
    origin: app.origin, actor: app.actor, sites: app.sites, waybills: app.waybills,
    clockOffset: app.clockOffset, task: app.task, site: app.site,
  }));
}

// The queue: one localStorage key per record, {id, seq, what, envelope, at,
// state: 'pending' | 'done' | 'refused' | 'held', message, log_index}. A
// held record is what was scanned offline for booking, {held: {step, at,
// scans: [{code, url}], consignee, waybill}}, not yet signed: its labels are
// verified when the device is online, and only the genuine ones are signed
// and sent. Read afresh each time: another tab may have added or sent records.
const QUEUE = 'chemledger-staff-queue/';
function queueItems() {
  const items = [];
  for (let i = 0; i < localStorage.length; ++i) {
    const key = localStorage.key(i);
    if (!key.startsWith(QUEUE)) continue;
    try { items.push(JSON.parse(localStorage.getItem(key))); } catch (e) { /* not ours */ }
  }
  return items.sort((a, b) => a.seq - b.seq);
}
const putItem = (item) => localStorage.setItem(QUEUE + item.id, JSON.stringify(item));
const dropItem = (item) => localStorage.removeItem(QUEUE + item.id);
const waiting = (i) => i.state === 'pending' || i.state === 'held';
const pendingCount = () => queueItems().filter(waiting).length;
let nextSeq = Date.now() * 1000;

// A waybill kept for working offline (keptWaybill); at most 20 kept.
function keepWaybill(number, record) {
  delete app.waybills[number];
  app.waybills[number] = keptWaybill(record);
  const numbers = Object.keys(app.waybills);
  for (const old of numbers.slice(0, Math.max(0, numbers.length - 20))) delete app.waybills[old];
  save();
}
// Seconds on the server's clock (event times must not be in its future).
const now = () => Math.floor(Date.now() / 1000) + app.clockOffset;

// ---- Calls, through the server's HTTP bridge.

class Offline extends Error { constructor() { super('没有网络连接'); } }
class Refusal extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

async function call(method, body, { read = true } = {}) {
  const headers = { 'Content-Type': 'application/x-protobuf' };
  if (read) {
    const time = String(now());
    const nonce = hex(crypto.getRandomValues(new Uint8Array(16)));
    const text = [app.origin, method, time, nonce, hex(await sha256(body))].join('\n');
    const signature = await sign(READ_CONTEXT, te.encode(text));
    Object.assign(headers, {
      'chemledger-key-id': app.key.keyId, 'chemledger-time': time,
      'chemledger-nonce': nonce, 'chemledger-signature': base64(signature),
    });
  }
  let response;
  try {
    response = await fetch('/app/rpc' + method, { method: 'POST', headers, body, cache: 'no-store' });
  } catch (e) {
    setOnline(false);
    throw new Offline();
  }
  setOnline(true);
  const serverTime = Number(response.headers.get('X-ChemLedger-Time'));
  if (serverTime > 0) app.clockOffset = serverTime - Math.floor(Date.now() / 1000);
  let json = null;
  try { json = await response.json(); } catch (e) { /* an answer that is not ours */ }
  if (json === null || typeof json !== 'object') {
    // Too large for a proxy on the way: sending it again will not help.
    if (response.status === 413) {
      throw new Refusal(413, 'RESOURCE_EXHAUSTED', '请求过大，无法提交');
    }
    // Not this server's answer (a proxy's or a captive portal's page):
    // nothing was decided; try again later.
    throw new Refusal(response.status || 502, 'NOT_OURS', '服务器暂时无法应答');
  }
  if (!response.ok) {
    throw new Refusal(response.status, json.code || String(response.status),
                      json.message || response.statusText);
  }
  return json;
}

function setOnline(online) {
  app.online = online;
  const badge = $('network');
  badge.textContent = online ? '在线' : '离线';
  badge.className = online ? 'badge' : 'badge offline';
}

// ---- Signing in.

function showEnrolment() {
  $('enrol').hidden = false;
  $('work').hidden = true;
  $('queue-section').hidden = queueItems().length === 0;
  if (!app.key) { $('key-info').hidden = true; $('make-key').hidden = false; return; }
  $('make-key').hidden = true;
  $('key-info').hidden = false;
  $('key-id').textContent = app.key.keyId;
  $('enrol-command').textContent =
      'chemctl registry actor add --name <姓名> --role enterprise_operator \\\n' +
      '  --enterprise <统一社会信用代码> \\\n' +
      `  --public-key ${base64(app.key.publicRaw)} \\\n` +
      '  --key <管理员密钥文件> --server <服务器地址>';
}

async function checkEnrolment() {
  const message = $('enrol-message');
  message.textContent = '正在查询…';
  try {
    if (!app.origin) {
      app.origin = (await call(METHOD.deployment, new Uint8Array(), { read: false })).checkpoint_origin;
    }
    const actor = await call(METHOD.actor, new ProtoWriter().string(1, app.key.keyId).done());
    if (!actor.enterprise_uscc) {
      message.textContent = '此密钥登记的角色不属于企业，不能在此作业。';
      return;
    }
    app.actor = { name: actor.name, enterprise_uscc: actor.enterprise_uscc, role: actor.role };
    save();
    message.textContent = '';
    await loadSites();
    showWork();
    refreshTrustList();
  } catch (e) {
    message.textContent = e instanceof Refusal && e.status === 401
        ? '尚未登记（或本机时钟不准）：' + e.message
        : e.message;
  }
}

async function loadSites() {
  try {
    const answer = await call(METHOD.sites, new ProtoWriter().string(1, app.actor.enterprise_uscc).done());
    app.sites = (answer.sites || []).map((s) => ({ site_id: s.site_id, name: s.name }));
    save();
  } catch (e) {
    if (!(e instanceof Offline)) note('读取库位失败：' + e.message, 'refused');
  }
}

// ---- Work.

function showWork() {
  $('enrol').hidden = true;
  $('work').hidden = false;
  $('queue-section').hidden = false;
  $('who').textContent = `${app.actor.name} · ${app.actor.enterprise_uscc}`;
  const select = $('site');
  select.textContent = '';
  const sites = app.sites.length ? app.sites : [{ site_id: 'main', name: '（未登记库位）' }];
  for (const s of sites) {
    const option = document.createElement('option');
    option.value = s.site_id;
    option.textContent = `${s.site_id} ${s.name}`;
    select.appendChild(option);
  }
  if (sites.some((s) => s.site_id === app.site)) select.value = app.site;
  app.site = select.value;
  $('task').value = app.task;
  render();
  $('scan').focus();
}

function note(text, kind = '') {
  const message = $('message');
  message.textContent = text;
  message.className = kind;
}

// A scanned text: a label URL, a waybill-code URL, or a code typed in.
// Labels, waybill codes and package codes are upper case throughout
// (docs/label-format.md), so a text a scanner or a keyboard sent in lower
// case (caps lock, a reader's setting) is taken upper-cased: nothing valid
// changes, and the code is the package's own. Only HTTPS URLs are labels.
function parseScan(text) {
  text = text.toUpperCase();
  let m = /^HTTPS:\/\/[^/]+\/W\/([A-Z0-9-]+)\/[A-Z2-7]+$/.exec(text);
  if (m) return { waybill: m[1] };
  m = /^HTTPS:\/\/[^/]+\/([0-9A-Z]{18}\.[^/]+)\/([^/]+)\/[A-Z2-7]+$/.exec(text);
  if (m) return { code: `${m[1]}.${m[2]}`, url: text };
  if (/^[0-9A-Z]{18}\.[^\s/]+$/.test(text)) return { code: text };
  return null;
}

function takeText(text) {
  text = text.trim();
  if (!text) return;
  const scan = parseScan(text);
  if (!scan) { note(`无法识别：${text.slice(0, 80)}`, 'refused'); return; }
  if (scan.waybill) {
    $('waybill').value = scan.waybill;
    loadWaybill();
    return;
  }
  if (app.scanned.has(scan.code)) {
    note(`已扫过：${scan.code}`);
  } else {
    app.scanned.set(scan.code, { url: scan.url || '', at: now(), verdict: '' });
    note(`扫到 ${scan.code}`);
  }
  render();
  verifySoon();
}

// The scan warnings in Chinese, by kind (as the scan page words them); a
// kind this page does not know shows the server's own text.
const WARNING_ZH = {
  LABEL_KEY_REVOKED: '签发密钥已在签发后被吊销（标签信息仍然有效）',
  CODE_VOIDED: '此码已作废，标签可能是复制的',
  PACKAGE_ENDED: '此包装已用完或已处置，标签可能被复制',
  PACKAGE_LOST: '此包装已报告丢失或被盗：请远离，报 110/119',
  SUPPLIER_BLACKLISTED: '供应商已被列入黑名单',
  IN_TRANSIT_ELSEWHERE: '此包装正在运输中，扫描者不是其承运人或收货人',
  PACKAGE_ON_HOLD: '此包装已被封存（暂扣），不得移动或使用',
  PACKAGE_RECALLED: '此包装已被召回，请勿使用',
};
function warningsOf(label) {
  const kinds = label.scan_warnings || [];
  if (!kinds.length) return (label.warnings || []).join('；');
  return kinds.map((w) => WARNING_ZH[w.kind] || w.text).join('；');
}

// The server's verdicts on label URLs (VerifyService.Verify, signed): for
// each, {assessment: 'genuine' | 'suspicious' | 'fake', note}. Throws
// Offline without a connection.
async function verdictsOf(urls) {
  const verdicts = [];
  // 200 a call (Verify takes 1000; answers of 200 stay well within a
  // message's size with every product's safety texts in them).
  for (let first = 0; first < urls.length; first += 200) {
    const part = urls.slice(first, first + 200);
    const request = new ProtoWriter();
    for (const url of part) request.string(1, url);
    const answer = await call(METHOD.verify, request.done());
    const verifications = answer.verifications || [];
    part.forEach((url, i) => {
      const label = (verifications[i] || {}).label;
      verdicts.push(label ? { assessment: label.assessment || 'fake', note: warningsOf(label) }
                          : { assessment: 'fake', note: '不是包装标签' });
    });
  }
  return verdicts;
}

// ---- Verdicts without a connection (docs/label-format.md, "Verifying").
//
// The label keys' trust list (LabelService.GetTrustList, a signed note) is
// fetched while online and kept on the device; offline, a scanned label's
// signature is checked against it. The note's verifier key is taken on first
// use from the server whose page this is (the page's own code comes from it
// too), must be named for the deployment (its checkpoint origin), and is
// kept with the list: a list under another key is refused. A list older
// than the one kept, or already expired, is not taken. An offline check
// decides only what a signature can: a label whose signature fails, or that
// names another resolver, is 伪 and is neither held nor booked; one that
// passes is held as before, as only the server knows whether the package is
// voided, used up, lost or on hold; one the list cannot judge (a key it does
// not hold, which may be newer than the list, or a revoked one) is held for
// the server's verdict.

const LABEL_CONTEXT = 'application/vnd.chemledger.label.v1';
const TRUST = 'chemledger-staff-trust';
const TRUST_REFRESH_SECONDS = 3600;
let trust = JSON.parse(localStorage.getItem(TRUST) || 'null');  // {verifier_key, note, at}
let trustList = null;     // `trust`'s list, parsed once its note is checked
let trustGeneration = 0;  // raised whenever `trust` changes

// RFC 4648 Base32 without padding, upper case; null for anything else.
function unbase32(s) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const out = [];
  let bits = 0, value = 0;
  for (const c of s) {
    const v = alphabet.indexOf(c);
    if (v < 0) return null;
    value = ((value << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) { bits -= 8; out.push((value >> bits) & 0xff); }
  }
  return Uint8Array.from(out);
}

// Standard base64, or null.
function unbase64OrNull(s) {
  try { return unbase64(s); } catch (e) { return null; }
}

async function ed25519Verifies(publicRaw, signature, message) {
  const key = await crypto.subtle.importKey('raw', publicRaw, { name: 'Ed25519' }, false, ['verify']);
  return crypto.subtle.verify({ name: 'Ed25519' }, key, signature, message);
}

// The text of C2SP signed note `note` if the key of verifier key string
// `verifier`, named `name`, signed it; else null (signed_note.js).
async function openNote(note, verifier, name) {
  try {
    const pinned = await SignedNote.parseVerifierKey(verifier || '');
    return pinned.name === name ? await SignedNote.open(note, pinned) : null;
  } catch (e) {
    return null;  // not a verifier key
  }
}

// A real YYYY-MM-DD day (not 2026-02-30).
function isDay(text) {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return false;
  const d = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === text;
}

// A trust list's text (docs/label-format.md, "The trust list"), v2 only,
// read as strictly as the server writes it (crypto/trust_list.cc): the
// lines in order, one space between fields, real days, expires not before
// issued, a key's until not before its from, each key once. Anything else:
// null (the list is not used).
function parseTrustList(text) {
  if (!text.endsWith('\n')) return null;
  const lines = text.slice(0, -1).split('\n');
  const header = /^chemledger-label-trust-list v2$/.exec(lines[0] || '');
  const resolver = /^resolver (\S+)$/.exec(lines[1] || '');
  const issued = /^issued (\S+)$/.exec(lines[2] || '');
  const expires = /^expires (\S+)$/.exec(lines[3] || '');
  if (!header || !resolver || !issued || !expires) return null;
  if (!isDay(issued[1]) || !isDay(expires[1]) || expires[1] < issued[1]) return null;
  const list = { resolver: resolver[1], issued: issued[1], expires: expires[1],
                 keys: Object.create(null) };
  for (const line of lines.slice(4)) {
    const m = /^key ([0-9a-f]{16}) ([A-Za-z0-9+/]{43}=) valid (\S+) (\S+)(?: revoked (\S+))?$/.exec(line);
    if (!m || m[1] in list.keys || !isDay(m[3]) || !isDay(m[4]) || m[4] < m[3] ||
        (m[5] !== undefined && !isDay(m[5]))) {
      return null;
    }
    list.keys[m[1]] = { key: m[2], revoked: m[5] !== undefined };
  }
  return list;
}

// Whether a label's 26 claim bytes hold only what the platform writes
// (docs/label-format.md, "The payload"): UN 1 to 9999, a CAS number's
// digits or 0, a quantity above 0, a unit of A-Z 0-9, no unknown flags.
function claimsWellFormed(claims) {
  const un = (claims[9] << 8) | claims[10];
  let cas = 0;
  for (let i = 11; i < 16; ++i) cas = cas * 256 + claims[i];
  const quantity = ((claims[16] << 24) >>> 0) + (claims[17] << 16) + (claims[18] << 8) + claims[19];
  const unit = String.fromCharCode(claims[20], claims[21], claims[22]);
  return un >= 1 && un <= 9999 && (cas === 0 || (cas >= 10000 && cas <= 9999999999)) &&
         quantity > 0 && /^[A-Z0-9]{3}$/.test(unit) && (claims[25] & 0xe0) === 0;
}

// Today in China (UTC+8) by the server's clock, as YYYY-MM-DD.
const chinaToday = () => new Date((now() + CHINA_OFFSET_MINUTES * 60) * 1000).toISOString().slice(0, 10);

// The kept list, its note checked (once per page load).
async function loadTrustList() {
  if (!trust || trustList || !app.origin) return;
  const kept = trust;
  const text = await openNote(kept.note, kept.verifier_key, app.origin);
  if (trust === kept && !trustList) trustList = text ? parseTrustList(text) : null;
}

// Fetches the trust list while online when the one kept is an hour old (or
// there is none).
async function refreshTrustList() {
  if (!app.online || !app.origin || (trust && now() - trust.at < TRUST_REFRESH_SECONDS)) return;
  let answer;
  try {
    answer = await call(METHOD.trustList, new Uint8Array(), { read: false });
  } catch (e) {
    return;  // offline, or the server's refusal: the list kept (if any) stays
  }
  await loadTrustList();
  const verifier = trust ? trust.verifier_key : answer.verifier_key;
  const text = await openNote(answer.signed_note || '', verifier, app.origin);
  const list = text ? parseTrustList(text) : null;
  if (!list) {
    note('标签信任列表无法验证（不是本机保存的签名密钥所签），离线时无法核验标签', 'refused');
    return;
  }
  // Never an older list than the one kept (a replica behind, an answer
  // replayed), nor one already expired.
  if ((trustList && list.issued < trustList.issued) || list.expires < chinaToday()) return;
  trust = { verifier_key: verifier, note: answer.signed_note, at: now() };
  localStorage.setItem(TRUST, JSON.stringify(trust));
  trustList = list;
  ++trustGeneration;
  for (const [, s] of app.scanned) delete s.offline;  // told again by this list
}

// A label's verdict from the trust list: {assessment: 'fake', note} when its
// signature fails or it names another resolver, 'genuine' (its signature
// only) when it passes, null when it cannot be told here (no list, an
// expired list, a key the list does not hold or marks revoked, a label this
// page does not read): the server decides once online.
async function offlineVerdictOf(url) {
  await loadTrustList();
  const list = trustList;
  if (!list || chinaToday() > list.expires) return null;
  const m = /^HTTPS:\/\/([A-Z0-9.:-]{1,63})\/([0-9A-HJ-NP-RTUW-Y]{18}\.[A-Z0-9]{1,16}\/[A-Z0-9]{1,20}\.[1-9][0-9]{0,8})\/([A-Z2-7]{144})$/.exec(url);
  if (!m) return null;
  const payload = unbase32(m[3]);
  if (!payload || payload.length !== 90 || payload[0] !== 1) return null;
  if (!claimsWellFormed(payload.subarray(0, 26))) return null;  // malformed: the server says so
  if (m[1] !== list.resolver) return { assessment: 'fake', note: '离线核验：不是本平台的标签' };
  const keyId = hex(payload.subarray(1, 9));
  const entry = list.keys[keyId];
  if (!entry || entry.revoked) return null;  // newer than the list, or revoked: the server tells
  const publicRaw = unbase64OrNull(entry.key);
  if (!publicRaw || publicRaw.length !== 32 || await keyIdOf(publicRaw) !== keyId) return null;
  const signed = concat(te.encode(`HTTPS://${m[1]}/${m[2]}/`), payload.subarray(0, 26));
  const genuine = await ed25519Verifies(publicRaw, payload.subarray(26), pae(LABEL_CONTEXT, signed));
  return genuine ? { assessment: 'genuine', note: '离线核验：签名真实，包装状态待联网核验' }
                 : { assessment: 'fake', note: '离线核验：签名不符' };
}

// Offline verdicts for what was scanned and has none from the server.
async function verifyOffline() {
  let changed = false;
  for (const [, s] of app.scanned) {
    if (!s.url || s.verdict || s.offline !== undefined) continue;
    const generation = trustGeneration;
    let verdict = null;
    try { verdict = await offlineVerdictOf(s.url); } catch (e) { verdict = null; }
    if (generation !== trustGeneration) continue;  // a newer list came meanwhile: told again
    s.offline = verdict;
    changed = true;
  }
  if (changed) render();
}

// Verdicts on what was scanned (真 / 可疑 / 伪), when online. True when
// every scanned label has one.
let verifyTimer = 0;
function verifySoon() {
  clearTimeout(verifyTimer);
  verifyTimer = setTimeout(verifyScanned, 300);
}
async function verifyScanned() {
  const unchecked = [...app.scanned.entries()].filter(([, s]) => s.url && !s.verdict);
  if (!unchecked.length) return true;
  if (!app.online) { await verifyOffline(); return false; }
  try {
    const verdicts = await verdictsOf(unchecked.map(([, s]) => s.url));
    unchecked.forEach(([code], i) => {
      const scanned = app.scanned.get(code);
      if (!scanned) return;
      scanned.verdict = verdicts[i].assessment;
      scanned.note = verdicts[i].note;
    });
    render();
    return true;
  } catch (e) {
    if (!(e instanceof Offline)) note('核验失败：' + e.message, 'refused');
    await verifyOffline();
    return false;
  }
}

async function loadWaybill({ quiet = false } = {}) {
  const number = $('waybill').value.trim();
  if (!number) return;
  try {
    const record = await call(METHOD.waybill, new ProtoWriter().string(1, number).done());
    keepWaybill(number, record);
    if (!quiet) note(`已加载运单 ${number}`);
  } catch (e) {
    if (e instanceof Offline) {
      note(app.waybills[number] ? `离线：使用已保存的运单 ${number}` : `离线：运单 ${number} 未曾加载`,
           'pending');
    } else {
      note(`运单 ${number}：${e.message}`, 'refused');
    }
  }
  render();
}

// The codes the current waybill still expects for this task, or null.
function expectedCodes() {
  const record = app.waybills[$('waybill').value.trim()];
  if (!record || (app.task !== 'receive' && app.task !== 'ship')) return null;
  const expected = new Set();
  if (app.task === 'receive') {
    for (const c of record.shipped || []) expected.add(c);
    for (const c of record.received || []) expected.delete(c);
  } else {
    for (const line of record.waybill.goods || []) for (const c of line.codes || []) expected.add(c);
    for (const c of record.shipped || []) expected.delete(c);
  }
  return expected;
}

const WAYBILL_STATUS = {
  OPEN: '有效（未发车）', DEPARTED: '运输中', ARRIVED: '已到达', CLOSED: '已关闭',
  CANCELLED: '已取消', PENDING: '待托运人确认',
};
const VERDICT = { genuine: ['真', 'genuine'], suspicious: ['可疑', 'suspicious'], fake: ['伪', 'fake'] };

function listOf(title, codes, kind) {
  const box = document.createElement('div');
  const h = document.createElement('h3');
  h.textContent = `${title} ${codes.length}`;
  h.className = kind;
  box.appendChild(h);
  const ul = document.createElement('ul');
  for (const c of codes) {
    const li = document.createElement('li');
    li.textContent = c;
    ul.appendChild(li);
  }
  box.appendChild(ul);
  return box;
}

function render() {
  const queue = queueItems();
  $('pending').textContent = `待提交 ${queue.filter(waiting).length}`;
  if (!app.actor) return;
  const byWaybill = app.task === 'receive' || app.task === 'ship';
  $('waybill-row').hidden = !byWaybill;
  $('submit').textContent = app.task === 'stocktake' ? '比对账面' : '提交';
  const record = app.waybills[$('waybill').value.trim()];
  $('waybill-info').textContent = byWaybill && record
      ? `运单 ${record.waybill.waybill_number}：${WAYBILL_STATUS[record.status] || record.status}，` +
        `托运方 ${record.waybill.consignor.name || ''} ${record.waybill.consignor.uscc}，` +
        `收货方 ${record.waybill.consignee.name || ''} ${record.waybill.consignee.uscc}`
      : '';

  const list = $('scanned');
  list.textContent = '';
  for (const [code, s] of app.scanned) {
    const li = document.createElement('li');
    // The server's verdict; else one from the trust list (offline), whose
    // 真 stays grey: the package's state is not known yet.
    const offline = !s.verdict && s.offline ? s.offline : null;
    const [word, kind] = VERDICT[s.verdict || (offline ? offline.assessment : '')] ||
                         ['未核验', 'pending'];
    const verdict = document.createElement('b');
    verdict.textContent = word;
    // Genuine, with something to heed (lost, on hold, recalled, ...).
    verdict.className = s.verdict === 'genuine' && s.note ? 'genuine heed'
        : offline && offline.assessment === 'genuine' ? 'pending' : kind;
    const said = offline ? offline.note : s.note;
    li.append(verdict, ' ', code, said ? `（${said}）` : '');
    list.appendChild(li);
  }
  $('scanned-count').textContent = String(app.scanned.size);

  const comparison = $('comparison');
  comparison.textContent = '';
  const expected = expectedCodes();
  if (expected) {
    comparison.appendChild(listOf('应到未扫', [...expected].filter((c) => !app.scanned.has(c)), 'pending'));
    comparison.appendChild(listOf('不在本运单（不会记录）', [...app.scanned.keys()].filter((c) => !expected.has(c)), 'refused'));
  }
  if (app.task === 'stocktake' && app.stocktake) comparison.append(...app.stocktake);

  const list_ = $('queue');
  list_.textContent = '';
  for (const item of [...queue].reverse()) {
    const li = document.createElement('li');
    li.className = item.state;
    const when = new Date(item.at * 1000).toLocaleString('zh-CN', { hour12: false });
    const state = item.state === 'done' ? `已记录（日志序号 ${item.log_index}）`
        : item.state === 'refused' ? `被拒：${item.message}`
        : item.state === 'held' ? '待联网核验标签后提交' : '待提交';
    li.textContent = `${when} ${item.what} — ${state}`;
    list_.appendChild(li);
  }
}

// Whether a failed call's answer is this server's decision, final: a 4xx
// answer (but 408, 429 and 499), or 501 (UNIMPLEMENTED: this server never
// takes it). Offline, busy, restarting, or an answer that is not the
// ledger's: not final, the same call goes again later.
function isServersDecision(e) {
  return e instanceof Refusal && e.code !== 'NOT_OURS' &&
         ((e.status >= 400 && e.status < 500 && ![408, 429, 499].includes(e.status)) ||
          e.status === 501);
}

// The SHIPPING event's consignee and waybill (fields 11 and 12); a
// RECEIVING event's waybill when it is known (from rules epoch 16 the
// ledger checks that the goods came on it).
function fillFor(step, shipping) {
  if (step === STEP.SHIPPING) {
    return (e) => e.string(11, shipping.consignee).string(12, shipping.waybill);
  }
  if (step === STEP.RECEIVING && shipping && shipping.waybill) {
    return (e) => e.string(12, shipping.waybill);
  }
  return () => {};
}

// One event per 1000 codes, signed now and queued. `from` (a held record)
// gives the events their ids (the same for the same record and part, so an
// event made twice is one to the ledger), their place in the queue and the
// site it was scanned at; without it, new ids, the end of the queue and the
// site chosen now.
async function queueEvents(step, codes, at, shipping, what, from = null) {
  const fill = fillFor(step, shipping);
  for (let first = 0; first < codes.length; first += MAX_CODES_PER_EVENT) {
    const part = codes.slice(first, first + MAX_CODES_PER_EVENT);
    const n = first / MAX_CODES_PER_EVENT;
    const id = from ? `app-${from.id.replace(/^held-/, '')}-${n}`
                    : 'app-' + hex(crypto.getRandomValues(new Uint8Array(16)));
    const event = new ProtoWriter().string(1, id).uint(2, step);
    for (const c of part) event.string(3, c);
    event.message(4, new ProtoWriter().uint(1, at))
        .uint(5, CHINA_OFFSET_MINUTES)
        .message(6, new ProtoWriter().string(1, app.actor.enterprise_uscc)
                                     .string(2, from ? from.held.site : app.site));
    fill(event);
    // The deployment it is for (field 30): no other deployment takes it.
    if (app.origin) event.string(30, app.origin);
    const payload = event.done();
    const signature = await sign(EVENT_CONTEXT, payload);
    const envelope = new ProtoWriter()
        .string(1, EVENT_CONTEXT)
        .raw(2, payload)
        .message(3, new ProtoWriter().string(1, app.key.keyId).raw(2, signature))
        .done();
    // Stored before anything else happens: a full storage refuses here,
    // and the caller says so, with the scans still on the screen.
    // A held record's events take its place in the queue (sent in the order
    // the work was done).
    putItem({ id, seq: from ? from.seq + (n + 1) / 1000 : ++nextSeq,
              what: `${what}，${part.length} 件`, envelope: base64(envelope), at,
              state: 'pending' });
  }
}

// Scans to book once their labels are verified: kept unsigned, with the
// site and waybill they were scanned for.
function hold(step, scans, at, shipping, what, waybill) {
  for (let first = 0; first < scans.length; first += MAX_CODES_PER_EVENT) {
    const part = scans.slice(first, first + MAX_CODES_PER_EVENT);
    putItem({ id: 'held-' + hex(crypto.getRandomValues(new Uint8Array(16))), seq: ++nextSeq,
              what: `${what}，${part.length} 件`, at, state: 'held',
              held: { step, at, scans: part, shipping, what, site: app.site, waybill } });
  }
}

// Held scans, online, oldest first: the genuine ones signed and queued in
// the held record's place, the others listed as not booked (and taken off
// the saved waybill). False while one is left (the connection went): the
// queue behind it waits, so that events go in the order they were made.
async function verifyHeld() {
  for (const item of queueItems()) {
    if (item.state !== 'held') continue;
    const { step, at, scans, shipping, what, waybill } = item.held;
    let verdicts;
    try {
      verdicts = await verdictsOf(scans.map((s) => s.url));
    } catch (e) {
      if (!isServersDecision(e)) return false;  // again later
      // The server's decision (the device's key no longer accepted, say):
      // nothing of this record can be booked.
      item.state = 'refused';
      item.message = '无法核验标签，未记录：' + e.message;
      delete item.held;
      putItem(item);
      continue;
    }
    const genuine = scans.filter((s, i) => verdicts[i].assessment === 'genuine').map((s) => s.code);
    const not = scans.map((s, i) => [s.code, verdicts[i].assessment])
        .filter(([, a]) => a !== 'genuine');
    // Every step stored before the held record goes: a reload in between
    // makes the same events again (the same ids) and the same note.
    if (not.length) {
      putItem({ id: item.id + '-not', seq: item.seq, what: `${what}，${not.length} 件`, at,
                state: 'refused',
                message: '标签核验未通过，未记录：' +
                    not.map(([c, a]) => `${c}（${(VERDICT[a] || ['伪'])[0]}）`).join('、') });
      const saved = waybill && app.waybills[waybill];
      if (saved) {
        const done = step === STEP.RECEIVING ? 'received' : 'shipped';
        const rejected = new Set(not.map(([c]) => c));
        saved[done] = (saved[done] || []).filter((c) => !rejected.has(c));
        save();
      }
    }
    if (genuine.length) await queueEvents(step, genuine, at, shipping, what, item);
    dropItem(item);
  }
  return true;
}

function settle() {
  // Keep what is pending or refused, and the last 50 recorded.
  const done = queueItems().filter((i) => i.state === 'done');
  for (const old of done.slice(0, Math.max(0, done.length - 50))) dropItem(old);
  render();
  flush();
}

let flushing = false;
// One flush at a time across this device's tabs (Web Locks), so that two
// tabs never verify and sign the same held record at once.
async function flush() {
  if (flushing || !app.key) return;
  if (navigator.locks) {
    await navigator.locks.request('chemledger-staff-flush', { ifAvailable: true },
                                  async (lock) => { if (lock) await flushHere(); });
  } else {
    await flushHere();
  }
}
async function flushHere() {
  if (flushing) return;
  flushing = true;
  let sent = false;
  try {
    let heldLeft = false;
    if (queueItems().some((i) => i.state === 'held')) {
      heldLeft = !(app.online && await verifyHeld());
      render();
    }
    const firstHeld = Math.min(...queueItems().filter((i) => i.state === 'held').map((i) => i.seq));
    for (const item of queueItems()) {
      if (item.state !== 'pending') continue;
      if (heldLeft && item.seq > firstHeld) break;  // in order, after what is still held
      try {
        const receipt = await call(METHOD.append, unbase64(item.envelope), { read: false });
        if (receipt.log_index === undefined) break;  // not a receipt: again later
        item.state = 'done';
        item.log_index = receipt.log_index;
        sent = true;
      } catch (e) {
        if (!isServersDecision(e)) break;  // the same bytes go again later
        item.state = 'refused';
        item.message = e.message;
        sent = true;
      }
      putItem(item);
      render();
    }
  } finally {
    flushing = false;
    save();
    render();
  }
  // The saved waybill is read again once nothing waits to be sent (until
  // then it follows what this device booked).
  const number = $('waybill').value.trim();
  if (sent && app.online && number && app.waybills[number] && pendingCount() === 0) {
    await loadWaybill({ quiet: true });
  }
}

let submitting = false;
async function submit() {
  if (submitting) return;  // a second tap while the first is signing
  submitting = true;
  $('submit').disabled = true;
  try {
    await submitScans();
  } catch (e) {
    note('未能保存：' + (e && e.name === 'QuotaExceededError'
        ? '本机存储已满，请联网提交后再试；已扫描的包装仍在列表中' : e.message), 'refused');
  } finally {
    submitting = false;
    $('submit').disabled = false;
  }
}

// What is booked: only labels the server verified genuine. Online, every
// scanned label is verified first; a fake or suspicious one, or a code typed
// in (no label to verify), is never booked. Offline, a label the trust list
// shows forged is not booked either; the others are held (unsigned) and
// verified when the connection is back.
async function submitScans() {
  const codes = [...app.scanned.keys()];
  if (app.task === 'stocktake') return stocktake(codes);
  if (!codes.length) { note('还没有扫描任何包装', 'pending'); return; }
  const at = Math.max(...[...app.scanned.values()].map((s) => s.at));
  const number = $('waybill').value.trim();
  const record_ = app.waybills[number];
  if (app.task === 'ship' && !record_) {
    note('发货前请先加载运单（需要联网一次）', 'refused');
    return;
  }
  const checked = await verifyScanned();
  // Against a loaded waybill, only what it expects is booked (as chemscan
  // does); without one (offline, never loaded) the ledger decides.
  const expected = app.task === 'store' ? null : expectedCodes();
  const onWaybill = expected ? codes.filter((c) => expected.has(c)) : codes;
  const scanOf = (c) => app.scanned.get(c);
  const book = onWaybill.filter((c) => scanOf(c).verdict === 'genuine');
  const forgedOffline = (c) => !scanOf(c).verdict && (scanOf(c).offline || {}).assessment === 'fake';
  const held = checked ? []
      : onWaybill.filter((c) => scanOf(c).url && !scanOf(c).verdict && !forgedOffline(c));
  const failed = onWaybill.filter((c) => ['fake', 'suspicious'].includes(scanOf(c).verdict) ||
                                         forgedOffline(c));
  const typed = onWaybill.filter((c) => !scanOf(c).url);
  if (!book.length && !held.length) {
    const why = [failed.length ? `标签核验未通过 ${failed.length} 件` : '',
                 typed.length ? `手输编码 ${typed.length} 件（无标签可核验）` : ''].filter((w) => w);
    note(onWaybill.length ? `没有可记录的包装：${why.join('，')}` : '扫到的包装都不在本运单上，未记录',
         'refused');
    return;
  }
  const step = { store: STEP.STORING, receive: STEP.RECEIVING, ship: STEP.SHIPPING }[app.task];
  const what = app.task === 'store' ? `入库 ${app.site}`
      : app.task === 'receive' ? `收货 运单 ${number || '（未加载）'}` : `发货 运单 ${number}`;
  const shipping = app.task === 'ship'
      ? { consignee: record_.waybill.consignee.uscc, waybill: record_.waybill.waybill_number }
      : app.task === 'receive' && record_ ? { waybill: record_.waybill.waybill_number } : null;
  if (held.length) {
    hold(step, held.map((c) => ({ code: c, url: scanOf(c).url })), at, shipping, what,
         app.task === 'store' ? '' : number);
  }
  if (book.length) await queueEvents(step, book, at, shipping, what);
  // The saved waybill follows what was booked, offline too; it is read
  // again from the server once the queue has gone in.
  if (record_ && app.task !== 'store') {
    const done = app.task === 'receive' ? 'received' : 'shipped';
    record_[done] = [...(record_[done] || []), ...book, ...held];
    save();
  }
  const parts = book.length ? [`已签名 ${book.length} 件`] : [];
  const signedOffline = held.filter((c) => (scanOf(c).offline || {}).assessment === 'genuine').length;
  if (signedOffline) parts.push(`离线核验签名真实 ${signedOffline} 件（联网核验状态后提交）`);
  if (held.length > signedOffline) {
    parts.push(`离线未核验 ${held.length - signedOffline} 件（联网核验后提交）`);
  }
  if (failed.length) parts.push(`标签核验未通过 ${failed.length} 件（未记录）`);
  if (typed.length) parts.push(`手输编码 ${typed.length} 件（无标签可核验，未记录）`);
  if (expected) {
    const missing = [...expected].filter((c) => !app.scanned.has(c)).length;
    const unexpected = codes.length - onWaybill.length;
    if (missing) parts.push(`应到未扫 ${missing} 件`);
    if (unexpected) parts.push(`不在本运单 ${unexpected} 件（未记录）`);
  }
  note(parts.join('，'), parts.length > 1 || !book.length ? 'pending' : 'done');
  // What was scanned while this was verifying stays on the screen.
  for (const c of codes) app.scanned.delete(c);
  settle();
}

// A stock-take compares, and changes nothing.
async function stocktake(scanned) {
  const listed = new Set();
  let token = '';
  try {
    do {
      const request = new ProtoWriter().string(1, app.actor.enterprise_uscc).string(2, app.site)
          .string(4, token).done();
      const page = await call(METHOD.stock, request);
      for (const item of page.items || []) if (!item.aggregate) listed.add(item.code);
      token = page.next_page_token || '';
    } while (token);
  } catch (e) {
    note(e instanceof Offline ? '盘点比对需要联网' : '读取账面失败：' + e.message, 'refused');
    return;
  }
  const seen = new Set(scanned);
  const missing = [...listed].filter((c) => !seen.has(c));
  const extra = scanned.filter((c) => !listed.has(c));
  app.stocktake = [
    listOf('账面有、未扫到', missing, 'refused'),
    listOf('扫到、账面不在此库位', extra, 'refused'),
  ];
  note(missing.length || extra.length ? `账实不符：账面 ${listed.size} 件，扫到 ${scanned.length} 件`
                                      : `账实相符：${listed.size} 件`,
       missing.length || extra.length ? 'refused' : 'done');
  render();
}

// The texts of the QR codes in a photo (a JPEG Blob), read by the server.
// A signed-in device sends it signed to VerifyService.Verify, as its other
// calls: it is read by the reader the server keeps for registered actors,
// waits for one rather than being turned away, and counts against the key's
// allowance, not the network's. A device not signed in yet sends it to the
// anonymous decoder.
async function codesInPhoto(jpeg) {
  if (app.actor && app.key) {
    const request = new ProtoWriter().raw(2, new Uint8Array(await jpeg.arrayBuffer()));
    const answer = await call(METHOD.verify, request.done());
    const texts = [];
    for (const v of answer.verifications || []) {
      if (v.url && !texts.includes(v.url)) texts.push(v.url);
    }
    return texts;
  }
  const response = await fetch('/app/api/decode', { method: 'POST', body: jpeg, cache: 'no-store' });
  const answer = await response.json();
  if (!response.ok) throw new Refusal(response.status, answer.code, answer.message);
  return answer.texts;
}

// A JPEG of the canvas within the bridge's 2 MiB a call: a detailed photo
// at quality 0.92 may be more, so it is made again at lower qualities.
async function jpegOf(canvas) {
  let jpeg = null;
  for (const quality of [0.92, 0.8, 0.6]) {
    jpeg = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', quality));
    if (jpeg.size <= 1900 * 1024) break;
  }
  return jpeg;
}

// A photo: made smaller on the device, decoded by the server.
async function takePhoto(file) {
  if (!file) return;
  note('正在识别照片…');
  try {
    const bitmap = await createImageBitmap(file);
    const scale = Math.min(1, 2000 / Math.max(bitmap.width, bitmap.height));
    const canvas = document.createElement('canvas');
    canvas.width = Math.round(bitmap.width * scale);
    canvas.height = Math.round(bitmap.height * scale);
    canvas.getContext('2d').drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    const texts = await codesInPhoto(await jpegOf(canvas));
    if (!texts.length) { note('照片中没有识别到二维码', 'pending'); return; }
    for (const text of texts) takeText(text);
    note(`照片中识别到 ${texts.length} 个二维码`);
  } catch (e) {
    note(navigator.onLine ? '照片识别失败：' + e.message : '照片识别需要联网；离线时请用扫描枪', 'refused');
  } finally {
    $('photo').value = '';
  }
}

// ---- Start.

async function start() {
  setOnline(navigator.onLine);
  if (!window.crypto || !crypto.subtle || !window.indexedDB) {
    $('enrol').hidden = false;
    $('enrol-message').textContent = '此浏览器不支持本机签名（需要 HTTPS 与 WebCrypto Ed25519）。';
    $('make-key').hidden = true;
    return;
  }
  app.key = await loadKey();
  $('make-key').onclick = async () => {
    try {
      app.key = await makeKey();
      showEnrolment();
    } catch (e) {
      $('enrol-message').textContent = '无法生成密钥（此浏览器不支持 Ed25519）：' + e.message;
    }
  };
  $('check-enrolment').onclick = checkEnrolment;
  $('forget-key').onclick = async () => {
    if (pendingCount() > 0) {
      alert('还有待提交的记录，提交后才能注销。');
      return;
    }
    if (!confirm('注销后本机需要重新登记。确定？')) return;
    await dropKey();
    for (const item of queueItems()) dropItem(item);
    localStorage.removeItem(STORE);
    localStorage.removeItem(TRUST);
    location.reload();
  };
  $('task').onchange = () => { app.task = $('task').value; app.stocktake = null; save(); render(); };
  $('site').onchange = () => { app.site = $('site').value; app.stocktake = null; save(); render(); };
  $('load-waybill').onclick = () => loadWaybill();
  $('waybill').onchange = render;
  $('scan').addEventListener('keydown', (e) => {
    if (e.key !== 'Enter') return;
    e.preventDefault();
    takeText($('scan').value);
    $('scan').value = '';
  });
  $('photo').onchange = () => takePhoto($('photo').files[0]);
  $('submit').onclick = submit;
  $('clear').onclick = () => { app.scanned.clear(); app.stocktake = null; note(''); render(); };
  window.addEventListener('online', () => {
    setOnline(true);
    verifySoon();
    flush();
    refreshTrustList();
  });
  // Another tab queued or sent records.
  window.addEventListener('storage', (e) => { if (e.key && e.key.startsWith(QUEUE)) render(); });
  window.addEventListener('offline', () => setOnline(false));
  setInterval(() => { flush(); refreshTrustList(); }, 30000);

  if (app.key && app.actor) {
    showWork();
    flush();
    if (navigator.onLine) loadSites().then(showWork).then(refreshTrustList);
  } else {
    showEnrolment();
  }
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('/app/sw.js', { scope: '/app/' }).catch(() => {});
  }
}

start();
