// The timeline (a lane per session: marks per event, down spans) and the
// I/O chart under it, on one time axis. Hand-drawn SVG; loaded beside dashboard.js.
'use strict';

const LANE_HEIGHT = 16;
const LABEL_WIDTH = 230;

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
