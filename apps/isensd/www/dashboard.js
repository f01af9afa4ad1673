// The isensd dashboard. Plain JavaScript, no build step, nothing fetched
// from elsewhere: the history comes from /api/events, live changes from
// /events (Server-Sent Events, resumed by the browser with Last-Event-ID),
// the sessions from /api/sessions and the rates from /api/io. This file
// keeps the state, the stream and the polling; dashboard_sessions.js draws
// the table and the detail view, dashboard_timeline.js the timeline.
'use strict';

// Every event kind: the stream sends each as a named event, and a kind
// without a listener here would never reach the page.
const KINDS = ['connection_made', 'connection_lost', 'logon', 'logoff', 'session_disconnect', 'session_reconnect',
  'session_ready', 'nbd_attach', 'nbd_detach'];
const MAX_EVENTS = 20000;     // kept in the page; the journal keeps more
const HISTORY_EVENTS = 10000; // read back at load

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

document.addEventListener('DOMContentLoaded', start);  // after every deferred script
