// ANSI colours in log lines, rendered safely: each run of text becomes a text node or a <span>
// whose classes say its colour; the text itself is only ever set as textContent.
//
// Supported: SGR 0 (reset), 1 (bold), 22 (normal intensity), 30-37 and 90-97 (foreground),
// 39 (default foreground). Every other escape sequence (cursor moves, erase line, OSC titles,
// 256/true colour, backgrounds) is removed without effect. The style carries over from one line
// to the next, as in a terminal, so give each viewer its own `state`.

// CSI (ESC [ params intermediates final), OSC (ESC ] ... BEL or ST), other two-byte escapes, a lone ESC.
const ESCAPE = /\x1b(?:\[([0-?]*)[ -/]*([@-~])|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_]|$)|\x1b/g;

export function newState() {
  return { fg: null, bold: false };
}

function applySgr(state, params) {
  const codes = params === "" ? [0] : params.split(/[;:]/).map((p) => (p === "" ? 0 : Number.parseInt(p, 10)));
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i];
    if (c === 0) {
      state.fg = null;
      state.bold = false;
    } else if (c === 1) {
      state.bold = true;
    } else if (c === 22) {
      state.bold = false;
    } else if (c === 39) {
      state.fg = null;
    } else if ((c >= 30 && c <= 37) || (c >= 90 && c <= 97)) {
      state.fg = c;
    } else if (c === 38 || c === 48 || c === 58) {
      // Extended colours carry arguments that must not be read as codes: 5;n or 2;r;g;b.
      if (codes[i + 1] === 5) i += 2;
      else if (codes[i + 1] === 2) i += 4;
    }
  }
}

/** Splits a line into styled runs: [{text, fg, bold}], updating `state` as it goes. */
export function parseAnsi(line, state = newState()) {
  const runs = [];
  let last = 0;
  const push = (text) => {
    if (!text) return;
    const prev = runs[runs.length - 1];
    if (prev && prev.fg === state.fg && prev.bold === state.bold) prev.text += text;
    else runs.push({ text, fg: state.fg, bold: state.bold });
  };
  ESCAPE.lastIndex = 0;
  for (let m = ESCAPE.exec(line); m !== null; m = ESCAPE.exec(line)) {
    push(line.slice(last, m.index));
    last = m.index + m[0].length;
    if (m[2] === "m") applySgr(state, m[1]);
    if (m[0].length === 0) ESCAPE.lastIndex++; // never loop on an empty match
  }
  push(line.slice(last));
  return runs;
}

export function stripAnsi(line) {
  return parseAnsi(line).map((r) => r.text).join("");
}

/** The line's nodes: text nodes for plain runs, <span class="ansi-fg-31 ansi-bold"> for styled ones. */
export function renderAnsi(line, state = newState()) {
  return parseAnsi(line, state).map((run) => {
    if (run.fg === null && !run.bold) return document.createTextNode(run.text);
    const span = document.createElement("span");
    const classes = [];
    if (run.fg !== null) classes.push(`ansi-fg-${run.fg}`);
    if (run.bold) classes.push("ansi-bold");
    span.className = classes.join(" ");
    span.textContent = run.text;
    return span;
  });
}
