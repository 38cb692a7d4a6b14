// Tiny DOM helpers. Data only ever reaches the page as text (textContent / text nodes), never as
// HTML, so a message like `<img src=x onerror=...>` is shown literally and runs nothing.

/**
 * Creates an element. `props`: `class`, `text`, `on<event>` handlers, `dataset`, and attributes.
 * Children may be nodes, strings (become text nodes), arrays, or null/false (skipped).
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = String(value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === 'value') el.value = value;
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  appendChildren(el, children);
  return el;
}

export function appendChildren(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces all children of `el`. */
export function setChildren(el, ...children) {
  el.replaceChildren();
  appendChildren(el, children);
}

/**
 * Keyed list update: reuses the element for each key, creates new ones, removes the rest, and
 * keeps DOM order equal to `items` order. `render(item, existingEl|null)` returns the element.
 */
export function reconcile(container, items, keyOf, render) {
  const previous = new Map();
  for (const child of Array.from(container.children)) {
    if (child.dataset.key !== undefined) previous.set(child.dataset.key, child);
  }
  let cursor = container.firstElementChild;
  for (const item of items) {
    const key = String(keyOf(item));
    const existing = previous.get(key) ?? null;
    previous.delete(key);
    const el = render(item, existing);
    if (existing && el !== existing) {
      if (cursor === existing) cursor = existing.nextElementSibling;
      existing.remove();
    }
    el.dataset.key = key;
    if (el === cursor) {
      cursor = cursor.nextElementSibling;
    } else {
      container.insertBefore(el, cursor);
    }
  }
  for (const stale of previous.values()) stale.remove();
}

let idCounter = 0;
/** A unique element id for label/aria wiring. */
export function uid(prefix) {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}
