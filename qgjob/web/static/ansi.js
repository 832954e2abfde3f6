// Terminal colour codes in a test's output, drawn as coloured spans: SGR sequences set the
// colour, bold, dim, italic and underline of the text after them; every other escape sequence
// (cursor moves, titles) is dropped. Output arrives in pieces, so a sequence cut at the end of
// one piece is kept until the next, and the style carries over.
import { h } from "./dom.js";

// CSI (ESC [ … final byte), OSC (ESC ] … BEL or ESC \), or a two-character escape.
const ESCAPE = /\x1b(?:\[([0-9;:?<=>]*)[ -/]*([@-~])|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\^_`a-z{|}~])/g;
// A sequence that has begun but not ended at the end of a piece.
const UNFINISHED = /\x1b(?:\[[0-9;:?<=>]*[ -/]*|\][^\x07\x1b]*\x1b?)?$/;

export class AnsiText {
  constructor() {
    this.carry = "";
    this.style = {};
  }

  // The nodes for `text`, the next piece of the output.
  nodes(text) {
    let input = this.carry + text;
    let cut = UNFINISHED.exec(input);
    if (cut && cut[0].length > 256) cut = null;  // not a sequence after all: show it
    this.carry = cut ? cut[0] : "";
    if (cut) input = input.slice(0, cut.index);
    const nodes = [];
    let at = 0;
    for (const match of input.matchAll(ESCAPE)) {
      if (match.index > at) nodes.push(this.span(input.slice(at, match.index)));
      if (match[2] === "m") this.apply(match[1]);
      at = match.index + match[0].length;
    }
    if (at < input.length) nodes.push(this.span(input.slice(at)));
    return nodes;
  }

  span(text) {
    const { fg, bg, bold, dim, italic, underline } = this.style;
    const classes = [bold && "ansi-bold", dim && "ansi-dim", italic && "ansi-italic",
      underline && "ansi-underline", typeof fg === "number" && `ansi-fg-${fg}`,
      typeof bg === "number" && `ansi-bg-${bg}`].filter(Boolean);
    const css = [typeof fg === "string" && `color: ${fg}`,
      typeof bg === "string" && `background: ${bg}`].filter(Boolean);
    if (!classes.length && !css.length) return document.createTextNode(text);
    return h("span", { class: classes.join(" ") || null, style: css.join("; ") || null }, text);
  }

  apply(params) {
    const codes = (params || "0").split(/[;:]/).map((p) => Number(p || 0));
    for (let i = 0; i < codes.length; i += 1) {
      const code = codes[i];
      if (code === 0) this.style = {};
      else if (code === 1) this.style.bold = true;
      else if (code === 2) this.style.dim = true;
      else if (code === 3) this.style.italic = true;
      else if (code === 4) this.style.underline = true;
      else if (code === 22) { this.style.bold = false; this.style.dim = false; }
      else if (code === 23) this.style.italic = false;
      else if (code === 24) this.style.underline = false;
      else if (code >= 30 && code <= 37) this.style.fg = code - 30;
      else if (code >= 90 && code <= 97) this.style.fg = code - 90 + 8;
      else if (code === 39) delete this.style.fg;
      else if (code >= 40 && code <= 47) this.style.bg = code - 40;
      else if (code >= 100 && code <= 107) this.style.bg = code - 100 + 8;
      else if (code === 49) delete this.style.bg;
      else if (code === 38 || code === 48) {
        const [colour, used] = extended(codes, i + 1);
        if (colour !== null) this.style[code === 38 ? "fg" : "bg"] = colour;
        i += used;
      }
    }
  }
}

// 38;5;N (256 colours) or 38;2;R;G;B: a class for the 16 basic colours, else an rgb() value
// built from numbers only.
function extended(codes, at) {
  if (codes[at] === 5) {
    const n = codes[at + 1];
    if (!(n >= 0 && n <= 255)) return [null, 2];
    if (n < 16) return [n, 2];
    if (n >= 232) { const grey = 8 + 10 * (n - 232); return [`rgb(${grey}, ${grey}, ${grey})`, 2]; }
    const cube = n - 16;
    const level = (v) => (v ? 55 + 40 * v : 0);
    return [`rgb(${level(Math.floor(cube / 36))}, ${level(Math.floor(cube / 6) % 6)}, ${
      level(cube % 6)})`, 2];
  }
  if (codes[at] === 2) {
    const rgb = codes.slice(at + 1, at + 4).map((v) => Math.min(255, Math.max(0, v || 0)));
    return [`rgb(${rgb.join(", ")})`, 4];
  }
  return [null, 0];
}
