import { openBrowserPeer, type BrowserPeer, type BrowserPeerStatus } from '@atoll/browser';
import { unreachable } from '@atoll/protocol';
import type { Doc, Logger } from '@atoll/store';
import { Region, h, type Child } from '../ui/dom.js';
import { balances, formatCents, parseCents, type Entry } from './money.js';

const COLLECTION = 'ledger';
/** The browser profile's database name: every tab of this browser shares it. */
const PROFILE = 'atoll-demo-ledger';
const NAME_KEY = 'atoll-demo-ledger:name';

const logger: Logger = {
  debug: () => {},
  info: () => {},
  warn: (m, f) => console.warn(`[atoll] ${m}`, ...(f ? [f] : [])),
  error: (m, f) => console.error(`[atoll] ${m}`, ...(f ? [f] : [])),
};

const time = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

function statusText(s: BrowserPeerStatus): { state: string; label: string; detail: string } {
  if (!s.online) return { state: 'offline', label: 'Offline', detail: 'Entries you add are saved on this device and sent when you are back online.' };
  switch (s.connection) {
    case 'open':
      return { state: 'online', label: 'Online, in sync', detail: 'Connected to the relay: entries travel to every other device as they are written.' };
    case 'connecting':
      return { state: 'connecting', label: 'Connecting…', detail: 'Reaching the relay. Entries you add now are saved here and sent once connected.' };
    case 'waiting':
      return { state: 'waiting', label: 'Relay unreachable', detail: `Trying again shortly${s.lastError ? ` (${s.lastError})` : ''}. Entries you add are saved here meanwhile.` };
    case 'failed':
      return { state: 'failed', label: 'Refused by the relay', detail: s.lastError ?? 'The relay refused this device.' };
    case 'stopped':
    case 'no-relay':
      return { state: 'offline', label: 'Not syncing', detail: 'This page is not connected to a relay.' };
    case 'unknown':
      return { state: 'connecting', label: 'Checking…', detail: 'Asking the tab that holds the connection how it is going.' };
    default:
      return unreachable(s.connection);
  }
}

function ago(at: number | undefined, now: number): string {
  if (at === undefined) return 'not yet';
  const s = Math.max(0, Math.round((now - at) / 1000));
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  const m = Math.round(s / 60);
  return m < 60 ? `${m} min ago` : time.format(at);
}

/** Mounts the ledger into `root` and opens the browser peer. */
export async function mountLedger(root: HTMLElement): Promise<BrowserPeer | undefined> {
  const statusBox = h('div', { class: 'sync-status', role: 'status', 'aria-atomic': 'true', 'data-testid': 'sync-status' });
  const statusRegion = new Region(statusBox);
  const roleLine = h('p', { class: 'tab-role', 'data-testid': 'tab-role' });
  const lastSync = h('span', { 'data-testid': 'last-sync' });
  const retry = h('button', { type: 'button', class: 'button small secondary', hidden: true }, 'Retry now');
  const problem = h('p', { class: 'problem', role: 'alert' });

  const savedName = localStorage.getItem(NAME_KEY) ?? '';
  const nameInput = h('input', { id: 'paid-by', type: 'text', required: true, maxlength: 40, autocomplete: 'name', value: savedName });
  const descInput = h('input', { id: 'description', type: 'text', required: true, maxlength: 120, placeholder: 'Groceries, train tickets…' });
  const amountInput = h('input', { id: 'amount', type: 'text', required: true, inputmode: 'decimal', placeholder: '0.00', 'aria-describedby': 'amount-hint' });
  const addButton = h('button', { type: 'submit', class: 'button primary', disabled: true }, 'Add entry');
  const formMessage = h('p', { class: 'form-message', role: 'status', id: 'form-message' });
  const form = h(
    'form',
    { class: 'entry-form', 'aria-labelledby': 'add-title' },
    h('h2', { id: 'add-title' }, 'Add an expense'),
    h('div', { class: 'field' }, h('label', { for: 'description' }, 'What for'), descInput),
    h('div', { class: 'field' }, h('label', { for: 'amount' }, 'Amount'), amountInput, h('span', { class: 'hint', id: 'amount-hint' }, 'For example 12.50')),
    h('div', { class: 'field' }, h('label', { for: 'paid-by' }, 'Paid by'), nameInput),
    h('div', { class: 'form-actions' }, addButton),
    formMessage,
  );
  const summary = h('div', { class: 'summary' });
  const summaryRegion = new Region(summary);
  const list = h('div', { class: 'entries', tabindex: '-1' });
  const listRegion = new Region(list);

  root.replaceChildren(
    h(
      'section',
      { class: 'intro', 'aria-labelledby': 'title' },
      h('h1', { id: 'title' }, 'Shared ledger'),
      h(
        'p',
        { class: 'lead' },
        'A real app on the same engine. Open this page in a second tab, or on another device that can reach this server: expenses added anywhere appear everywhere. Go offline and keep adding — they are saved on this device and sent when the connection returns.',
      ),
    ),
    h(
      'section',
      { class: 'card status-card', 'aria-labelledby': 'status-title' },
      h('h2', { id: 'status-title', class: 'visually-hidden' }, 'Sync status'),
      statusBox,
      h('div', { class: 'status-meta' }, roleLine, h('p', null, 'Last confirmed by the relay: ', lastSync), retry),
      problem,
    ),
    h('div', { class: 'ledger-grid' }, h('div', { class: 'card' }, form), h('section', { class: 'card', 'aria-labelledby': 'balances-title' }, h('h2', { id: 'balances-title' }, 'Who owes whom'), summary)),
    h('section', { class: 'card', 'aria-labelledby': 'entries-title' }, h('h2', { id: 'entries-title' }, 'Expenses'), list),
  );

  let peer: BrowserPeer;
  try {
    peer = await openBrowserPeer({ name: PROFILE, relay: location.origin, subscriptions: [{ id: 'ledger', collection: COLLECTION }], atomicity: 'atomic', logger });
  } catch (err) {
    problem.textContent = `This browser cannot open the ledger: ${err instanceof Error ? err.message : String(err)}`;
    statusRegion.set('error', () => h('span', { class: 'status-pill failed' }, 'Not available'));
    return undefined;
  }
  addEventListener('pagehide', () => void peer.close());
  retry.addEventListener('click', () => peer.reconnect());

  let status = peer.status;
  const renderStatus = () => {
    const t = statusText(status);
    statusRegion.set(`${t.state}|${t.label}|${t.detail}`, () => [
      h('span', { class: `status-pill ${t.state}`, 'data-state': t.state }, h('span', { class: 'dot', 'aria-hidden': 'true' }), t.label),
      h('span', { class: 'status-detail' }, t.detail),
    ]);
    statusBox.dataset['state'] = t.state;
    roleLine.textContent =
      status.role === 'leader'
        ? 'This tab holds the relay connection for this browser.'
        : status.role === 'follower'
          ? 'Another tab of this browser holds the relay connection; this tab shares its data.'
          : 'Closed.';
    lastSync.textContent = ago(status.lastSyncAt, Date.now());
    retry.hidden = !(status.role === 'leader' && status.connection === 'waiting' && status.online);
  };
  peer.onStatus((s) => {
    status = s;
    renderStatus();
  });
  setInterval(renderStatus, 5_000);

  addButton.disabled = false;
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const description = descInput.value.trim();
    const paidBy = nameInput.value.trim();
    const cents = parseCents(amountInput.value);
    if (!description || !paidBy) {
      formMessage.textContent = 'Say what it was for and who paid.';
      return;
    }
    if (cents === undefined) {
      formMessage.textContent = 'Enter an amount like 12.50.';
      amountInput.focus();
      return;
    }
    localStorage.setItem(NAME_KEY, paidBy);
    const entry: Entry = { description, cents, paidBy, at: new Date().toISOString() };
    void peer.store.insert(COLLECTION, entry).then(
      () => {
        formMessage.textContent = `Added “${description}”.`;
        descInput.value = '';
        amountInput.value = '';
        descInput.focus();
      },
      (err: unknown) => {
        formMessage.textContent = `Could not add it: ${err instanceof Error ? err.message : String(err)}`;
      },
    );
  });

  const remove = (doc: Doc<Entry>) => {
    void peer.store.delete(COLLECTION, doc._id).then(
      () => (formMessage.textContent = `Deleted “${doc.description}”.`),
      (err: unknown) => (formMessage.textContent = `Could not delete it: ${err instanceof Error ? err.message : String(err)}`),
    );
  };

  peer.store.observe({ collection: COLLECTION, orderBy: [{ path: 'at', direction: 'desc' }] }, (docs) => {
    const entries = docs as readonly Doc<Entry>[];
    const key = JSON.stringify(entries);
    listRegion.set(key, () => entryTable(entries, remove));
    summaryRegion.set(key, () => summaryView(entries));
  });

  return peer;
}

function entryTable(entries: readonly Doc<Entry>[], remove: (doc: Doc<Entry>) => void): Child {
  if (entries.length === 0) return h('p', { class: 'empty' }, 'No expenses yet. Add the first one.');
  return h(
    'table',
    { class: 'entry-table' },
    h('caption', { class: 'visually-hidden' }, 'Expenses, newest first'),
    h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'When'), h('th', { scope: 'col' }, 'What for'), h('th', { scope: 'col' }, 'Paid by'), h('th', { scope: 'col', class: 'num' }, 'Amount'), h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')))),
    h(
      'tbody',
      null,
      entries.map((e) =>
        h(
          'tr',
          { 'data-testid': 'entry' },
          h('td', { class: 'when' }, time.format(new Date(e.at))),
          h('td', { class: 'what' }, e.description),
          h('td', { class: 'who' }, e.paidBy),
          h('td', { class: 'num' }, formatCents(e.cents)),
          h('td', { class: 'actions' }, h('button', { type: 'button', class: 'button small secondary', 'data-focus-key': `delete-${e._id}`, 'aria-label': `Delete “${e.description}”`, onclick: () => remove(e) }, 'Delete')),
        ),
      ),
    ),
  );
}

function summaryView(entries: readonly Doc<Entry>[]): Child {
  const total = entries.reduce((a, e) => a + e.cents, 0);
  const people = balances(entries);
  return [
    h('p', { class: 'total' }, h('span', null, 'Total spent'), h('strong', { 'data-testid': 'total' }, formatCents(total))),
    people.length === 0
      ? h('p', { class: 'empty' }, 'Balances appear once someone has paid for something.')
      : h(
          'ul',
          { class: 'people' },
          people.map((p) =>
            h(
              'li',
              null,
              h('span', { class: 'person' }, p.name),
              h('span', { class: 'paid' }, `paid ${formatCents(p.paid)}`),
              h('span', { class: `settle ${p.balance > 0 ? 'gets' : p.balance < 0 ? 'owes' : 'even'}` }, p.balance > 0 ? `gets ${formatCents(p.balance)}` : p.balance < 0 ? `owes ${formatCents(-p.balance)}` : 'even'),
            ),
          ),
        ),
  ];
}

