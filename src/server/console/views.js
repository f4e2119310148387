// The pages that show stored segments: the grid, one segment's members and breakdown,
// combined reports, the overlap matrix, and the customer lookup.

import { api, download, segmentPath } from './api.js';
import { h, select, replace, number, showError } from './dom.js';
import { barChart, heatMap } from './charts.js';

const REPORT_COLUMNS = ['customer_id', 'name', 'email', 'group_id', 'telephone', 'postcode',
  'country_id', 'region', 'customer_since'];

const GRID_COLUMNS = [
  ['name', 'Name'], ['id', 'Id'], ['websites', 'Websites'], ['apply_to', 'Applies to'],
  ['active', 'Active'], ['count', 'Members'], ['refreshed_at', 'Refreshed at'],
];

const idsOf = (query) => (query.get('ids') || '').split(',').filter(Boolean);

// Every stored segment: sort by a column, filter by name, select some to combine.
export async function grid(main) {
  const segments = await api('GET', '/segments');
  let sortKey = 'name';
  let ascending = true;
  const chosen = new Set();
  const filter = h('input#grid-filter', { type: 'search', placeholder: 'Filter by name' });
  const body = h('tbody');
  const actions = h('div.actions',
    h('a.button#grid-new', { href: '#/new' }, 'New segment'),
    h('button#grid-union', { onclick: () => combine('union') }, 'Union of selected'),
    h('button#grid-intersection', { onclick: () => combine('intersection') }, 'Intersection of selected'),
    h('button#grid-overlap', { onclick: () => go('overlap') }, 'Overlap of selected'));
  function combine(set) {
    go('report', `&set=${set}`);
  }
  function go(page, extra = '') {
    if (chosen.size === 0) {
      showError('Select segments first (the boxes in the first column).');
      return;
    }
    location.hash = `#/${page}?ids=${[...chosen].map(encodeURIComponent).join(',')}${extra}`;
  }
  const header = h('tr', h('th', ''), GRID_COLUMNS.map(([key, label]) => h('th', {
    class: 'sortable',
    dataset: { key },
    onclick: () => {
      ascending = sortKey === key ? !ascending : true;
      sortKey = key;
      draw();
    },
  }, label)), h('th', ''));
  function draw() {
    const text = filter.value.trim().toLowerCase();
    const shown = segments
      .filter((s) => s.name.toLowerCase().includes(text))
      .sort((a, b) => {
        const [x, y] = [a[sortKey], b[sortKey]].map((v) => (Array.isArray(v) ? v.join(',') : v));
        const order = typeof x === 'number' && typeof y === 'number'
          ? x - y : String(x).localeCompare(String(y), 'en', { numeric: true });
        return ascending ? order : -order;
      });
    for (const th of header.querySelectorAll('th.sortable')) {
      th.classList.toggle('sorted', th.dataset.key === sortKey);
      th.classList.toggle('descending', th.dataset.key === sortKey && !ascending);
    }
    replace(body, shown.map((s) => h('tr', { dataset: { segment: s.id } },
      h('td', h('input.choose', {
        type: 'checkbox',
        checked: chosen.has(String(s.id)),
        'aria-label': `select ${s.name}`,
        onchange: (e) => (e.target.checked ? chosen.add(String(s.id)) : chosen.delete(String(s.id))),
      })),
      h('td', h('a', { href: `#/segments/${encodeURIComponent(s.id)}` }, s.name)),
      h('td', String(s.id)),
      h('td', s.websites.join(', ')),
      h('td', s.apply_to),
      h('td', s.active ? 'yes' : 'no'),
      h('td.num.count', number(s.count)),
      h('td', s.refreshed_at),
      h('td.row-actions',
        h('a', { href: `#/segments/${encodeURIComponent(s.id)}/edit` }, 'Edit'),
        h('button.refresh', { onclick: () => refresh(s) }, 'Refresh'),
        h('button.delete', { onclick: () => remove(s) }, 'Delete')))));
  }
  async function refresh(s) {
    try {
      await api('POST', `${segmentPath(s.id)}/refresh`, {});
      // The server's count and time of the refresh (its clock, not the browser's).
      const fresh = await api('GET', segmentPath(s.id));
      Object.assign(s, { count: fresh.count, refreshed_at: fresh.refreshed_at });
      draw();
    } catch (error) {
      showError(error);
    }
  }
  async function remove(s) {
    if (!confirm(`Delete segment "${s.name}"?`)) return;
    try {
      await api('DELETE', segmentPath(s.id));
      segments.splice(segments.indexOf(s), 1);
      chosen.delete(String(s.id));
      draw();
    } catch (error) {
      showError(error);
    }
  }
  filter.addEventListener('input', draw);
  draw();
  replace(main, h('h1', 'Segments'), h('div.toolbar', filter, actions),
    segments.length ? h('table.grid#grid', h('thead', header), body)
      : h('p.muted', 'No segments yet. ', h('a', { href: '#/new' }, 'Create one.')));
}

// A paged table of members with CSV and Excel downloads. `fetchPage(after)` answers
// a members page; `exportWith(format)` downloads every member.
function membersTable(fetchPage, exportWith) {
  const box = h('section.members');
  const cursors = [null];
  let at = 0;
  async function show() {
    const page = await fetchPage(cursors[at]);
    cursors[at + 1] = page.next;
    const rows = page.members.map((m) => h('tr',
      m.customer_id !== undefined
        ? REPORT_COLUMNS.map((c) => h('td', m[c] ?? ''))
        : [h('td', `visitor ${m.visitor_id}`), REPORT_COLUMNS.slice(1).map(() => h('td', ''))]));
    replace(box,
      h('div.toolbar',
        h('span#members-count', `${number(page.count)} members`),
        h('button#members-prev', { disabled: at === 0, onclick: () => { at -= 1; show(); } }, '‹ Previous'),
        h('span#members-page', `page ${at + 1}`),
        h('button#members-next', { disabled: !page.next, onclick: () => { at += 1; show(); } }, 'Next ›'),
        h('button#download-csv', { onclick: () => exportWith('csv').catch(showError) }, 'Download CSV'),
        h('button#download-xlsx', { onclick: () => exportWith('xlsx').catch(showError) }, 'Download Excel')),
      h('table.grid#members', h('thead', h('tr', REPORT_COLUMNS.map((c) => h('th', c)))),
        h('tbody', rows)));
  }
  show().catch(showError);
  return box;
}

// The fields a breakdown may count by (GET /schema): stored customer fields and those of
// the default billing address, of few values.
function breakdownFields(schema) {
  const fields = [];
  for (const table of ['customer', 'address']) {
    for (const [name, f] of Object.entries(schema.tables[table].fields)) {
      if (!f.derived && ['id', 'int', 'bool', 'string'].includes(f.type)) fields.push(`${table}.${name}`);
    }
  }
  return fields;
}

export async function segmentPage(main, id) {
  const [segment, schema] = await Promise.all([api('GET', segmentPath(id)), api('GET', '/schema')]);
  const fields = breakdownFields(schema);
  const chart = h('div#breakdown-chart');
  const by = select(fields, 'customer.group_id', { id: 'breakdown-by' });
  async function drawBreakdown() {
    try {
      const answer = await api('GET', `${segmentPath(id)}/breakdown?by=${encodeURIComponent(by.value)}`);
      const groups = answer.groups.map((g) => [g.value === null ? '(none)' : String(g.value), g.count]);
      if (answer.other) groups.push(['(other values)', answer.other]);
      if (answer.visitors) groups.push(['(visitors)', answer.visitors]);
      replace(chart, barChart(groups));
    } catch (error) {
      showError(error);
    }
  }
  by.addEventListener('change', drawBreakdown);
  const stem = `segment-${id}-members`;
  replace(main,
    h('h1', segment.name),
    h('p.muted', `id ${segment.id} · websites ${segment.websites.join(', ')} · ${segment.apply_to}`,
      ` · ${segment.active ? 'active' : 'inactive'} · refreshed ${segment.refreshed_at}`),
    segment.description ? h('p', segment.description) : null,
    h('p', h('strong#segment-count', number(segment.count)), ` members of ${number(segment.universe)} in scope · `,
      h('a', { href: `#/segments/${encodeURIComponent(id)}/edit` }, 'Edit conditions')),
    h('h2', 'Breakdown'),
    h('p', 'Members by ', by),
    chart,
    h('h2', 'Members'),
    membersTable(
      (after) => api('GET', `${segmentPath(id)}/members?limit=50${after ? `&after=${encodeURIComponent(after)}` : ''}`),
      (format) => download('GET', `${segmentPath(id)}/members?format=${format}`, undefined, `${stem}.${format}`)));
  drawBreakdown();
}

export async function reportPage(main, query) {
  const ids = idsOf(query);
  const set = query.get('set') === 'intersection' ? 'intersection' : 'union';
  const body = { segments: ids, set };
  const first = await api('POST', '/report', { ...body, limit: 1 });
  replace(main,
    h('h1', `${set === 'union' ? 'Union' : 'Intersection'} of ${first.segments.join(', ')}`),
    h('p', h('strong#report-count', number(first.count)), ' members · ',
      h('a', { href: `#/report?ids=${ids.map(encodeURIComponent).join(',')}&set=${set === 'union' ? 'intersection' : 'union'}` },
        `show the ${set === 'union' ? 'intersection' : 'union'}`), ' · ',
      h('a', { href: `#/overlap?ids=${ids.map(encodeURIComponent).join(',')}` }, 'overlap matrix')),
    membersTable(
      (after) => api('POST', '/report', { ...body, limit: 50, ...(after ? { after } : {}) }),
      (format) => download('POST', '/report', { ...body, format }, `report-members.${format}`)));
}

export async function overlapPage(main, query) {
  const answer = await api('POST', '/overlap', { segments: idsOf(query) });
  const segments = await api('GET', '/segments');
  const names = new Map(segments.map((s) => [String(s.id), s.name]));
  const labels = answer.segments.map((id) => names.get(String(id)) || String(id));
  replace(main,
    h('h1', 'Overlap'),
    h('p.muted', 'Each cell: the members the row\'s segment shares with the column\'s, and their share of the row\'s members.'),
    heatMap(labels, answer.shared),
    h('p', h('a', { href: `#/report?ids=${idsOf(query).map(encodeURIComponent).join(',')}&set=intersection` },
      'Intersection of all'), ' · ',
    h('a', { href: `#/report?ids=${idsOf(query).map(encodeURIComponent).join(',')}&set=union` }, 'Union of all')));
}

// Which segments a customer or visitor is in now.
export async function lookupPage(main, query) {
  const kind = select([['customer', 'Customer id'], ['visitor', 'Visitor id']], query.get('kind') || 'customer', { id: 'lookup-kind' });
  const input = h('input#lookup-id', { type: 'number', min: 1, value: query.get('id') || '' });
  const result = h('div#lookup-result');
  async function look(event) {
    event?.preventDefault();
    if (!input.value) return;
    try {
      const answer = await api('GET', `/${kind.value}s/${encodeURIComponent(input.value)}/segments`);
      replace(result, answer.segments.length
        ? h('ul', answer.segments.map((id) => h('li', h('a', { href: `#/segments/${encodeURIComponent(id)}` }, String(id)))))
        : h('p', 'In no active segment.'));
    } catch (error) {
      replace(result, h('p.error', error.message));
    }
  }
  replace(main, h('h1', 'Customer lookup'),
    h('form#lookup-form', { onsubmit: look }, kind, input, h('button', { type: 'submit' }, 'Look up')),
    result);
  if (input.value) look();
}
