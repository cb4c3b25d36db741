import type { JsonObject, Subscription } from '@atoll/protocol';
import type { History, ObserveRecord } from '../history/history.js';

/** What a peer shows at one moment: per observed collection, its documents by id. */
export type View = ReadonlyMap<string, ReadonlyMap<string, JsonObject>>;

/** A peer's view right after one of its commits (or at the start of an incarnation). */
export interface ViewAt {
  readonly peer: string;
  readonly incarnation: number;
  /** The commit (the observer's log position) after which the view shows; `null` at the start. */
  readonly commit: number | null;
  /** History step of the last observation making up this view. */
  readonly step: number;
  readonly view: View;
  /** The observer's subscriptions at that moment. */
  readonly subscriptions: readonly Subscription[];
}

/**
 * Replays the observations of a history into views, one per commit boundary: all results a
 * commit caused, on every probe query of the peer, are applied before the view is yielded (a
 * store never shows a commit to one live query and not yet to another). The same `view` object
 * is updated in place from one yield to the next of the same peer incarnation.
 */
export function* viewsOf(history: History): Generator<ViewAt> {
  const subs = new Map<string, readonly Subscription[]>();
  const views = new Map<string, Map<string, Map<string, JsonObject>>>();
  const records = history.records;
  for (let i = 0; i < records.length; i++) {
    const r = records[i];
    if (!r) continue;
    if (r.type === 'subscriptions') subs.set(r.peer, r.subscriptions);
    if (r.type !== 'observe') continue;
    const group: ObserveRecord[] = [r];
    while (i + 1 < records.length) {
      const next = records[i + 1];
      if (next?.type !== 'observe' || next.peer !== r.peer || next.incarnation !== r.incarnation || next.commit !== r.commit) break;
      group.push(next);
      i++;
    }
    const key = `${r.peer}/${r.incarnation}`;
    let view = views.get(key);
    if (!view) views.set(key, (view = new Map()));
    for (const o of group) view.set(o.collection, new Map(o.docs.map((d) => [d['_id'] as string, d])));
    yield { peer: r.peer, incarnation: r.incarnation, commit: r.commit, step: (group[group.length - 1] as ObserveRecord).step, view, subscriptions: subs.get(r.peer) ?? [] };
  }
}
