// Charts drawn with plain elements (no canvas): bars for a breakdown, a heat map for the
// overlap of segments.

import { h, number } from './dom.js';

// Horizontal bars: [label, count] pairs, longest first.
export function barChart(groups) {
  const most = Math.max(1, ...groups.map(([, count]) => count));
  const total = groups.reduce((sum, [, count]) => sum + count, 0) || 1;
  return h('table.bars', h('tbody', groups.map(([label, count]) => h('tr',
    h('th.bar-label', label),
    h('td.bar-cell', h('div.bar', { style: `width: ${(100 * count) / most}%` })),
    h('td.num.bar-count', number(count)),
    h('td.num.muted', `${((100 * count) / total).toFixed(1)}%`)))));
}

// `shared[i][j]` of the segments `labels`: each cell shaded by the row segment's share.
export function heatMap(labels, shared) {
  return h('table.heatmap#overlap',
    h('thead', h('tr', h('th', ''), labels.map((label) => h('th', label)))),
    h('tbody', labels.map((label, i) => h('tr',
      h('th', label),
      shared[i].map((count, j) => {
        const share = shared[i][i] ? count / shared[i][i] : 0;
        return h('td.num', {
          dataset: { row: i, column: j },
          style: `background: rgba(37, 99, 235, ${(0.08 + 0.8 * share).toFixed(3)}); color: ${share > 0.55 ? '#fff' : 'inherit'}`,
          title: `${labels[i]} and ${labels[j]}: ${count} members`,
        }, h('span.shared', number(count)), h('small', ` ${(100 * share).toFixed(0)}%`));
      })))));
}
