/** Undirected adjacency of a snapshot's links. */
export function adjacency(links: readonly { readonly a: string; readonly b: string }[]): Map<string, Set<string>> {
  const adj = new Map<string, Set<string>>();
  const add = (x: string, y: string) => {
    let set = adj.get(x);
    if (!set) adj.set(x, (set = new Set()));
    set.add(y);
  };
  for (const { a, b } of links) {
    add(a, b);
    add(b, a);
  }
  return adj;
}

/** Connected components of the subgraph induced by `members`. */
export function components(members: ReadonlySet<string>, adj: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  const seen = new Set<string>();
  const out: string[][] = [];
  for (const start of members) {
    if (seen.has(start)) continue;
    const component: string[] = [];
    const stack = [start];
    seen.add(start);
    while (stack.length > 0) {
      const node = stack.pop() as string;
      component.push(node);
      for (const next of adj.get(node) ?? []) {
        if (members.has(next) && !seen.has(next)) {
          seen.add(next);
          stack.push(next);
        }
      }
    }
    out.push(component.sort());
  }
  return out;
}
