// ChemLedger regulator console (docs/console.md). Talks to /console/api/ in
// Protobuf's JSON mapping of AuditService's messages, and checks every
// proof it shows: each event's RFC 9162 inclusion proof (SHA-256) up to the
// checkpoint, the checkpoint's Ed25519 signature (C2SP signed note) against
// the log key pinned by `chemaudit login`, the chain of each code's events,
// and that the log only grew since the last checkpoint this browser kept.
'use strict';

// ---- Bytes, hashes and signatures (WebCrypto) ----

const enc = new TextEncoder();
const dec = new TextDecoder();

function b64(text) {
  const s = atob(text);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function equal(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
}

const leafHash = (entry) => sha256(concat(new Uint8Array([0]), entry));
const nodeHash = (l, r) => sha256(concat(new Uint8Array([1]), l, r));

// RFC 9162 2.1.3.2: the root an inclusion proof leads to, or null.
async function rootFromInclusion(index, size, leaf, proof) {
  if (index >= size) return null;
  let fn = index, sn = size - 1, r = leaf;
  for (const p of proof) {
    if (sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      if (fn % 2 === 0) while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
    } else {
      r = await nodeHash(r, p);
    }
    fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : null;
}

// RFC 9162 2.1.4.2: whether `proof` shows the tree (size2, root2) extends (size1, root1).
async function consistent(size1, root1, size2, root2, proof) {
  if (size1 === size2) return proof.length === 0 && equal(root1, root2);
  if (size1 === 0 || size1 > size2 || proof.length === 0) return false;
  let path = proof;
  let odd = size1;
  while (odd % 2 === 0) odd /= 2;
  if (odd === 1) path = [root1, ...proof];  // size1 a power of two
  let fn = size1 - 1, sn = size2 - 1;
  while (fn % 2 === 1) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
  let fr = path[0], sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = await nodeHash(c, fr);
      sr = await nodeHash(c, sr);
      if (fn % 2 === 0) while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
    } else {
      sr = await nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
  }
  return sn === 0 && equal(fr, root1) && equal(sr, root2);
}

// Checks a signed note against the pinned key (signed_note.js): {origin,
// size, root} or throws.
async function verifyCheckpoint(note, pinned) {
  if (!note.includes('\n\n')) throw new Error('the checkpoint is not a signed note');
  const body = await SignedNote.open(note, pinned);
  if (body === null) throw new Error(`no valid signature by the pinned key ${pinned.name}`);
  const lines = body.split('\n');
  const size = Number(lines[1]);
  const root = b64(lines[2]);
  if (lines[0] !== pinned.name || !Number.isSafeInteger(size) || root.length !== 32) {
    throw new Error('the checkpoint body is not origin, size and root hash');
  }
  return { origin: lines[0], size, root };
}

// ---- A small Protobuf reader, for what the proofs cover ----

// The fields of a message: {number: [values]}, each a varint (Number) or bytes.
function decodeFields(bytes) {
  const fields = {};
  let at = 0;
  const varint = () => {
    let v = 0, mul = 1, b;
    do {
      if (at >= bytes.length) throw new Error('truncated');
      b = bytes[at++];
      v += (b & 0x7f) * mul;
      mul *= 128;
    } while (b & 0x80);
    return v;
  };
  while (at < bytes.length) {
    const tag = varint();
    const number = Math.floor(tag / 8), type = tag % 8;
    let value;
    if (type === 0) value = varint();
    else if (type === 2) { const n = varint(); value = bytes.slice(at, at + n); at += n; }
    else if (type === 1) { value = bytes.slice(at, at + 8); at += 8; }
    else if (type === 5) { value = bytes.slice(at, at + 4); at += 4; }
    else throw new Error('unsupported wire type');
    (fields[number] = fields[number] || []).push(value);
  }
  return fields;
}
const one = (f, n) => (f[n] ? f[n][0] : undefined);
const text = (f, n) => (f[n] ? dec.decode(f[n][0]) : '');
const seconds = (f, n) => (f[n] ? one(decodeFields(f[n][0]), 1) || 0 : 0);

const EVENT_TYPE = 'application/vnd.chemledger.event.v1+protobuf';

const STEPS = ['', '生产/进口 commissioning', '入库存储 storing', '发货 shipping', '收货 receiving',
  '使用 consuming', '分装 repackaging', '组托 packing', '拆托 unpacking', '处置销毁 destroying',
  '丢失被盗 loss report', '找回 found', '作废 voiding', '错误声明 error declaration',
  '封存 holding', '解封 releasing', '召回 recalling', '查验 observing', '危废申报 waste declaring'];

// The event a LogEntry holds, as its bytes say.
function decodeEventEntry(entryBytes) {
  const entry = decodeFields(entryBytes);
  const envelope = decodeFields(one(entry, 2) || new Uint8Array());
  const event = decodeFields(one(envelope, 2) || new Uint8Array());
  const location = decodeFields(one(event, 6) || new Uint8Array());
  const links = decodeFields(one(entry, 3) || new Uint8Array());
  return {
    payloadType: text(envelope, 1),
    recorded: seconds(entry, 1),
    step: one(event, 2) || 0,
    codes: (event[3] || []).map((c) => dec.decode(c)),
    time: seconds(event, 4),
    enterprise: text(location, 1),
    site: text(location, 2),
    quantityMilli: one(event, 7) || 0,
    consignee: text(event, 11),
    waybill: text(event, 12),
    manifest: text(event, 13),
    reason: text(event, 15),
    wasteCode: text(event, 16),
    links: (links[1] || []).map((l) => { const f = decodeFields(l); return { code: text(f, 1), previous: one(f, 2) || new Uint8Array() }; }),
  };
}

// ---- The API ----

let session = null;

async function api(method, request) {
  const response = await fetch(`/console/api/${method}`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(request || {}), credentials: 'same-origin',
  });
  const body = await response.json().catch(() => ({ code: 'UNKNOWN', message: `HTTP ${response.status}` }));
  if (response.status === 401) signedOut();
  if (!response.ok) throw new Error(`${body.code}: ${body.message}`);
  return body;
}

function signedOut() {
  $('signed-out').hidden = false;
  $('main').hidden = true;
  $('tabs').hidden = true;
  $('logout').hidden = true;
}

// ---- Page helpers ----

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    else if (k === 'onclick') e.addEventListener('click', v);
    else e.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

function table(headers, rows) {
  return el('table', {}, el('thead', {}, el('tr', {}, headers.map((h) => el('th', {}, h)))),
    el('tbody', {}, rows.map((r) => el('tr', {}, r))));
}

const num = (v, cls) => el('td', { class: `num ${cls || ''}` }, v);
const qty = (milli) => (Number(milli || 0) / 1000).toLocaleString('zh-CN', { maximumFractionDigits: 3 });
const when = (s) => (s ? new Date(s * 1000).toLocaleString('zh-CN', { timeZone: 'Asia/Shanghai', hour12: false }) : '');
const whenJson = (t) => (t ? new Date(t).toLocaleString('zh-CN', { timeZone: 'Asia/Shanghai', hour12: false }) : '');

function show(target, ...nodes) {
  $(target).replaceChildren(...nodes);
}

function failure(target, error) {
  show(target, el('p', { class: 'failed' }, String(error.message || error)));
}

function codeLink(code) {
  return el('a', { onclick: () => { selectTab('search'); $('search-kind').value = 'code'; $('search-text').value = code; timeline(code); } }, code);
}

// ---- The pinned log key and the kept checkpoint ----

let pinned = null;

async function loadPin() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const fromLogin = fragment.get('note-key');
  const storeKey = `chemledger.note-key.${session.origin}`;
  const box = $('pin');
  if (fromLogin) history.replaceState(null, '', location.pathname);
  // The first key pinned stays: an address that names another one (a link
  // from anywhere can) changes nothing but a warning.
  if (fromLogin && !localStorage.getItem(storeKey)) {
    localStorage.setItem(storeKey, fromLogin);
  } else if (fromLogin && localStorage.getItem(storeKey) !== fromLogin) {
    box.hidden = false;
    box.textContent = `此地址给出的日志公钥与本浏览器已固定的不同，仍使用已固定的公钥 ${localStorage.getItem(storeKey)}。` +
      ` The address names another log key (${fromLogin}) than the one this browser pinned; the pinned one stays.` +
      ' (A key rotation is announced by the operator; clear this site\'s data to pin again.)';
  }
  const text = localStorage.getItem(storeKey);
  if (!text) {
    box.hidden = false;
    box.textContent = '未固定日志公钥：证明无法验证。请用 chemaudit login --note-key 重新登录。 ' +
      'No pinned log key: proofs cannot be checked; sign in again with chemaudit login --note-key.';
    return;
  }
  try {
    pinned = await SignedNote.parseVerifierKey(text);
    if (pinned.name !== session.origin) throw new Error(`it is for ${pinned.name}, this console for ${session.origin}`);
  } catch (e) {
    pinned = null;
    box.hidden = false;
    box.textContent = `固定的日志公钥无效 The pinned log key is unusable: ${e.message}`;
  }
}

function keptCheckpoint() {
  const kept = localStorage.getItem(`chemledger.kept.${session.origin}`);
  return kept ? JSON.parse(kept) : null;
}

// ---- A code's life, proved ----

async function timeline(code) {
  show('search-result', el('p', {}, '读取中… reading'));
  const kept = keptCheckpoint();
  let bundle;
  try {
    bundle = await api('GetHistoryBundle', { code, consistency_from_size: kept ? String(kept.size) : '0' });
  } catch (e) {
    // A log now smaller than the checkpoint this browser kept has shrunk.
    if (kept && /consistency_from_size/.test(e.message)) forkBanner(kept.size, null);
    return failure('search-result', e);
  }
  const events = bundle.events || [];
  let checkpoint = null, checkpointError = null;
  try {
    if (!pinned) throw new Error('no pinned log key');
    checkpoint = await verifyCheckpoint(bundle.checkpoint.signed_note, pinned);
  } catch (e) {
    checkpointError = e.message;
  }
  // The log must only have grown since the checkpoint this browser kept.
  if (checkpoint && kept) {
    const proof = (bundle.consistency_proof || []).map(b64);
    const ok = kept.size <= checkpoint.size &&
      await consistent(kept.size, b64(kept.root), checkpoint.size, checkpoint.root, proof);
    if (!ok) {
      forkBanner(kept.size, checkpoint.size);
      checkpointError = checkpointError || 'inconsistent with the kept checkpoint';
    }
  }
  if (checkpoint && !checkpointError && (!kept || checkpoint.size >= kept.size)) {
    localStorage.setItem(`chemledger.kept.${session.origin}`,
      JSON.stringify({ size: checkpoint.size, root: b64text(checkpoint.root) }));
  }
  const items = [];
  let previousLeaf = null;
  let previousIndex = -1;
  let verified = 0;
  for (const e of events) {
    const entry = b64(e.entry_bytes);
    const leaf = await leafHash(entry);
    let problem = checkpointError;
    let event = null;
    try {
      event = decodeEventEntry(entry);
    } catch (err) {
      problem = problem || `the entry does not parse: ${err.message}`;
    }
    if (!problem) {
      const root = await rootFromInclusion(Number(e.log_index || 0), checkpoint.size, leaf, (e.inclusion_proof || []).map(b64));
      if (!root || !equal(root, checkpoint.root)) problem = 'inclusion proof does not lead to the checkpoint';
    }
    if (!problem && event) {
      // An event of this code, after the one before it in the log, linked to it.
      const link = event.links.find((l) => l.code === code);
      const want = previousLeaf || new Uint8Array();
      if (event.payloadType !== EVENT_TYPE) problem = `not an event (${event.payloadType})`;
      else if (!link) problem = 'chain: the entry has no link for this code';
      else if (!equal(link.previous, want)) problem = 'chain: the previous event hash differs';
      else if (Number(e.log_index || 0) <= previousIndex) problem = 'out of log order';
    }
    previousLeaf = leaf;
    previousIndex = Number(e.log_index || 0);
    if (!problem) verified++;
    const ev = event || { step: 0, codes: [] };
    items.push(el('li', { 'data-proof': problem ? 'failed' : 'ok', 'data-log-index': e.log_index || '0' },
      el('span', { class: `proof ${problem ? 'failed' : 'ok'}` },
        problem ? `✘ 验证失败 not proved: ${problem}` : `✔ 已证明 proved (#${e.log_index || 0})`),
      el('div', { class: 'step' }, STEPS[ev.step] || `step ${ev.step}`),
      el('div', {}, `${when(ev.time)} · ${ev.enterprise}${ev.site ? ' · ' + ev.site : ''}`),
      ev.quantityMilli ? el('div', {}, `数量 quantity ${qty(ev.quantityMilli)}`) : null,
      ev.consignee ? el('div', {}, `收货方 consignee ${ev.consignee}`) : null,
      ev.waybill ? el('div', {}, `运单 waybill ${ev.waybill}`) : null,
      ev.manifest ? el('div', {}, `转移联单 manifest ${ev.manifest}`) : null,
      ev.wasteCode ? el('div', {}, `废物代码 waste code ${ev.wasteCode}`) : null,
      ev.reason ? el('div', {}, `原因 reason ${ev.reason}`) : null,
      el('div', { class: 'small mono' }, `leaf ${hex(leaf)}`)));
  }
  const head = checkpointError
    ? el('div', { class: 'checkpoint failed', id: 'checkpoint-status', 'data-proof': 'failed' },
      `✘ 检查点未通过验证 checkpoint not verified: ${checkpointError}`)
    : el('div', { class: 'checkpoint ok', id: 'checkpoint-status', 'data-proof': 'ok' },
      `✔ 检查点 checkpoint ${checkpoint.origin} · 日志大小 size ${checkpoint.size} · 由固定公钥签名 signed by the pinned key` +
      (kept ? ` · 与保存的检查点 ${kept.size} 一致 consistent with the kept one` : ''));
  show('search-result',
    el('h2', {}, `包装码 ${code}`),
    head,
    el('p', { id: 'proof-summary' }, `${verified} / ${events.length} 个事件已证明 events proved`),
    el('ol', { class: 'timeline' }, items));
}

// The log does not extend the checkpoint this browser kept: it was rewritten,
// forked or cut back. Stays until the page is reloaded.
function forkBanner(keptSize, nowSize) {
  $('fork').hidden = false;
  $('fork').textContent = `日志不一致：本浏览器保存的检查点（大小 ${keptSize}）` +
    (nowSize === null ? '之后日志变小了' : `与当前检查点（大小 ${nowSize}）不一致`) + '，日志被改写、分叉或回退。 ' +
    `The log is not consistent with the checkpoint this browser kept (size ${keptSize}): ` +
    (nowSize === null ? 'it shrank' : 'rewritten or forked') + '.';
}

function b64text(bytes) {
  return btoa(String.fromCharCode(...bytes));
}

// ---- Events by waybill or enterprise ----

function eventRows(page) {
  return (page.events || []).map((r) => {
    let ev = { step: 0, codes: [] };
    try { ev = decodeEventEntry(b64(r.entry_bytes || '')); } catch (e) { /* redacted */ }
    return [el('td', {}, r.log_index), el('td', {}, when(ev.time)), el('td', {}, STEPS[ev.step] || ''),
      el('td', {}, ev.codes.map((c, i) => [i ? ' ' : '', codeLink(c)])), el('td', {}, ev.enterprise),
      num(ev.quantityMilli ? qty(ev.quantityMilli) : '')];
  });
}

async function eventsBy(query, title) {
  show('search-result', el('p', {}, '读取中… reading'));
  try {
    const page = await api('QueryEvents', Object.assign({ page_size: 200 }, query));
    const parts = [el('h2', {}, title),
      table(['#', '时间 time', '环节 step', '包装码 codes', '企业 enterprise', '数量 quantity'], eventRows(page))];
    if (page.next_page_token) parts.push(el('p', { class: 'small' }, '仅显示前 200 个事件 (chemaudit query 导出全部) first 200 events shown'));
    if (query.enterprise_uscc) {
      const stock = await api('QueryStock', { enterprise_uscc: query.enterprise_uscc });
      parts.push(el('h3', {}, '当前库存 stock on hand'), stockTable(stock));
    }
    show('search-result', ...parts);
  } catch (e) {
    failure('search-result', e);
  }
}

function search(event) {
  event.preventDefault();
  const kind = $('search-kind').value;
  const value = $('search-text').value.trim();
  if (kind === 'code') return timeline(value);
  if (kind === 'waybill') {
    const [carrier, number] = value.includes('/') ? value.split('/', 2) : ['', value];
    return eventsBy({ waybill_carrier_uscc: carrier, waybill_number: number }, `运单 waybill ${value}`);
  }
  return eventsBy({ enterprise_uscc: value }, `企业 enterprise ${value}`);
}

// ---- Anomalies ----

const KINDS = {
  REFUSED_REQUEST: '被拒绝的请求 refused',
  CLONE_SIGNAL: '疑似克隆 clone signal',
  CONTROLLED_GOODS_LOST: '管控物品丢失 controlled goods lost',
  OVERDUE_SHIPMENT: '逾期未收货 overdue',
  MAJOR_HAZARD_ALERT: '重大危险源预警 major hazard'
};

async function anomalies(event) {
  if (event) event.preventDefault();
  const request = { page_size: 500 };
  if ($('anomaly-kind').value) request.kinds = [$('anomaly-kind').value];
  if ($('anomaly-enterprise').value.trim()) request.enterprise_uscc = $('anomaly-enterprise').value.trim();
  try {
    const list = await api('ListAnomalies', request);
    const all = [...(list.overdue_shipments || []), ...(list.anomalies || [])];
    const rows = all.map((a) => [
      el('td', {}, KINDS[a.kind] || a.kind),
      el('td', {}, whenJson(a.refused_at || a.planned_arrival)),
      el('td', {}, a.enterprise_uscc || ''),
      el('td', {}, a.code ? codeLink(a.code) : (a.waybill || '')),
      el('td', {}, [a.refusal_kind && a.refusal_kind !== 'REFUSAL_KIND_UNSPECIFIED' ? a.refusal_kind + ': ' : '', a.detail || '']),
      el('td', {}, a.log_index ? `#${a.log_index}` : '')]);
    show('anomalies-result', el('p', {}, `${all.length} 项 anomalies (日志大小 log size ${list.log_size})`),
      table(['类型 kind', '时间 when', '企业 enterprise', '证据 evidence', '说明 detail', '日志条目 entry'], rows));
  } catch (e) {
    failure('anomalies-result', e);
  }
}

// ---- Reconciliation, with a chart per month ----

let chart = null;

function reconcileScope() {
  const r = {};
  const put = (field, id) => { const v = $(id).value.trim(); if (v) r[field] = v; };
  put('cas', 'rec-cas'); put('control_flag', 'rec-flag'); put('region_prefix', 'rec-region');
  put('park_id', 'rec-park'); put('enterprise_uscc', 'rec-enterprise');
  return r;
}

// China's midnight at the start of year/month (UTC+8, no daylight time).
const chinaMidnight = (year, month) => new Date(Date.UTC(year, month, 1) - 8 * 3600 * 1000).toISOString();

const FIGURES = [
  ['opening_stock_milli', '期初库存 opening'], ['produced_milli', '生产 produced'],
  ['received_milli', '收货 received'], ['shipped_milli', '发货 shipped'],
  ['consumed_milli', '使用 consumed'], ['disposed_milli', '处置 disposed'],
  ['lost_milli', '丢失 lost'], ['closing_stock_milli', '期末库存 closing'],
  ['closing_in_transit_milli', '在途 in transit'], ['waste_declared_milli', '危废申报 waste'],
  ['stock_difference_milli', '库存差额 difference']];

function reconciliationTable(report) {
  const rows = [...(report.rows || []), ...(report.totals || []).map((t) => Object.assign({ total: true }, t))];
  return table(['企业 enterprise', '产品 product', '单位 unit', ...FIGURES.map((f) => f[1]), '差额涉及的包装码 codes behind differences'],
    rows.map((r) => [
      el('td', {}, r.total ? '合计 total' : (r.enterprise_name || r.enterprise_uscc)),
      el('td', {}, r.product_name || r.cas || ''),
      el('td', {}, r.unit),
      ...FIGURES.map(([field]) => {
        const v = Number((r.figures || {})[field] || 0);
        return num(qty(v), field.endsWith('difference_milli') && v !== 0 ? 'nonzero' : '');
      }),
      el('td', {}, (r.codes_behind_differences || []).map((c) => [codeLink(c), ' ']))]));
}

async function reconcile(event) {
  event.preventDefault();
  const year = Number($('rec-year').value);
  const scope = reconcileScope();
  show('reconcile-result', el('p', {}, '统计中… reconciling'));
  try {
    const whole = await api('Reconcile', Object.assign({ from: chinaMidnight(year, 0), to: chinaMidnight(year + 1, 0) }, scope));
    const balanced = (whole.totals || []).every((t) => ['stock_difference_milli', 'transit_difference_milli', 'lost_difference_milli']
      .every((f) => Number((t.figures || {})[f] || 0) === 0));
    show('reconcile-result',
      el('p', { id: 'reconcile-balance', class: balanced ? 'ok' : 'failed' },
        balanced ? '✔ 账实相符：各项差额为零 every balance is zero' : '✘ 存在差额 a balance is not zero'),
      reconciliationTable(whole));
    // One reconciliation per month, for the chart (the first unit's totals).
    const unit = (whole.totals || [])[0] ? whole.totals[0].unit : null;
    // One month after another: the server answers a few calls at a time.
    const reports = [];
    for (let m = 0; m < 12; m++) {
      reports.push(await api('Reconcile', Object.assign({ from: chinaMidnight(year, m), to: chinaMidnight(year, m + 1) }, scope)));
    }
    const series = (field) => reports.map((r) => {
      const t = (r.totals || []).find((x) => x.unit === unit);
      return t ? Number((t.figures || {})[field] || 0) / 1000 : 0;
    });
    const canvas = $('reconcile-chart');
    canvas.hidden = false;
    if (chart) chart.destroy();
    if (typeof Chart === 'undefined') return;
    chart = new Chart(canvas, {
      type: 'bar',
      data: {
        labels: Array.from({ length: 12 }, (_, m) => `${year}-${String(m + 1).padStart(2, '0')}`),
        datasets: [
          { label: '生产 produced', data: series('produced_milli'), backgroundColor: '#1f5fa8' },
          { label: '收货 received', data: series('received_milli'), backgroundColor: '#5b9bd5' },
          { label: '发货 shipped', data: series('shipped_milli'), backgroundColor: '#ed7d31' },
          { label: '使用 consumed', data: series('consumed_milli'), backgroundColor: '#a5a5a5' },
          { label: '处置 disposed', data: series('disposed_milli'), backgroundColor: '#7030a0' },
          { type: 'line', label: '期末库存 closing stock', data: series('closing_stock_milli'), borderColor: '#17692f', backgroundColor: '#17692f' },
        ],
      },
      options: { animation: false, plugins: { title: { display: true, text: `按月 per month (${unit || '—'})` } } },
    });
  } catch (e) {
    failure('reconcile-result', e);
  }
}

// ---- Stock ----

function stockTable(report) {
  const rows = [...(report.lines || []), ...(report.totals || []).map((t) => Object.assign({ total: true }, t))];
  return table(['企业 enterprise', '场所 site', '产品 product', 'CAS', '件数 packages', '数量 quantity', '单位 unit', '封存/召回 on hold', '危废 waste'],
    rows.map((l) => [el('td', {}, l.total ? '合计 total' : l.enterprise_uscc), el('td', {}, l.site || ''),
      el('td', {}, l.product_name || ''), el('td', {}, l.cas || ''), num(l.packages || 0),
      num(qty(l.quantity_milli)), el('td', {}, l.unit), num(l.on_hold || 0), num(l.waste || 0)]));
}

async function stock(event) {
  event.preventDefault();
  const request = {};
  const put = (field, id) => { const v = $(id).value.trim(); if (v) request[field] = v; };
  put('enterprise_uscc', 'stock-enterprise'); put('site', 'stock-site'); put('park_id', 'stock-park');
  put('region_prefix', 'stock-region');
  try {
    const report = await api('QueryStock', request);
    show('stock-result', el('p', {}, `日志大小 log size ${report.log_size}`), stockTable(report));
  } catch (e) {
    failure('stock-result', e);
  }
}

// ---- Shipments in transit and vehicles in a park ----

async function transit(event) {
  event.preventDefault();
  const request = {};
  const put = (field, id) => { const v = $(id).value.trim(); if (v) request[field] = v; };
  put('enterprise_uscc', 'transit-enterprise'); put('park_id', 'transit-park');
  put('region_prefix', 'transit-region');
  try {
    const report = await api('QueryInTransit', request);
    const rows = (report.shipments || []).map((s) => [
      el('td', {}, s.carrier_name || s.carrier_uscc), el('td', {}, s.waybill_number),
      el('td', {}, s.vehicle_plate || ''), el('td', {}, s.consignor_uscc), el('td', {}, s.consignee_uscc),
      el('td', {}, (s.un_numbers || []).map((u) => `UN${u}`).join(' ')),
      el('td', { class: s.overdue ? 'failed' : '' }, whenJson(s.planned_arrival) + (s.overdue ? ' 逾期 overdue' : '')),
      num(`${s.packages_received || 0} / ${s.packages_shipped || 0}`),
      el('td', {}, [s.controlled_goods ? '管控 controlled ' : '', s.waste ? '危废 waste' : ''].join(''))]);
    const parts = [el('p', {}, `${rows.length} 批在途 shipments in transit (日志大小 log size ${report.log_size})`),
      table(['承运人 carrier', '运单 waybill', '车牌 vehicle', '发货方 from', '收货方 to', '货物 goods',
        '计划到达 planned arrival', '已收/已发 received', '类别 kind'], rows)];
    if (report.truncated) parts.push(el('p', { class: 'small' }, '仅列出前 10,000 批 the first 10,000 only'));
    if ((report.vehicles_in_park || []).length || request.park_id) {
      parts.push(el('h3', {}, `园区内车辆 vehicles inside the park now`),
        table(['车牌 vehicle', '承运人 carrier', '运单 waybill', '入园闸口 gate', '入园时间 entered', '货物 goods'],
          (report.vehicles_in_park || []).map((v) => [el('td', {}, v.vehicle_plate || ''), el('td', {}, v.carrier_uscc),
            el('td', {}, v.waybill_number), el('td', {}, v.gate_id), el('td', {}, when(Number(v.entered_unix_seconds))),
            el('td', {}, (v.un_numbers || []).map((u) => `UN${u}`).join(' '))])));
    }
    show('transit-result', ...parts);
  } catch (e) {
    failure('transit-result', e);
  }
}

// ---- 重大危险源: sites that are major hazard sources now (GB 18218) ----

const GRADES = { GRADE_1: '一级', GRADE_2: '二级', GRADE_3: '三级', GRADE_4: '四级',
  NOT_A_MAJOR_HAZARD: '非重大危险源', MAJOR_HAZARD_GRADE_UNSPECIFIED: '未定级 (no α registered)' };
// Billionths (a JSON string of a uint64) as a decimal with three places.
const billionths = (v) => (Number(BigInt(v || '0') / 1000000n) / 1000).toFixed(3);

async function hazards(event) {
  event.preventDefault();
  const request = {};
  const put = (field, id) => { const v = $(id).value.trim(); if (v) request[field] = v; };
  put('enterprise_uscc', 'hazards-enterprise'); put('park_id', 'hazards-park');
  put('region_prefix', 'hazards-region');
  try {
    const report = await api('ListMajorHazardSites', request);
    const rows = (report.sites || []).map((s) => {
      const a = s.assessment || {};
      return [el('td', {}, s.enterprise_uscc), el('td', {}, `${s.site_id} ${s.site_name || ''}`),
        el('td', {}, s.region_code || ''), num(billionths(a.sum_billionths)),
        num(a.exposure_correction_tenths ? billionths(a.r_billionths) : '—'),
        el('td', { class: 'failed' }, GRADES[a.grade || 'MAJOR_HAZARD_GRADE_UNSPECIFIED'] || a.grade),
        el('td', {}, GRADES[s.declared_grade] || ''), el('td', {}, a.thresholds_version || ''),
        el('td', {}, s.assessed_at_log_index ? `#${s.assessed_at_log_index}` : ''),
        el('td', {}, s.alert_log_index ? `#${s.alert_log_index}` : '待记录 pending')];
    });
    show('hazards-result',
      el('p', {}, `${rows.length} 处重大危险源 major hazard sites (日志大小 log size ${report.log_size})`),
      table(['企业 enterprise', '场所 site', '地区 region', 'S = Σq/Q', 'R', '计算级别 grade', '申报级别 declared',
        '临界量表 thresholds', '最近事件 last event', '预警条目 alert entry'], rows));
  } catch (e) {
    failure('hazards-result', e);
  }
}

// ---- Tabs and start ----

function selectTab(name) {
  for (const b of document.querySelectorAll('nav button')) b.classList.toggle('on', b.dataset.tab === name);
  for (const s of document.querySelectorAll('main section')) s.hidden = s.id !== `tab-${name}`;
}

async function start() {
  const response = await fetch('/console/api/session', { credentials: 'same-origin' });
  if (!response.ok) return signedOut();
  session = await response.json();
  $('who').textContent = `${session.actor_name} · ${session.role} · ${session.department} · ${session.jurisdiction} · ` +
    `key ${session.key_id} · 会话至 until ${when(Number(session.expires_unix_seconds))}`;
  $('logout').hidden = false;
  $('tabs').hidden = false;
  $('main').hidden = false;
  await loadPin();
  $('rec-year').value = new Date().getFullYear();
  for (const b of document.querySelectorAll('nav button')) b.addEventListener('click', () => selectTab(b.dataset.tab));
  $('search-form').addEventListener('submit', search);
  $('anomalies-form').addEventListener('submit', anomalies);
  $('reconcile-form').addEventListener('submit', reconcile);
  $('stock-form').addEventListener('submit', stock);
  $('transit-form').addEventListener('submit', transit);
  $('hazards-form').addEventListener('submit', hazards);
  $('logout').addEventListener('click', async () => {
    const response = await fetch('/console/logout', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' })
      .catch((error) => ({ ok: false, json: async () => ({ message: String(error) }) }));
    if (!response.ok) {
      // The session is still good: say so, and leave the button to try again.
      const body = await response.json().catch(() => ({ message: `HTTP ${response.status}` }));
      window.alert(`退出失败，会话仍然有效 Sign-out failed, the session is still good: ${body.message}`);
      return;
    }
    signedOut();
  });
  document.body.dataset.ready = 'true';
}

start();
