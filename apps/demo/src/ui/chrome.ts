import { $, h } from './dom.js';

/** The site header shared by both pages, with the current page marked for assistive tech. */
export function mountChrome(current: 'lab' | 'ledger'): void {
  const link = (page: 'lab' | 'ledger', href: string, label: string) =>
    h('a', { href, class: page === current ? 'current' : undefined, 'aria-current': page === current ? 'page' : undefined }, label);
  $('#site-header').append(
    h('a', { class: 'skip', href: '#main' }, 'Skip to content'),
    h(
      'div',
      { class: 'site-bar' },
      h('a', { class: 'brand', href: '/' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, '◎'), 'Atoll'),
      h('nav', { 'aria-label': 'Demo pages' }, link('lab', '/', 'Caveats lab'), link('ledger', '/ledger/', 'Shared ledger')),
    ),
  );
}
