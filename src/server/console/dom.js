// Building elements: h('tag.class#id', {attributes and on... handlers}, ...children).

export function h(spec, attrs = {}, ...children) {
  // Attributes may be left out: h('p', 'text'), h('tr', cells).
  if (attrs === null || typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs)) {
    children.unshift(attrs);
    attrs = {};
  }
  const [, tag, rest] = spec.match(/^([a-z0-9]+)(.*)$/i);
  const el = document.createElement(tag);
  for (const part of rest.match(/[.#][^.#]+/g) || []) {
    if (part[0] === '.') el.classList.add(part.slice(1));
    else el.id = part.slice(1);
  }
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    // Through the CSSOM: the page's policy allows no style attributes.
    else if (key === 'style') el.style.cssText = value;
    else if (key === 'value' || key === 'checked' || key === 'selected') el[key] = value;
    else el.setAttribute(key, value === true ? '' : value);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

// A <select> of [value, label] pairs (or plain values), with `selected` chosen.
export function select(options, selected, attrs = {}) {
  return h('select', attrs, options.map((o) => {
    const [value, label] = Array.isArray(o) ? o : [o, o];
    return h('option', { value, selected: String(value) === String(selected) }, label);
  }));
}

export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

export const number = (n) => (n === null || n === undefined ? '' : Number(n).toLocaleString('en'));

// Calls `fn` once `ms` have passed without another call.
export function debounce(fn, ms) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

// The banner under the header: an error no part of the page is the place for.
export function showError(error) {
  const banner = document.getElementById('banner');
  banner.textContent = error ? String(error.message || error) : '';
  banner.hidden = !error;
}
