// The isensd dashboard. Plain JavaScript, no build step, nothing fetched
// from elsewhere: the history comes from /api/events, live changes from
// /events (Server-Sent Events, resumed by the browser with Last-Event-ID),
// the sessions from /api/sessions and the rates from /api/io.
'use strict';

const KINDS = ['connection_made', 'connection_lost', 'logon', 'logoff', 'session_disconnect', 'session_reconnect',
  'session_ready'];
const MAX_EVENTS = 20000;     // kept in the page; the journal keeps more
const HISTORY_EVENTS = 10000; // read back at load
const LANE_HEIGHT = 16;
const LABEL_WIDTH = 230;

const state = {
  status: null,
  statusAt: 0,             // performance.now() of the last status
  reachable: true,
  sessions: [],            // the last /api/sessions answer
  sessionsBoot: '',
  events: [],              // parsed events, ascending seq
  lastSeq: 0,              // the last seq taken in (history or live)
  lanes: new Map(),        // "boot:session" -> {boot, sid, target, events: []}
  selected: null,          // "boot:session" of the detail view
  io: null,
  source: null,
  streamState: 'connecting',
  render: {count: 0, lastMs: 0, maxMs: 0, parts: {}},
};
window.isensDashboard = state;  // for tests and the curious

const $ = (id) => document.getElementById(id);
const esc = (v) => String(v ?? '').replace(/[&<>"']/g, (c) => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;',
  "'": '&#39;'}[c]));
const laneKey = (boot, sid) => `${boot}:${sid}`;

// RFC 3339 with microseconds; Date takes milliseconds.
function eventTime(e) {
  if (e.t === undefined) e.t = Date.parse(String(e.time).replace(/(\.\d{3})\d+/, '$1'));
  return e.t;
}

function bytesRate(v) {
  if (!v) return '0 B/s';
  const units = ['B/s', 'KiB/s', 'MiB/s', 'GiB/s'];
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; ++i; }
  return `${v.toFixed(v < 10 && i ? 1 : 0)} ${units[i]}`;
}

function bytes(v) {
  if (v === null || v === undefined) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; ++i; }
  return `${v.toFixed(i ? 1 : 0)} ${units[i]}`;
}

function age(ms) {
  if (ms === null || ms === undefined) return '—';
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d`;
}

function clock(ms) {
  return ms ? new Date(ms).toLocaleTimeString() : '—';
}

async function getJSON(url) {
  const response = await fetch(url, {cache: 'no-store'});
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

// --- events ---------------------------------------------------------------

function takeEvent(e) {
  if (e.seq <= state.lastSeq) return false;  // already have it (a resume overlaps nothing, but be sure)
  state.lastSeq = e.seq;
  eventTime(e);
  state.events.push(e);
  const key = laneKey(e.boot_id, e.session_id);
  let lane = state.lanes.get(key);
  if (!lane) {
    lane = {key, boot: e.boot_id, sid: e.session_id, target: e.target, events: []};
    state.lanes.set(key, lane);
  }
  if (e.target) lane.target = e.target;
  lane.events.push(e);
  if (state.events.length > MAX_EVENTS) trimEvents();
  return true;
}

function trimEvents() {
  const drop = state.events.splice(0, state.events.length - MAX_EVENTS);
  for (const e of drop) {
    const lane = state.lanes.get(laneKey(e.boot_id, e.session_id));
    if (!lane) continue;
    lane.events.shift();
    if (!lane.events.length) state.lanes.delete(lane.key);
  }
}

async function loadHistory() {
  const head = state.status ? state.status.head_seq : 0;
  let since = Math.max(state.lastSeq, head - HISTORY_EVENTS, 0);
  for (;;) {
    const batch = await getJSON(`/api/events?since=${since}&limit=5000`);
    for (const e of batch.events) takeEvent(e);
    if (batch.next_after <= since || batch.next_after >= batch.last_seq) {
      state.lastSeq = Math.max(state.lastSeq, batch.next_after);
      break;
    }
    since = batch.next_after;
  }
}

function setStream(s) {
  state.streamState = s;
  const el = $('stream-state');
  el.dataset.state = s;
  el.textContent = s;
}

function connectStream() {
  if (state.source) state.source.close();
  // The first connect names where to start; the browser's reconnects send Last-Event-ID.
  const source = new EventSource(`/events?since=${state.lastSeq}`);
  state.source = source;
  source.onopen = () => setStream('live');
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) {
      // The server refused (503) or answered wrongly: the browser gives up, so start again.
      setStream('reconnecting');
      setTimeout(() => { if (state.source === source) connectStream(); }, 2000);
    } else {
      setStream('reconnecting');
    }
  };
  for (const kind of KINDS) {
    source.addEventListener(kind, (m) => {
      if (takeEvent(JSON.parse(m.data))) {
        $('st-seq').textContent = state.lastSeq;
        scheduleSessions();
        scheduleRender('timeline', 'detail', 'io');
      }
    });
  }
  source.addEventListener('gap', (m) => {
    // The journal no longer holds what we missed: start over from a snapshot.
    const gap = JSON.parse(m.data);
    setStream('gap');
    state.lastSeq = Math.max(state.lastSeq, gap.resume_at);
    refreshSessions();
    setTimeout(() => { if (state.streamState === 'gap') setStream('live'); }, 3000);
  });
}

// --- polling ----------------------------------------------------------------

async function refreshStatus() {
  try {
    const status = await getJSON('/api/status');
    const restarted = state.status && state.status.boot_id !== status.boot_id;
    state.status = status;
    state.statusAt = performance.now();
    state.reachable = true;
    renderStatus();
    if (restarted) {
      refreshSessions();
      scheduleRender('timeline');
    }
  } catch (err) {
    state.reachable = false;
    $('st-uptime').textContent = 'isensd unreachable';
  }
}

let sessionsTimer = null;
function scheduleSessions() {
  if (sessionsTimer) return;
  sessionsTimer = setTimeout(() => { sessionsTimer = null; refreshSessions(); }, 100);
}

async function refreshSessions() {
  try {
    const answer = await getJSON('/api/sessions');
    state.sessions = answer.sessions;
    state.sessionsBoot = answer.boot_id;
    scheduleRender('sessions', 'detail');
  } catch (err) {
    // isensd is restarting; the stream's state says so, the next poll catches up
  }
}

async function refreshIo() {
  try {
    state.io = await getJSON('/api/io');
  } catch (err) {
    // as above
  }
}

// --- rendering --------------------------------------------------------------

// Only the parts whose data changed are drawn again, once per frame at most.
const PARTS = ['sessions', 'detail', 'timeline', 'io'];
const dirty = new Set();
let renderPending = false;
function scheduleRender(...what) {
  for (const part of what.length ? what : PARTS) dirty.add(part);
  if (renderPending) return;
  renderPending = true;
  requestAnimationFrame(() => { renderPending = false; render(); });
}

function render() {
  const started = performance.now();
  const draw = {sessions: renderSessions, detail: renderDetail, timeline: renderTimeline, io: renderIo};
  for (const part of PARTS) {  // in this order: the I/O chart takes the timeline's time range
    if (!dirty.has(part)) continue;
    dirty.delete(part);
    const t0 = performance.now();
    draw[part]();
    state.render.parts[part] = performance.now() - t0;
  }
  const took = performance.now() - started;
  state.render.count += 1;
  state.render.lastMs = took;
  state.render.maxMs = Math.max(state.render.maxMs, took);
  document.body.dataset.lastSeq = String(state.lastSeq);
}

// Draws everything now, each part followed by the layout it causes, and
// returns how long that took (ms) in all and per part: for tests and measurements.
state.fullRender = () => {
  const t0 = performance.now();
  const parts = {};
  for (const part of PARTS) {
    const t = performance.now();
    dirty.add(part);
    render();
    void document.body.offsetHeight;
    parts[part] = performance.now() - t;
  }
  return {total: performance.now() - t0, parts};
};

function renderStatus() {
  const s = state.status;
  if (!s) return;
  $('st-host').textContent = s.host;
  $('st-initiator').textContent = s.initiator_name;
  $('st-version').textContent = s.version;
  $('st-boot').textContent = s.boot_id;
  $('st-seq').textContent = Math.max(s.head_seq, state.lastSeq);
  tickUptime();
}

function tickUptime() {
  if (!state.status || !state.reachable) return;
  const up = state.status.uptime_s + (performance.now() - state.statusAt) / 1000;
  $('st-uptime').textContent = age(Date.now() - up * 1000);
}

function stateText(s) {
  const t = s.tracked;
  if (!t) return s.connected ? ['logged_in', 'logged in'] : ['unknown', 'unknown'];
  if (t.state === 'recovering') return ['recovering', `recovering (attempt ${t.attempt})`];
  if (t.state === 'logged_in') return ['logged_in', 'logged in'];
  if (t.state === 'disconnected') return ['disconnected', 'disconnected'];
  return [t.state, t.state.replace('_', ' ')];
}

// Rows in (or near) the table's scrolled view are drawn; spacers stand in
// for the others, so 200 sessions lay out like a screenful.
let rowHeight = 0;
function renderSessions() {
  const table = $('sessions');
  const box = table.parentNode;
  const n = state.sessions.length;
  const h = rowHeight || 25;
  const first = Math.max(0, Math.floor(box.scrollTop / h) - 10);
  const end = Math.min(n, first + Math.ceil((box.clientHeight || 420) / h) + 20);
  const spacer = (count) => `<tr class="spacer"><td colspan="14" height="${count * h}"></td></tr>`;
  const rows = first > 0 ? [spacer(first)] : [];
  for (let i = first; i < end; ++i) {
    const s = state.sessions[i];
    const key = laneKey(state.sessionsBoot, s.session_id);
    const [cls, text] = stateText(s);
    const t = s.tracked || {};
    const last = t.last_event;
    rows.push(`<tr data-key="${esc(key)}" data-session-id="${s.session_id}" data-state="${cls}"` +
      `${key === state.selected ? ' class="selected"' : ''}>` +
      `<td class="num">${s.session_id}</td><td>${esc(s.target_name)}</td>` +
      `<td>${esc(s.target_portal)}${s.portal_group_tag !== null ? ` / ${s.portal_group_tag}` : ''}</td>` +
      `<td class="state ${cls}">${esc(text)}</td>` +
      `<td class="num">${s.connection_count}/${s.max_connections}</td>` +
      `<td>${s.persistent ? 'yes' : 'no'}</td><td>${esc(s.auth_type)}</td>` +
      `<td>${esc(s.header_digest)}/${esc(s.data_digest)}</td><td class="num">${s.devices.length}</td>` +
      `<td>${t.since_ms ? `${clock(t.since_ms)} (${age(t.since_ms)})` : '—'}</td>` +
      `<td>${last ? `${esc(last.kind)} ${age(last.time_ms)} ago` : '—'}</td>` +
      `<td class="num">${t.reconnects_last_hour ?? 0}</td>` +
      `<td class="num">${bytesRate(s.rate.rb)}</td><td class="num">${bytesRate(s.rate.wb)}</td></tr>`);
  }
  if (end < n) rows.push(spacer(n - end));
  table.tBodies[0].innerHTML = rows.join('');
  if (!rowHeight && end > first) rowHeight = table.tBodies[0].querySelector('tr[data-key]').offsetHeight || 25;
  table.dataset.rows = String(n);
  $('session-count').textContent = `(${n})`;
  $('no-sessions').hidden = n > 0;
}

function renderDetail() {
  const panel = $('detail');
  if (!state.selected) { panel.hidden = true; return; }
  const lane = state.lanes.get(state.selected);
  const [boot, sid] = state.selected.split(':');
  const s = boot === state.sessionsBoot ? state.sessions.find((x) => String(x.session_id) === sid) : null;
  panel.hidden = false;
  $('detail-title').textContent = `${sid} ${s ? s.target_name : lane ? lane.target : ''}${s ? '' : ' (ended)'}`;
  const made = new Map();  // connection id -> when it joined
  for (const e of lane ? lane.events : []) if (e.kind === 'connection_made') made.set(e.connection_id, e.t);
  $('detail-connections').tBodies[0].innerHTML = s ? s.connections.map((c) =>
    `<tr><td>${c.cid}</td><td>${c.connection_id}</td><td>${esc(c.local_address)} → ${esc(c.remote_address)}</td>` +
    `<td>${clock(made.get(c.connection_id))}</td></tr>`).join('') : '';
  $('detail-luns').tBodies[0].innerHTML = s ? s.devices.map((d) =>
    `<tr><td>${d.lun}</td><td>${esc(d.inquiry.device_type)}</td><td>${esc(d.inquiry.vendor)}</td>` +
    `<td>${esc(d.inquiry.product)}</td><td>${d.capacity ? bytes(d.capacity.bytes) : '—'}</td>` +
    `<td>${esc(d.export_uri || d.export || '—')}</td></tr>`).join('') : '';
  const params = s ? [['ISID', s.isid], ['TSIH', s.tsih], ['auth', s.auth_type], ['HeaderDigest', s.header_digest],
    ['DataDigest', s.data_digest], ['MaxConnections', s.max_connections], ['DefaultTime2Wait', s.default_time2wait],
    ['DefaultTime2Retain', s.default_time2retain], ['TargetPortalGroupTag', s.portal_group_tag ?? '—'],
    ['connections wanted', s.connections_wanted]] : [];
  $('detail-params').tBodies[0].innerHTML = params.map(([k, v]) => `<tr><th>${k}</th><td>${esc(v)}</td></tr>`).join('');
  const io = s ? s.io : null;
  $('detail-io').tBodies[0].innerHTML = io ? [['reads', io.read_ops], ['read', bytes(io.read_bytes)],
    ['writes', io.write_ops], ['written', bytes(io.write_bytes)], ['failed', io.failed], ['held', io.held],
    ['reissued', io.reissued], ['in flight / queued', `${io.in_flight} / ${io.queued}`]]
    .map(([k, v]) => `<tr><th>${k}</th><td class="num">${esc(v)}</td></tr>`).join('') : '';
  const history = lane ? lane.events.slice(-300).reverse() : [];
  $('detail-events').tBodies[0].innerHTML = history.map((e) =>
    `<tr><td class="num">${e.seq}</td><td>${esc(e.time)}</td><td>${esc(e.kind)}</td><td>${esc(e.reason)}</td>` +
    `<td>${e.attempt ?? ''}</td><td>${esc(e.detail)}</td></tr>`).join('');
}

// The boot of the newest event (events come in order), else the status's.
function currentBoot() {
  const last = state.events[state.events.length - 1];
  return last ? last.boot_id : state.status ? state.status.boot_id : '';
}

// Read once and on resize: asking for a width while the DOM has changed
// would make the browser lay out the whole page at once.
let widthCache = 0;
function chartWidth() {
  if (!widthCache) widthCache = Math.max(document.querySelector('main').clientWidth - 4, LABEL_WIDTH + 200);
  return widthCache;
}
window.addEventListener('resize', () => { widthCache = 0; scheduleRender('timeline', 'io'); });

// The time range the timeline and the I/O chart share.
function timeWindow(lanes) {
  const now = Date.now();
  const choice = $('window').value;
  if (choice !== 'auto') return [now - Number(choice), now];
  let first = now;
  for (const lane of lanes) if (lane.events.length) first = Math.min(first, lane.events[0].t);
  const span = Math.max(now - first, 20000);
  return [now - span * 1.03, now];
}

function lanesToShow() {
  const live = new Set(state.sessions.map((s) => laneKey(state.sessionsBoot, s.session_id)));
  const choice = $('window').value;
  const from = choice === 'auto' ? -Infinity : Date.now() - Number(choice);
  const lanes = [];
  for (const lane of state.lanes.values()) {
    const last = lane.events[lane.events.length - 1];
    if (live.has(lane.key) || (last && last.t >= from)) lanes.push(lane);
  }
  // Live sessions first (by id), then the others, most recent first.
  const lastTime = (lane) => lane.events.length ? lane.events[lane.events.length - 1].t : 0;
  lanes.sort((a, b) => (live.has(b.key) - live.has(a.key)) || (live.has(a.key) ? a.sid - b.sid : lastTime(b) - lastTime(a)));
  return lanes;
}

// The lanes in (or near) the timeline's scrolled view: only those are drawn,
// so hundreds of sessions cost what a screenful does.
function visibleLanes(count) {
  const box = $('timeline').parentNode;
  const first = Math.max(0, Math.floor((box.scrollTop - 24) / LANE_HEIGHT) - 20);
  const shown = Math.ceil((box.clientHeight || 520) / LANE_HEIGHT) + 40;
  return [first, Math.min(count, first + shown)];
}

function renderTimeline() {
  const svg = $('timeline');
  const lanes = lanesToShow();
  const [firstLane, endLane] = visibleLanes(lanes.length);
  const width = chartWidth();
  const [from, to] = timeWindow(lanes);
  const plot = width - LABEL_WIDTH - 10;
  const x = (t) => LABEL_WIDTH + Math.max(0, Math.min(plot, ((t - from) / (to - from)) * plot));
  const height = 24 + lanes.length * LANE_HEIGHT;
  const parts = [];
  // Axis: five ticks.
  for (let i = 0; i <= 4; ++i) {
    const t = from + ((to - from) * i) / 4;
    parts.push(`<line class="axis" x1="${x(t)}" y1="14" x2="${x(t)}" y2="${height}"/>` +
      `<text x="${x(t)}" y="11" text-anchor="${i === 4 ? 'end' : 'middle'}">${clock(t)}</text>`);
  }
  lanes.forEach((lane, i) => {
    if (i < firstLane || i >= endLane) return;
    const y = 24 + i * LANE_HEIGHT;
    const mid = y + LANE_HEIGHT / 2 - 2;
    const ended = lane.events.length && lane.events[lane.events.length - 1].kind === 'logoff';
    const previous = lane.boot !== currentBoot();
    parts.push(`<g class="lane-row" data-key="${esc(lane.key)}" data-session="${lane.sid}">` +
      `<line class="lane" x1="${LABEL_WIDTH}" y1="${mid}" x2="${width}" y2="${mid}"/>` +
      `<text class="lane-label${ended || previous ? ' ended' : ''}" x="4" y="${mid + 4}">` +
      `${esc(`#${lane.sid} ${lane.target || ''}`.slice(0, 36))}${previous ? ' (earlier run)' : ''}</text>`);
    // Spans: down from a disconnect to the reconnect (or now, or the logoff).
    let downAt = null;
    const spans = [];
    for (const e of lane.events) {
      if (e.kind === 'session_disconnect' && downAt === null) downAt = e.t;
      else if ((e.kind === 'session_reconnect' || e.kind === 'logon' || e.kind === 'logoff') && downAt !== null) {
        spans.push([downAt, e.t, false]);
        downAt = null;
      }
    }
    if (downAt !== null) spans.push([downAt, ended || previous ? lane.events[lane.events.length - 1].t : to, true]);
    // One path per lane and kind, not one element per event: a page with
    // 10 000 events stays light for the browser.
    const box = (a, b) => `M${x(a).toFixed(1)} ${y + 1}h${Math.max(2, x(b) - x(a)).toFixed(1)}v${LANE_HEIGHT - 4}h${
      -Math.max(2, x(b) - x(a)).toFixed(1)}z`;
    for (const open of [false, true]) {
      const mine = spans.filter((sp) => sp[2] === open && sp[1] >= from);
      if (!mine.length) continue;
      const total = mine.reduce((sum, [a, b]) => sum + (b - a), 0) / 1000;
      parts.push(`<path class="down" data-session="${lane.sid}" data-open="${open ? 1 : 0}" d="${
        mine.map(([a, b]) => box(a, b)).join('')}"><title>${open ? 'down now, for' : `down ${mine.length}×, in all`} ${
        total.toFixed(1)} s</title></path>`);
    }
    const byKind = new Map();
    for (const e of lane.events) {
      if (e.t < from) continue;
      const cx = x(e.t);
      let d = byKind.get(e.kind);
      if (!d) { d = []; byKind.set(e.kind, d); }
      d.push(`M${(cx - 2).toFixed(1)} ${y + 1}h4v${LANE_HEIGHT - 4}h-4z`);
    }
    for (const [kind, d] of byKind) {
      parts.push(`<path class="mark k-${kind}" data-kind="${kind}" data-session="${lane.sid}" d="${d.join('')}">` +
        `<title>${kind} ×${d.length}</title></path>`);
    }
    parts.push('</g>');
  });
  svg.setAttribute('height', String(height));
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.innerHTML = parts.join('');
  svg.dataset.from = String(from);
  svg.dataset.to = String(to);
  svg.dataset.lanes = String(lanes.length);
  svg.dataset.drawn = String(endLane - firstLane);
}

function renderIo() {
  const svg = $('io-chart');
  const width = chartWidth();
  const height = 140;
  const tl = $('timeline');
  const from = Number(tl.dataset.from) || Date.now() - 60000;
  const to = Number(tl.dataset.to) || Date.now();
  const plot = width - LABEL_WIDTH - 10;
  const x = (t) => LABEL_WIDTH + ((t - from) / (to - from)) * plot;
  const samples = state.io ? state.io.total.filter((p) => p.t >= from) : [];
  const top = Math.max(1024, ...samples.map((p) => Math.max(p.rb, p.wb)));
  const y = (v) => height - 16 - (v / top) * (height - 30);
  const line = (field) => samples.map((p) => `${x(p.t).toFixed(1)},${y(p[field]).toFixed(1)}`).join(' ');
  const parts = [`<line class="axis" x1="${LABEL_WIDTH}" y1="${y(0)}" x2="${width}" y2="${y(0)}"/>`,
    `<text x="4" y="14">${bytesRate(top)}</text><text x="4" y="${y(0)}">0</text>`,
    `<text x="4" y="60" class="read-label">— read</text><text x="4" y="76" class="write-label">— write</text>`];
  // The drops, lined up with the timeline above.
  for (const e of state.events) {
    if (e.kind === 'session_disconnect' && !e.attempt && e.t >= from) {
      parts.push(`<line class="drop" x1="${x(e.t)}" y1="10" x2="${x(e.t)}" y2="${y(0)}"/>`);
    }
  }
  if (samples.length > 1) {
    parts.push(`<polyline class="read" points="${line('rb')}"/>`, `<polyline class="write" points="${line('wb')}"/>`);
  }
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.innerHTML = parts.join('');
  svg.dataset.samples = String(samples.length);
}

// --- start ------------------------------------------------------------------

async function start() {
  $('sessions').addEventListener('click', (ev) => {
    const row = ev.target.closest('tr[data-key]');
    if (!row) return;
    state.selected = row.dataset.key;
    for (const other of $('sessions').querySelectorAll('tr.selected')) other.classList.remove('selected');
    row.classList.add('selected');
    scheduleRender('detail');
  });
  $('sessions').parentNode.addEventListener('scroll', () => scheduleRender('sessions'), {passive: true});
  $('timeline').addEventListener('click', (ev) => {
    const row = ev.target.closest('g[data-key]');
    if (!row) return;
    state.selected = row.dataset.key;
    scheduleRender('sessions', 'detail');
  });
  $('detail-close').addEventListener('click', () => { state.selected = null; scheduleRender('sessions', 'detail'); });
  $('window').addEventListener('change', () => scheduleRender('timeline', 'io'));
  $('timeline').parentNode.addEventListener('scroll', () => scheduleRender('timeline'), {passive: true});
  for (;;) {
    try {
      await refreshStatus();
      if (!state.reachable) throw new Error('unreachable');
      await loadHistory();
      break;
    } catch (err) {
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  }
  connectStream();
  await Promise.all([refreshSessions(), refreshIo()]);
  render();
  document.body.dataset.ready = '1';
  setInterval(refreshStatus, 5000);
  setInterval(refreshSessions, 2000);
  setInterval(async () => { await refreshIo(); scheduleRender('io'); }, 1000);
  setInterval(() => { tickUptime(); scheduleRender('timeline'); }, 2000);  // "now" moves on
}

start();
