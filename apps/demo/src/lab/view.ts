import { unreachable } from '@atoll/protocol';
import type { Atomicity, PendingTransaction, TornTransaction } from '@atoll/sync';
import { Region, h, s, type Child } from '../ui/dom.js';
import { ACCOUNTS, EXPECTED_TOTAL, accountOf, andList, type Account } from './accounts.js';
import type { Verdict, VerdictKind } from './invariant.js';
import { LINKS, PEERS, type Lab, type LabPeer, type LinkId, type PeerIndex, type TimelineEntry } from './lab.js';
import { PRESETS, type PresetText } from './presets.js';
import { PENDING_REASON_WORDS, REASON_WORDS, VIA_WORDS, statusWords } from './words.js';

const MODES: readonly Atomicity[] = ['eventual', 'atomic'];

const VERDICT_BADGE: Readonly<Record<VerdictKind, { icon: string; label: string }>> = {
  balanced: { icon: '✓', label: 'Balanced' },
  'one-account': { icon: '◐', label: 'One account' },
  empty: { icon: '○', label: 'Nothing shown' },
  arriving: { icon: '…', label: 'Arriving' },
  torn: { icon: '✗', label: 'Torn' },
  none: { icon: '○', label: 'No subscription' },
};

const DELAYS: readonly { readonly ms: number; readonly label: string }[] = [
  { ms: 0, label: 'none (instant)' },
  { ms: 300, label: '0.3 s' },
  { ms: 1000, label: '1 s' },
];

/** Renders the lab into `root` and keeps it up to date. */
export function mountLab(root: HTMLElement, lab: Lab): void {
  const presets = PRESETS.map((p) => presetCard(p, lab));
  const network = networkPanel(lab);
  const peers = PEERS.map((i) => peerCard(i, lab));

  root.replaceChildren(
    h(
      'section',
      { class: 'presets', 'aria-labelledby': 'presets-title' },
      h('h2', { id: 'presets-title' }, 'Ditto’s two scenarios, one click each'),
      h(
        'p',
        { class: 'section-lead' },
        'Each preset starts the lab over, sets the peers up as Ditto’s documentation describes, and runs peer 1’s transactions. Then take the second step yourself.',
      ),
      h('div', { class: 'preset-grid' }, presets.map((p) => p.el)),
    ),
    network.el,
    h(
      'section',
      { class: 'peers', 'aria-labelledby': 'peers-title' },
      h('h2', { id: 'peers-title' }, 'The three peers'),
      h(
        'p',
        { class: 'section-lead' },
        `Each peer has its own store. Its invariant: the accounts it subscribes to are all there, and A + B = ${EXPECTED_TOTAL}, which every transaction keeps. Red means it shows a state no single transaction produced.`,
      ),
      h('div', { class: 'peer-grid' }, peers.map((p) => p.el)),
    ),
  );

  const render = () => {
    for (const p of presets) p.update();
    network.update();
    for (const p of peers) p.update();
  };
  lab.onChange(render);
  render();
}

interface Part {
  readonly el: HTMLElement;
  update(): void;
}

// ---- presets --------------------------------------------------------------------------------

function presetCard(text: PresetText, lab: Lab): Part {
  const n = text.scenario;
  const status = h('p', { class: 'preset-status', role: 'status', 'aria-atomic': 'true', id: `preset-${n}-status` });
  const step2 = h('button', { type: 'button', class: 'button secondary', disabled: true, onclick: () => void lab.presetStep2() }, text.step2Button);
  const runButtons = MODES.map((mode) =>
    h(
      'button',
      { type: 'button', class: `button ${mode === 'atomic' ? 'atomic' : 'primary'}`, onclick: () => void lab.runPreset(n, mode) },
      `Run in ${mode} mode`,
    ),
  );
  const el = h(
    'article',
    { class: 'preset card', 'aria-labelledby': `preset-${n}-title`, 'data-scenario': n },
    h('h3', { id: `preset-${n}-title` }, h('span', { class: 'preset-number', 'aria-hidden': 'true' }, n), `Scenario ${n}: ${text.title}`),
    h('p', null, text.summary),
    h('div', { class: 'button-row', role: 'group', 'aria-label': `Run scenario ${n}` }, runButtons),
    h('ol', { class: 'steps' }, h('li', null, text.step1), h('li', null, step2, h('span', { class: 'step-text' }, text.step2))),
    status,
    h('details', { class: 'look-for' }, h('summary', null, 'What to look for'), h('p', null, text.eventual), h('p', null, text.atomic)),
  );
  const statusRegion = new Region(status);
  return {
    el,
    update() {
      const preset = lab.preset?.scenario === n ? lab.preset : undefined;
      step2.disabled = preset?.step !== 'ready';
      el.classList.toggle('active', preset !== undefined);
      let message = '';
      if (preset) {
        const focus = lab.peers[(n === 1 ? 2 : 3) - 1];
        const who = n === 1 ? 'Peer 2' : 'Peer 3';
        const state = focus ? `${who}: ${VERDICT_BADGE[focus.verdict.kind].label.toLowerCase()}. ${focus.verdict.text}` : '';
        switch (preset.step) {
          case 'running':
            message = `Running in ${preset.mode} mode…`;
            break;
          case 'ready':
            message = `Step 1 done (${preset.mode} mode). ${state} Now take step 2.`;
            break;
          case 'step-2':
            message = `Step 2 under way… ${state}`;
            break;
          case 'done': {
            const seen = focus?.tornSeen ?? 0;
            const onTheWay = seen === 0 ? 'No torn state on the way.' : `On the way it showed ${seen} torn state${seen === 1 ? '' : 's'} (last: ${focus?.lastTorn ?? ''}).`;
            message = `Done (${preset.mode} mode). ${state} ${onTheWay}`;
            break;
          }
        }
      }
      statusRegion.set(message, () => message);
    },
  };
}

// ---- network and peer 1's controls -------------------------------------------------------

function networkPanel(lab: Lab): Part {
  const diagram = h('div', { class: 'diagram' });
  const diagramRegion = new Region(diagram);
  const linkBoxes = new Map<LinkId, HTMLInputElement>();
  const linkControls = LINKS.map((link) => {
    const box = h('input', {
      type: 'checkbox',
      role: 'switch',
      id: `link-${link.id}`,
      onchange: (e) => {
        lab.leavePreset();
        void lab.setLink(link.id, (e.target as HTMLInputElement).checked);
      },
    });
    linkBoxes.set(link.id, box);
    return h('label', { class: 'switch', for: `link-${link.id}` }, box, h('span', { class: 'track', 'aria-hidden': 'true' }), `Peer ${link.a} ↔ peer ${link.b}`);
  });
  const delay = h(
    'select',
    {
      id: 'delay',
      onchange: (e) => lab.setLatency(Number((e.target as HTMLSelectElement).value)),
    },
    DELAYS.map((d) => h('option', { value: String(d.ms) }, d.label)),
  );
  const amount = h('input', { id: 'amount', type: 'number', min: 1, step: 1, value: '30', inputmode: 'numeric', required: true });
  const problem = h('p', { class: 'problem', role: 'alert' });
  const problemRegion = new Region(problem);
  const form = h(
    'form',
    {
      class: 'transfer',
      onsubmit: (e) => {
        e.preventDefault();
        lab.leavePreset();
        void lab.transfer(Number(amount.value));
      },
    },
    h('label', { for: 'amount' }, 'Amount'),
    amount,
    h('button', { type: 'submit', class: 'button primary' }, 'Transfer from A to B on peer 1'),
  );
  const el = h(
    'section',
    { class: 'network card', 'aria-labelledby': 'network-title' },
    h('h2', { id: 'network-title' }, 'Your own experiment'),
    h(
      'div',
      { class: 'network-body' },
      diagram,
      h(
        'div',
        { class: 'network-controls' },
        h('fieldset', null, h('legend', null, 'Links'), h('div', { class: 'switches' }, linkControls)),
        h(
          'fieldset',
          null,
          h('legend', null, 'Peer 1 writes'),
          form,
          h('p', { class: 'hint' }, 'One transaction: A loses the amount, B gains it. Set subscriptions and modes on each peer below.'),
        ),
        h(
          'div',
          { class: 'row' },
          h('label', { for: 'delay' }, 'Network delay'),
          delay,
          h(
            'button',
            {
              type: 'button',
              class: 'button secondary',
              onclick: () => {
                lab.leavePreset();
                void lab.reset({ ...currentSetup(lab), latencyMs: Number(delay.value) });
              },
            },
            'Start over',
          ),
        ),
        problem,
      ),
    ),
  );
  return {
    el,
    update() {
      for (const [id, box] of linkBoxes) box.checked = lab.links.has(id);
      if (delay.value !== String(lab.latencyMs)) delay.value = String(lab.latencyMs);
      const key = JSON.stringify([[...lab.links], lab.peers.map((p) => [[...p.subscribed], p.mode])]);
      diagramRegion.set(key, () => networkDiagram(lab));
      const message = lab.problem ?? '';
      problemRegion.set(message, () => message);
    },
  };
}

function currentSetup(lab: Lab): Parameters<Lab['reset']>[0] & object {
  const peer = (i: PeerIndex) => {
    const p = lab.peers[i - 1];
    return { subs: ACCOUNTS.filter((a) => p?.subscribed.has(a) ?? true), mode: p?.mode ?? 'eventual' };
  };
  return { peers: { 1: peer(1), 2: peer(2), 3: peer(3) }, links: [...lab.links], latencyMs: lab.latencyMs };
}

const NODE_POS: Readonly<Record<PeerIndex, { x: number; y: number }>> = {
  1: { x: 150, y: 44 },
  2: { x: 52, y: 176 },
  3: { x: 248, y: 176 },
};

function networkDiagram(lab: Lab): Child {
  const description = PEERS.map((i) => {
    const p = lab.peers[i - 1];
    const subs = p ? ACCOUNTS.filter((a) => p.subscribed.has(a)) : [];
    return `Peer ${i} (${p?.mode ?? 'eventual'}) subscribes to ${subs.length > 0 ? andList(subs) : 'nothing'}.`;
  }).join(' ');
  const linked = LINKS.filter((l) => lab.links.has(l.id)).map((l) => `${l.a}–${l.b}`);
  return s(
    'svg',
    { viewBox: '0 0 300 230', role: 'img', 'aria-label': `${description} Links: ${linked.length > 0 ? linked.join(', ') : 'none'}.` },
    LINKS.map((l) => {
      const a = NODE_POS[l.a];
      const b = NODE_POS[l.b];
      return s('line', { x1: a.x, y1: a.y, x2: b.x, y2: b.y, class: lab.links.has(l.id) ? 'edge on' : 'edge off' });
    }),
    PEERS.map((i) => {
      const p = lab.peers[i - 1];
      const { x, y } = NODE_POS[i];
      const subs = p ? ACCOUNTS.filter((a) => p.subscribed.has(a)) : [];
      return s(
        'g',
        { class: `node ${p?.mode ?? 'eventual'}` },
        s('circle', { cx: x, cy: y, r: 26 }),
        s('text', { x, y: y + 6, class: 'node-label' }, String(i)),
        s('text', { x, y: y + 46, class: 'node-subs' }, subs.length > 0 ? subs.join(' + ') : '—'),
      );
    }),
  );
}

// ---- peers ----------------------------------------------------------------------------------

function peerCard(index: PeerIndex, lab: Lab): Part {
  const p = () => lab.peer(index);
  const subBoxes = new Map<Account, HTMLInputElement>();
  const subControls = ACCOUNTS.map((account) => {
    const id = `peer-${index}-sub-${account}`;
    const box = h('input', {
      type: 'checkbox',
      id,
      onchange: (e) => {
        lab.leavePreset();
        void lab.setSubscribed(index, account, (e.target as HTMLInputElement).checked);
      },
    });
    subBoxes.set(account, box);
    return h('label', { for: id, class: 'check' }, box, `Account ${account}`);
  });
  const modeSelect = h(
    'select',
    {
      id: `peer-${index}-mode`,
      onchange: (e) => {
        lab.leavePreset();
        void lab.setMode(index, (e.target as HTMLSelectElement).value as Atomicity);
      },
    },
    MODES.map((m) => h('option', { value: m }, m)),
  );
  const links = h('p', { class: 'linked' });
  const accounts = h('div', { class: 'accounts' });
  const invariant = h('div', { class: 'invariant', role: 'status', 'aria-atomic': 'true', 'data-testid': `invariant-${index}` });
  const tornCount = h('p', { class: 'torn-count', 'data-testid': `torn-count-${index}` });
  const tornList = h('div', { class: 'list-body', tabindex: '-1' });
  const pendingList = h('div', { class: 'list-body', tabindex: '-1' });
  const timeline = h('div', { class: 'timeline-body' });
  const regions = {
    links: new Region(links),
    accounts: new Region(accounts),
    invariant: new Region(invariant),
    tornCount: new Region(tornCount),
    torn: new Region(tornList),
    pending: new Region(pendingList),
    timeline: new Region(timeline),
  };
  const role = index === 1 ? 'writes the transactions' : index === 2 ? 'in the middle' : 'at the edge';
  const el = h(
    'article',
    { class: 'peer card', id: `peer-${index}`, 'aria-labelledby': `peer-${index}-title`, 'data-peer': index },
    h(
      'header',
      { class: 'peer-head' },
      h('h3', { id: `peer-${index}-title` }, `Peer ${index}`, h('span', { class: 'peer-role' }, role)),
      h('div', { class: 'mode' }, h('label', { for: `peer-${index}-mode` }, 'Mode'), modeSelect),
    ),
    h('fieldset', { class: 'subs' }, h('legend', null, 'Subscribes to'), subControls),
    links,
    h('h4', { class: 'visually-hidden' }, `Accounts at peer ${index}`),
    accounts,
    invariant,
    tornCount,
    h(
      'section',
      { class: 'list', 'aria-labelledby': `peer-${index}-torn-title` },
      h('h4', { id: `peer-${index}-torn-title` }, 'Torn transactions ', h('code', null, 'torn()')),
      tornList,
    ),
    h(
      'section',
      { class: 'list', 'aria-labelledby': `peer-${index}-pending-title` },
      h('h4', { id: `peer-${index}-pending-title` }, 'Held back ', h('code', null, 'pending()')),
      pendingList,
    ),
    h(
      'section',
      { class: 'timeline', 'aria-labelledby': `peer-${index}-timeline-title` },
      h('h4', { id: `peer-${index}-timeline-title` }, index === 1 ? 'What happened here' : 'Deliveries received', h('span', { class: 'newest' }, 'newest first')),
      timeline,
    ),
  );
  return {
    el,
    update() {
      if (lab.peers.length === 0) return;
      const peer = p();
      for (const [account, box] of subBoxes) box.checked = peer.subscribed.has(account);
      if (modeSelect.value !== peer.mode) modeSelect.value = peer.mode;
      el.dataset['mode'] = peer.mode;
      el.dataset['subscriptionsReceived'] = String(peer.subscriptionsReceived);
      const linkedTo = LINKS.filter((l) => lab.links.has(l.id) && (l.a === index || l.b === index)).map((l) => (l.a === index ? l.b : l.a));
      el.classList.toggle('idle', linkedTo.length === 0 && peer.subscribed.size === 0);
      const linksKey = JSON.stringify([linkedTo, [...peer.connectedTo]]);
      regions.links.set(linksKey, () => [
        'Linked to ',
        linkedTo.length === 0 ? h('strong', null, 'nobody') : andList(linkedTo.map((i) => `peer ${i}${peer.connectedTo.has(i) ? '' : ' (connecting…)'}`)),
      ]);
      const heldKeys = new Set(peer.pending.flatMap((t) => t.present.map(accountOf)));
      const wantedKeys = new Set(peer.pending.flatMap((t) => t.missing.map((m) => accountOf(m.key))));
      const accountsKey = JSON.stringify([[...peer.balances], [...peer.subscribed], [...peer.arriving], [...heldKeys], [...wantedKeys]]);
      regions.accounts.set(accountsKey, () => ACCOUNTS.map((a) => accountTile(peer, a, heldKeys.has(a), wantedKeys.has(a))));
      regions.invariant.set(JSON.stringify(peer.verdict), () => invariantBox(peer.verdict));
      invariant.dataset['state'] = peer.verdict.kind;
      tornCount.dataset['count'] = String(peer.tornSeen);
      regions.tornCount.set(`${peer.tornSeen}|${peer.lastTorn ?? ''}`, () =>
        peer.tornSeen === 0
          ? ['Torn states shown so far: ', h('strong', null, '0')]
          : ['Torn states shown so far: ', h('strong', null, String(peer.tornSeen)), ` (last: ${peer.lastTorn ?? ''})`],
      );
      regions.torn.set(JSON.stringify(peer.torn), () => tornItems(peer.torn, lab));
      regions.pending.set(JSON.stringify([peer.pending, peer.mode]), () => pendingItems(peer.pending, peer.mode, index, lab));
      regions.timeline.set(String(peer.timeline[0]?.seq ?? 0), () => timelineItems(peer.timeline, index));
    },
  };
}

function accountTile(peer: LabPeer, account: Account, held: boolean, wanted: boolean): Child {
  const subscribed = peer.subscribed.has(account);
  const balance = peer.balances.get(account);
  let note: string;
  let state: string;
  if (balance !== undefined) {
    note = subscribed ? (peer.index === 1 ? 'written here' : 'received') : 'not subscribed: kept, no longer updated';
    state = subscribed ? 'shown' : 'stale';
  } else if (!subscribed) {
    note = 'not subscribed';
    state = 'off';
  } else if (held) {
    note = 'held back, invisible';
    state = 'held';
  } else if (wanted) {
    note = 'missing part: asked linked peers';
    state = 'wanted';
  } else if (peer.arriving.has(account)) {
    note = 'on its way (back-fill)';
    state = 'arriving';
  } else {
    note = 'not received';
    state = 'missing';
  }
  return h(
    'div',
    { class: `account ${state}`, 'data-account': account, 'data-testid': `peer-${peer.index}-account-${account}` },
    h('span', { class: 'account-name' }, `Account ${account}`),
    h('span', { class: 'balance' }, balance === undefined ? '—' : String(balance)),
    h('span', { class: 'account-note' }, note),
  );
}

function invariantBox(verdict: Verdict): Child {
  const badge = VERDICT_BADGE[verdict.kind];
  return [h('span', { class: 'invariant-icon', 'aria-hidden': 'true' }, badge.icon), h('span', null, h('strong', null, `${badge.label}. `), verdict.text)];
}

function missingText(missing: readonly { readonly key: string; readonly reason: keyof typeof REASON_WORDS }[]): string {
  return missing.map((m) => `${accountOf(m.key)} (${REASON_WORDS[m.reason].short})`).join(', ');
}

function tornItems(torn: readonly TornTransaction[], lab: Lab): Child {
  if (torn.length === 0) return h('p', { class: 'empty' }, 'None.');
  return h(
    'ul',
    null,
    torn.map((t) =>
      h(
        'li',
        { class: 'tx torn' },
        h('span', { class: 'tx-name' }, `“${t.hint ?? lab.txLabel(t.txId)}”`),
        ` has ${andList(t.present.map(accountOf))}; missing ${missingText(t.missing)}`,
        t.redacted > 0 ? `; ${t.redacted} hidden (not permitted)` : '',
        '.',
      ),
    ),
  );
}

function pendingItems(pending: readonly PendingTransaction[], mode: Atomicity, index: PeerIndex, lab: Lab): Child {
  if (pending.length === 0) return h('p', { class: 'empty' }, mode === 'atomic' ? 'Nothing held.' : 'Nothing held (eventual mode applies what arrives).');
  return h(
    'ul',
    null,
    pending.map((t) => {
      const name = t.hint ?? lab.txLabel(t.txId);
      const asked = t.unavailableFrom.map((id) => lab.indexOf(id)).filter((i) => i !== undefined);
      return h(
        'li',
        { class: 'tx held' },
        h(
          'div',
          null,
          h('span', { class: 'tx-name' }, `“${name}”`),
          ` ${PENDING_REASON_WORDS[t.reason]}: has ${andList(t.present.map(accountOf))}`,
          t.missing.length > 0 ? `, missing ${missingText(t.missing)}` : '',
          asked.length > 0 ? `. Peer ${andList(asked.map(String))} answered “unavailable”.` : '.',
        ),
        h(
          'button',
          {
            type: 'button',
            class: 'button small',
            'data-focus-key': `release-${t.txId}`,
            'aria-label': `Release “${name}” on peer ${index}: show its parts now, torn`,
            onclick: () => void lab.release(index, t.txId),
          },
          'Release',
        ),
      );
    }),
  );
}

function timelineItems(entries: readonly TimelineEntry[], index: PeerIndex): Child {
  if (entries.length === 0) return h('p', { class: 'empty' }, index === 1 ? 'Nothing yet.' : 'No delivery yet.');
  return h(
    'ol',
    { class: 'events', reversed: true },
    entries.map((e) => {
      switch (e.kind) {
        case 'commit':
          return h('li', { class: 'event commit' }, h('span', { class: 'event-kind' }, 'committed'), h('span', { class: 'tx-name' }, `“${e.tx}”`));
        case 'note':
          return h('li', { class: 'event note' }, e.text);
        case 'delivery':
          return h(
            'li',
            { class: `event delivery status-${e.status}`, 'data-testid': 'delivery' },
            h(
              'div',
              { class: 'event-head' },
              h('span', { class: 'tx-name' }, `“${e.tx}”`),
              h('span', { class: 'event-from' }, `from peer ${e.from ?? '?'} · ${VIA_WORDS[e.via]}`),
            ),
            h(
              'div',
              { class: 'chips' },
              e.parts.map((a) => h('span', { class: 'chip part' }, `${a} ✓`)),
              e.omitted.map((o) => {
                // In the answer to a `want`, the keys that were not asked for are `not-subscribed`.
                const words = e.via === 'want' && o.reason === 'not-subscribed' ? { short: 'not asked for', long: 'the request did not ask for it' } : REASON_WORDS[o.reason];
                return h('span', { class: `chip omitted reason-${o.reason}`, title: words.long }, `${o.account}: ${words.short}`);
              }),
              e.redacted > 0 ? h('span', { class: 'chip omitted reason-not-permitted', title: REASON_WORDS['not-permitted'].long }, `${e.redacted} hidden: not permitted`) : null,
            ),
            h('div', { class: `event-status verdict-${e.after.kind}` }, `${statusWords(e.status)} → ${VERDICT_BADGE[e.after.kind].label.toLowerCase()}`),
          );
        default:
          return unreachable(e);
      }
    }),
  );
}

