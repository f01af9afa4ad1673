// The sessions table and a session's detail view: drawn from /api/sessions
// (state.sessions) and the lanes' events. Loaded beside dashboard.js.
'use strict';

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

// A length in bytes as the RFC gives it, with its size in KiB when it has one.
const lengthText = (n) => (n >= 1024 && n % 1024 === 0 ? `${n} (${n / 1024} KiB)` : String(n));
const yesNo = (b) => (b ? 'Yes' : 'No');

// The operational keys of the session's last login under their RFC 7143
// names, then what the session itself holds.
function negotiatedRows(s) {
  const n = s.negotiated;
  return [['ISID', s.isid], ['TSIH', s.tsih], ['AuthMethod', s.auth_type],
    ['HeaderDigest', n.header_digest], ['DataDigest', n.data_digest],
    ['MaxConnections', n.max_connections], ['InitialR2T', yesNo(n.initial_r2t)],
    ['ImmediateData', yesNo(n.immediate_data)],
    ['MaxRecvDataSegmentLength (initiator)', lengthText(n.max_recv_data_segment_length)],
    ['MaxRecvDataSegmentLength (target)', lengthText(n.max_send_data_segment_length)],
    ['MaxBurstLength', lengthText(n.max_burst_length)], ['FirstBurstLength', lengthText(n.first_burst_length)],
    ['MaxOutstandingR2T', n.max_outstanding_r2t], ['DataPDUInOrder', yesNo(n.data_pdu_in_order)],
    ['DataSequenceInOrder', yesNo(n.data_sequence_in_order)], ['ErrorRecoveryLevel', n.error_recovery_level],
    ['DefaultTime2Wait', `${n.default_time2wait} s`], ['DefaultTime2Retain', `${n.default_time2retain} s`],
    ['TargetPortalGroupTag', n.target_portal_group_tag ?? '—'], ['TargetAlias', n.target_alias || '—'],
    ['connections wanted', s.connections_wanted]];
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
    `<td class="num">${c.max_recv_data_segment_length} / ${c.max_send_data_segment_length}</td>` +
    `<td>${clock(made.get(c.connection_id))}</td></tr>`).join('') : '';
  $('detail-luns').tBodies[0].innerHTML = s ? s.devices.map((d) =>
    `<tr data-lun="${d.lun}"><td>${d.lun}</td><td>${esc(d.inquiry.device_type)}</td><td>${esc(d.inquiry.vendor)}</td>` +
    `<td>${esc(d.inquiry.product)}</td><td>${d.capacity ? bytes(d.capacity.bytes) : '—'}</td>` +
    `<td class="uri">${esc(d.nbd_uri || '—')}</td></tr>`).join('') : '';
  // Two keys a row, so the table is no taller than the connections and LUNs beside it.
  const cells = s ? negotiatedRows(s).map(([k, v]) => `<th>${k}</th><td data-param="${k}">${esc(v)}</td>`) : [];
  const rows = [];
  for (let i = 0; i < cells.length; i += 2) rows.push(`<tr>${cells[i]}${cells[i + 1] || ''}</tr>`);
  $('detail-params').tBodies[0].innerHTML = rows.join('');
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
