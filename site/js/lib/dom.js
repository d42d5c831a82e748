// A few DOM helpers: build elements without innerHTML (API text is never parsed as markup), announce
// to screen readers, move focus to what just appeared.

/** h("p", {class: "x"}, "text", child) -> element. Attributes set to null/false are skipped. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") el.textContent = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replaces the children of `el`. */
export function fill(el, ...children) {
  el.replaceChildren();
  for (const child of children.flat()) if (child) el.append(child);
  return el;
}

/** Says `text` through the page's polite live region (#anuncio). */
export function announce(text) {
  const region = document.getElementById("anuncio");
  if (!region) return;
  region.textContent = "";
  // A fresh text node after a tick: screen readers announce a change, even of the same text.
  setTimeout(() => {
    region.textContent = text;
  }, 50);
}

/** Moves focus to `el` (a heading gets tabindex=-1 so it can take focus without joining the tab order). */
export function focus(el) {
  if (!el) return;
  if (!el.hasAttribute("tabindex")) el.setAttribute("tabindex", "-1");
  el.focus();
  el.scrollIntoView?.({ block: "start" });
}

/** Sets the page state on <main data-state> (a hook for styles and tests). */
export function setState(state) {
  document.getElementById("conteudo").dataset.state = state;
}

/** A DS message (br-message): kind is success, danger, warning or info. */
export function message(kind, title, ...body) {
  const icons = {
    success: "M9 16.2 4.8 12l-1.4 1.4L9 19 21 7l-1.4-1.4z",
    danger: "M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm1 15h-2v-2h2zm0-4h-2V7h2z",
    warning: "M1 21h22L12 2zm12-3h-2v-2h2zm0-4h-2v-4h2z",
    info: "M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm1 15h-2v-6h2zm0-8h-2V7h2z",
  };
  // Static markup (no API text): the HTML parser puts <svg> in the SVG namespace by itself.
  const icon = document.createElement("template");
  icon.innerHTML = `<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path d="${icons[kind]}"/></svg>`;
  const svg = icon.content.firstChild;
  return h(
    "div",
    { class: `br-message ${kind}` },
    h("div", { class: "icon" }, svg),
    h("div", { class: "content" }, title, ...body),
  );
}

/** The query string as an object. */
export function query() {
  return Object.fromEntries(new URLSearchParams(window.location.search));
}
