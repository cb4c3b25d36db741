/**
 * A very small DOM helper: `h()` builds elements, `Region` replaces a part of the page only
 * when what it shows changed, and keeps keyboard focus on the "same" control across the
 * replacement (matched by `data-focus-key`), so re-rendering never throws a keyboard user
 * back to the top of the page.
 */

export type Child = Node | string | number | false | null | undefined | readonly Child[];

type Listener = (event: Event) => void;
export type Attrs = Record<string, string | number | boolean | null | undefined | Listener>;

const PROPERTIES = new Set(['checked', 'value', 'disabled', 'selected', 'indeterminate']);

function isList(child: Child): child is readonly Child[] {
  return Array.isArray(child);
}

function append(parent: Node, child: Child): void {
  if (child === null || child === undefined || child === false) return;
  if (isList(child)) {
    for (const c of child) append(parent, c);
    return;
  }
  parent.appendChild(child instanceof Node ? child : document.createTextNode(typeof child === 'number' ? String(child) : child));
}

function applyAttrs(el: Element, attrs: Attrs | null | undefined): void {
  if (!attrs) return;
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (typeof value === 'function') {
      el.addEventListener(key.replace(/^on/, ''), value);
    } else if (PROPERTIES.has(key)) {
      (el as unknown as Record<string, unknown>)[key] = value;
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
}

/** Creates an HTML element: `h('button', { class: 'x', onclick: () => … }, 'Label')`. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  applyAttrs(el, attrs);
  for (const c of children) append(el, c);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Creates an SVG element. */
export function s(tag: string, attrs?: Attrs | null, ...children: Child[]): SVGElement {
  const el = document.createElementNS(SVG_NS, tag);
  applyAttrs(el, attrs);
  for (const c of children) append(el, c);
  return el;
}

/** The first element matching `selector`, or an error naming what the page lacks. */
export function $<E extends Element = HTMLElement>(selector: string, root: ParentNode = document): E {
  const el = root.querySelector<E>(selector);
  if (!el) throw new Error(`the page has no ${selector}`);
  return el;
}

/**
 * A part of the page re-rendered as a whole, but only when its `key` (a text summary of what
 * it shows) changes.
 */
export class Region {
  #key: string | undefined;

  constructor(readonly el: Element) {}

  set(key: string, render: () => Child): void {
    if (key === this.#key) return;
    this.#key = key;
    const active = document.activeElement;
    const focusKey = active instanceof HTMLElement && this.el.contains(active) ? active.dataset['focusKey'] : undefined;
    const fragment = document.createDocumentFragment();
    append(fragment, render());
    this.el.replaceChildren(fragment);
    if (focusKey !== undefined) {
      const again = this.el.querySelector<HTMLElement>(`[data-focus-key="${CSS.escape(focusKey)}"]`);
      (again ?? (this.el instanceof HTMLElement ? this.el : undefined))?.focus();
    }
  }
}
