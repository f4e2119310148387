// The segment editor: a condition tree built from GET /schema, a JSON view of the same
// definition kept in step with it, and the exact size from POST /estimate as the
// conditions change, with what each top-level condition matches alone.

import { api, segmentPath, ApiError } from './api.js';
import { h, select, replace, number, debounce, showError } from './dom.js';

const GROUPS = {
  all: 'ALL of these are true',
  any: 'ANY of these is true',
  none: 'NONE of these is true',
  not_all: 'NOT ALL of these are true',
};
const KINDS = {
  group: 'conditions group', not: 'not', field: 'field', has: 'has a related record',
  aggregate: 'aggregate of related records', in_segment: 'in segment',
};
const NO_VALUE = ['is_null', 'is_not_null'];
const LISTS = ['in', 'not_in', 'has_any', 'has_all', 'has_none'];
const NUMERIC = ['id', 'int', 'decimal'];
// How long after the last edit the size is asked for.
const SETTLE_MS = 150;

const today = () => new Date().toISOString().slice(0, 10);

function kindOf(node) {
  if (Object.keys(GROUPS).some((g) => g in node)) return 'group';
  return ['not', 'has', 'aggregate', 'in_segment'].find((k) => k in node) || 'field';
}

const groupOf = (node) => Object.keys(GROUPS).find((g) => g in node);

// A value that fits a field's type and operator, to start from.
function defaultValue(type, op) {
  if (LISTS.includes(op) || type === 'list<id>') return [];
  if (op === 'in_last_days' || op === 'not_in_last_days') return 30;
  const one = type === 'bool' ? true : ['date', 'timestamp'].includes(type) ? today()
    : NUMERIC.includes(type) ? 0 : '';
  return op === 'between' ? [one, one] : one;
}

// Websites as typed ("1, 2") to a list of numbers (what is not a number is sent as is,
// for the server to name).
function parseList(text, numeric) {
  return text.split(',').map((s) => s.trim()).filter(Boolean)
    .map((s) => (numeric && s !== '' && !Number.isNaN(Number(s)) ? Number(s) : s));
}

export async function openEditor(main, id) {
  const [schema, segments, stored] = await Promise.all([
    api('GET', '/schema'), api('GET', '/segments'), id === null ? null : api('GET', segmentPath(id)),
  ]);
  const definition = stored
    ? {
      name: stored.name, description: stored.description || '', websites: stored.websites,
      apply_to: stored.apply_to, active: stored.active, conditions: stored.conditions,
    }
    : {
      id: '', name: '', description: '', websites: [1], apply_to: 'registered', active: true,
      conditions: { all: [] },
    };
  new Editor(main, schema, segments, definition, id).draw();
}

class Editor {
  constructor(main, schema, segments, definition, id) {
    Object.assign(this, { main, schema, segments, definition, id });
    this.generation = 0;
    this.estimateSoon = debounce(() => this.estimate(), SETTLE_MS);
    this.form = h('section.segment-form');
    this.tree = h('section.tree#tree');
    this.json = h('textarea#json', { spellcheck: 'false', rows: 24 });
    this.jsonError = h('p.error#json-error');
    this.json.addEventListener('input', debounce(() => this.fromJson(), 300));
    this.size = h('div#live-size', h('span#live-count', '…'), ' of ', h('span#live-universe', '…'));
  }

  draw() {
    replace(this.main,
      h('h1', this.id === null ? 'New segment' : `Edit segment ${this.id}`),
      h('div.editor',
        h('div.editor-main', this.form, h('h2', 'Conditions'), this.tree,
          h('div.actions', h('button#save', { onclick: () => this.save() }, 'Save segment'),
            this.id === null ? null : h('a', { href: `#/segments/${encodeURIComponent(this.id)}` }, 'Cancel'))),
        h('aside.editor-side', h('h2', 'Live size'), this.size, h('p.muted#live-elapsed', ''),
          h('h2', 'JSON'), this.json, this.jsonError)));
    this.drawForm();
    this.drawTree();
    this.showJson();
    this.estimate();
  }

  // Something changed in the form or the tree: the JSON view follows, the size is asked.
  changed(structure) {
    if (structure) this.drawTree();
    this.showJson();
    this.estimateSoon();
  }

  body() {
    const d = this.definition;
    const body = {};
    if (this.id === null && String(d.id).trim() !== '') body.id = /^\d+$/.test(d.id) ? Number(d.id) : d.id;
    Object.assign(body, { name: d.name });
    if (d.description) body.description = d.description;
    Object.assign(body, { websites: d.websites, apply_to: d.apply_to, active: d.active, conditions: d.conditions });
    return body;
  }

  showJson() {
    this.json.value = JSON.stringify(this.body(), null, 2);
    this.jsonError.textContent = '';
  }

  fromJson() {
    let parsed;
    try {
      parsed = JSON.parse(this.json.value);
    } catch (error) {
      this.jsonError.textContent = `JSON: ${error.message}`;
      return;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      this.jsonError.textContent = 'JSON: a segment is an object';
      return;
    }
    this.jsonError.textContent = '';
    this.definition = {
      id: this.id === null ? parsed.id ?? '' : undefined,
      name: parsed.name ?? '', description: parsed.description ?? '', websites: parsed.websites ?? [],
      apply_to: parsed.apply_to ?? 'both', active: parsed.active ?? true,
      conditions: parsed.conditions ?? { all: [] },
    };
    this.drawForm();
    this.drawTree();
    this.estimateSoon();
  }

  drawForm() {
    const d = this.definition;
    const field = (label, pointer, input) => h('label.form-field', { dataset: { pointer } },
      h('span', label), input, h('span.cond-error'));
    const text = (key, attrs = {}) => h('input', {
      ...attrs, value: d[key] ?? '', oninput: (e) => { d[key] = e.target.value; this.changed(false); },
    });
    replace(this.form,
      this.id === null ? field('Id (optional)', '/id', text('id', { id: 'segment-id', placeholder: 'automatic' })) : null,
      field('Name', '/name', text('name', { id: 'segment-name' })),
      field('Description', '/description', text('description', { id: 'segment-description' })),
      field('Websites', '/websites', h('input#segment-websites', {
        value: d.websites.join(', '),
        oninput: (e) => { d.websites = parseList(e.target.value, true); this.changed(false); },
      })),
      field('Applies to', '/apply_to', select([['registered', 'registered customers'], ['visitors', 'visitors'],
        ['both', 'customers and visitors']], d.apply_to, {
        id: 'segment-apply-to', onchange: (e) => { d.apply_to = e.target.value; this.changed(false); },
      })),
      field('Active', '/active', h('input#segment-active', {
        type: 'checkbox', checked: d.active,
        onchange: (e) => { d.active = e.target.checked; this.changed(false); },
      })));
  }

  drawTree() {
    const top = { tables: ['customer', 'cart'], top: true };
    replace(this.tree, this.node(this.definition.conditions, '/conditions', top,
      (n) => { this.definition.conditions = n; }, null));
  }

  // The fields a condition may name where it stands, as [path, field] pairs.
  fieldsOf(context) {
    return context.tables.flatMap((table) => Object.entries(this.schema.tables[table].fields)
      .map(([name, f]) => [`${table}.${name}`, f]));
  }

  fieldType(path) {
    const [table, name] = path.split('.');
    return this.schema.tables[table]?.fields[name];
  }

  // A condition to start from, of `kind`.
  fresh(kind, context) {
    switch (kind) {
      case 'group': return { all: [] };
      case 'not': return { not: this.fresh('field', context) };
      case 'has': return { has: Object.keys(this.schema.relations)[0] };
      case 'aggregate': return { aggregate: 'count', of: 'order', op: 'gte', value: 1 };
      case 'in_segment': return { in_segment: this.segments.find((s) => String(s.id) !== String(this.id))?.id ?? '' };
      default: {
        const [path, f] = this.fieldsOf(context)[0];
        return { field: path, op: f.operators[0], value: defaultValue(f.type, f.operators[0]) };
      }
    }
  }

  // One condition: its kind, its controls, its children. `set` puts a new condition in
  // its place; `remove` (none at the root) takes it out of its group.
  node(node, pointer, context, set, remove) {
    const kind = kindOf(node);
    const kinds = Object.keys(KINDS).filter((k) => context.top || ['group', 'not', 'field'].includes(k));
    const box = h(`div.cond.cond-${kind}`, { dataset: { pointer } });
    const head = h('div.cond-head',
      select(kinds.map((k) => [k, KINDS[k]]), kind, {
        class: 'kind',
        onchange: (e) => { set(this.fresh(e.target.value, context)); this.changed(true); },
      }));
    box.append(head);
    const parts = this[kind](node, pointer, context, head, set);
    if (remove) head.append(h('button.remove', { title: 'Remove this condition', onclick: () => { remove(); this.changed(true); } }, '✕'));
    head.append(h('span.alone'));
    box.append(h('div.cond-error'));
    if (parts) box.append(parts);
    return box;
  }

  group(node, pointer, context, head) {
    const name = groupOf(node);
    const children = node[name];
    head.append(select(Object.entries(GROUPS), name, {
      class: 'group-op',
      onchange: (e) => {
        delete node[name];
        node[e.target.value] = children;
        this.changed(true);
      },
    }));
    return h('div.children',
      children.map((child, i) => this.node(child, `${pointer}/${name}/${i}`, context,
        (n) => { children[i] = n; }, () => children.splice(i, 1))),
      h('div.add',
        h('button.add-condition', { onclick: () => { children.push(this.fresh('field', context)); this.changed(true); } }, '+ condition'),
        h('button.add-group', { onclick: () => { children.push({ all: [] }); this.changed(true); } }, '+ group')));
  }

  not(node, pointer, context) {
    return h('div.children', this.node(node.not, `${pointer}/not`, context, (n) => { node.not = n; }, null));
  }

  field(node, pointer, context, head) {
    const fields = this.fieldsOf(context);
    const f = this.fieldType(node.field);
    const paths = fields.map(([path]) => path);
    // A field typed in the JSON view that is not one stays shown, with the server's error.
    if (!paths.includes(node.field)) paths.unshift([node.field, `${node.field} (unknown)`]);
    head.append(select(paths, node.field, {
      class: 'field-name',
      onchange: (e) => {
        const next = this.fieldType(e.target.value);
        const op = next.operators.includes(node.op) ? node.op : next.operators[0];
        Object.assign(node, { field: e.target.value, op, value: defaultValue(next.type, op) });
        if (NO_VALUE.includes(op)) delete node.value;
        this.changed(true);
      },
    }));
    if (!f) return null;
    this.comparison(node, f.type, f.operators, head);
    return null;
  }

  // The operator and value controls of a comparison of a value of `type`.
  comparison(node, type, operators, head) {
    head.append(select(operators, node.op, {
      class: 'op',
      onchange: (e) => {
        const op = e.target.value;
        const was = node.op;
        node.op = op;
        const shape = (o) => (NO_VALUE.includes(o) ? 'none' : LISTS.includes(o) ? 'list' : o === 'between' ? 'pair'
          : o.endsWith('in_last_days') ? 'days' : 'one');
        if (NO_VALUE.includes(op)) delete node.value;
        else if (shape(op) !== shape(was)) node.value = defaultValue(type, op);
        this.changed(true);
      },
    }));
    if (NO_VALUE.includes(node.op)) return;
    const set = (value) => { node.value = value; this.changed(false); };
    if (LISTS.includes(node.op) || type === 'list<id>') {
      head.append(h('input.value.value-list', {
        value: (node.value || []).join(', '), placeholder: 'a, b, c',
        oninput: (e) => set(parseList(e.target.value, type !== 'string')),
      }));
    } else if (node.op === 'between') {
      const pair = Array.isArray(node.value) ? node.value : [null, null];
      const end = (i) => (v) => { pair[i] = v; set([...pair]); };
      head.append(this.input(type, pair[0], end(0)), ' and ', this.input(type, pair[1], end(1)));
    } else if (node.op.endsWith('in_last_days')) {
      head.append(this.input('int', node.value, set), ' days');
    } else {
      head.append(this.input(type, node.value, set));
    }
  }

  // One value's input, fitting its type: numbers, a yes/no, a date or time picker, text.
  input(type, value, set) {
    if (type === 'bool') {
      return select([['true', 'true'], ['false', 'false']], String(value), {
        class: 'value', onchange: (e) => set(e.target.value === 'true'),
      });
    }
    if (NUMERIC.includes(type)) {
      return h('input.value', {
        type: 'number', step: type === 'decimal' ? 'any' : '1', value: value ?? '',
        oninput: (e) => set(e.target.value === '' ? null : Number(e.target.value)),
      });
    }
    if (type === 'date' || type === 'timestamp') {
      // A date against a timestamp is the whole UTC day; an exact time has its own picker.
      const exact = typeof value === 'string' && value.includes('T');
      return h('input.value', {
        type: exact ? 'datetime-local' : 'date', step: exact ? '1' : undefined,
        value: exact ? value.replace(/Z$/, '').slice(0, 19) : value ?? '',
        oninput: (e) => set(exact ? `${e.target.value.length === 16 ? `${e.target.value}:00` : e.target.value}Z` : e.target.value),
      });
    }
    return h('input.value', { value: value ?? '', oninput: (e) => set(e.target.value) });
  }

  has(node, pointer, context, head) {
    head.append(this.relationSelect(node, 'has'));
    return this.where(node, pointer, node.has);
  }

  relationSelect(node, key) {
    return select(Object.keys(this.schema.relations), node[key], {
      class: 'relation',
      onchange: (e) => {
        node[key] = e.target.value;
        // A where names the relation's tables: it does not carry over to another.
        delete node.where;
        this.changed(true);
      },
    });
  }

  // The optional `where` of a has or an aggregate over `relation`.
  where(node, pointer, relation) {
    const context = { tables: this.schema.relations[relation]?.tables || [], top: false };
    if (!node.where) {
      return h('div.children', h('button.add-where', {
        onclick: () => { node.where = { all: [] }; this.changed(true); },
      }, '+ where'));
    }
    return h('div.children', h('span.muted', 'where'),
      this.node(node.where, `${pointer}/where`, context, (n) => { node.where = n; },
        () => { delete node.where; }));
  }

  aggregate(node, pointer, context, head) {
    const relation = node.aggregate === 'count' ? node.of : String(node.of || '').split('.')[0];
    head.append(select(this.schema.aggregates, node.aggregate, {
      class: 'aggregate-fn',
      onchange: (e) => {
        const fn = e.target.value;
        node.aggregate = fn;
        if (fn === 'count') node.of = relation;
        else if (!String(node.of).includes('.')) node.of = this.measures(relation)[0] || relation;
        const type = this.aggregateType(node);
        node.op = this.aggregateOperators(type)[0];
        node.value = defaultValue(type, node.op);
        this.changed(true);
      },
    }), ' of ');
    if (node.aggregate === 'count') {
      head.append(this.relationSelect(node, 'of'));
    } else {
      head.append(select(this.measures(relation), node.of, {
        class: 'measure',
        onchange: (e) => {
          node.of = e.target.value;
          const type = this.aggregateType(node);
          node.op = this.aggregateOperators(type)[0];
          node.value = defaultValue(type, node.op);
          this.changed(true);
        },
      }));
    }
    const type = this.aggregateType(node);
    this.comparison(node, type, this.aggregateOperators(type), head);
    return this.where(node, pointer, relation);
  }

  // The fields an aggregate other than count may take over a relation: numbers and times.
  measures(relation) {
    const fields = this.schema.tables[relation]?.fields || {};
    return Object.entries(fields).filter(([, f]) => ['int', 'decimal', 'date', 'timestamp'].includes(f.type))
      .map(([name]) => `${relation}.${name}`);
  }

  aggregateType(node) {
    return node.aggregate === 'count' ? 'int' : this.fieldType(String(node.of))?.type || 'decimal';
  }

  aggregateOperators(type) {
    const example = Object.values(this.schema.tables).flatMap((t) => Object.values(t.fields)).find((f) => f.type === type);
    return (example?.operators || ['eq']).filter((o) => !NO_VALUE.includes(o));
  }

  in_segment(node, pointer, context, head) {
    const choices = this.segments.filter((s) => String(s.id) !== String(this.id)).map((s) => [s.id, `${s.name} (${s.id})`]);
    head.append(select(choices, node.in_segment, {
      class: 'segment',
      onchange: (e) => {
        const chosen = this.segments.find((s) => String(s.id) === e.target.value);
        node.in_segment = chosen ? chosen.id : e.target.value;
        this.changed(false);
      },
    }));
    return null;
  }

  // Shows `message` at the deepest part of the page whose pointer leads to `pointer`.
  showAt(pointer, message) {
    let best = null;
    for (const el of this.main.querySelectorAll('[data-pointer]')) {
      const p = el.dataset.pointer;
      if ((pointer === p || pointer.startsWith(`${p}/`)) && (!best || p.length > best.dataset.pointer.length)) best = el;
    }
    if (!best) {
      showError(message);
      return;
    }
    best.classList.add('invalid');
    const slot = [...best.children].find((c) => c.classList.contains('cond-error'));
    slot.textContent = message;
  }

  clearErrors() {
    for (const el of this.main.querySelectorAll('.invalid')) el.classList.remove('invalid');
    for (const el of this.main.querySelectorAll('.cond-error')) el.textContent = '';
    showError(null);
  }

  async estimate() {
    const generation = ++this.generation;
    const d = this.definition;
    const scope = { websites: d.websites, apply_to: d.apply_to };
    const count = document.getElementById('live-count');
    try {
      const answer = await api('POST', '/estimate', { ...scope, conditions: d.conditions });
      if (generation !== this.generation) return;
      this.clearErrors();
      count.textContent = number(answer.count);
      document.getElementById('live-universe').textContent = number(answer.universe);
      document.getElementById('live-elapsed').textContent = `exact, in ${(answer.elapsed_us / 1000).toFixed(1)} ms`;
      this.size.classList.remove('stale');
    } catch (error) {
      if (generation !== this.generation) return;
      this.clearErrors();
      this.size.classList.add('stale');
      if (error instanceof ApiError && error.pointer !== undefined) this.showAt(error.pointer, error.message);
      else showError(error);
      return;
    }
    this.estimateAlone(generation, scope);
  }

  // Beside each top-level condition, what it matches alone within the scope.
  async estimateAlone(generation, scope) {
    const root = this.definition.conditions;
    const name = groupOf(root);
    if (!name) return;
    await Promise.all(root[name].map(async (child, i) => {
      try {
        const answer = await api('POST', '/estimate', { ...scope, conditions: child });
        if (generation !== this.generation) return;
        const box = this.tree.querySelector(`[data-pointer="/conditions/${name}/${i}"] > .cond-head > .alone`);
        if (box) box.textContent = `${number(answer.count)} alone`;
      } catch {
        // The whole definition was valid, so its parts are; a failure here is shown by the next edit.
      }
    }));
  }

  async save() {
    this.clearErrors();
    try {
      const body = this.body();
      const saved = this.id === null
        ? await api('POST', '/segments', body)
        : await api('PUT', segmentPath(this.id), body);
      location.hash = `#/segments/${encodeURIComponent(saved.id)}`;
    } catch (error) {
      if (error instanceof ApiError && error.pointer !== undefined) this.showAt(error.pointer, error.message);
      else showError(error);
    }
  }
}
