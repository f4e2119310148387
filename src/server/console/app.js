// The console's router: each address after '#' is a view, so views can be bookmarked
// and the browser's back button works.

import { api } from './api.js';
import { number, showError } from './dom.js';
import { openEditor } from './editor.js';
import { grid, segmentPage, reportPage, overlapPage, lookupPage } from './views.js';

const main = document.getElementById('main');

const routes = [
  [/^\/?$/, () => grid(main)],
  [/^\/new$/, () => openEditor(main, null)],
  [/^\/segments\/([^/]+)\/edit$/, (id) => openEditor(main, decodeURIComponent(id))],
  [/^\/segments\/([^/]+)$/, (id) => segmentPage(main, decodeURIComponent(id))],
  [/^\/report$/, (_, query) => reportPage(main, query)],
  [/^\/overlap$/, (_, query) => overlapPage(main, query)],
  [/^\/lookup$/, (_, query) => lookupPage(main, query)],
];

async function route() {
  showError(null);
  const [path, search] = location.hash.slice(1).split('?');
  const query = new URLSearchParams(search || '');
  for (const [pattern, view] of routes) {
    const found = (path || '/').match(pattern);
    if (found) {
      try {
        await view(found[1], query);
      } catch (error) {
        showError(error);
      }
      return;
    }
  }
  showError(`No page at #${path}`);
}

async function health() {
  try {
    const h = await api('GET', '/health');
    document.getElementById('health').textContent =
      `${number(h.customers)} customers · ${number(h.visitors)} visitors`;
  } catch (error) {
    showError(error);
  }
}

window.addEventListener('hashchange', route);
health();
route();
