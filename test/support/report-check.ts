/**
 * Small validators the report tests use: the mermaid xychart-beta subset quant-audit emits,
 * a strict minimal XML 1.0 parser (elements, attributes, text, entities, one root), and a
 * GFM parse helper.
 */
import { fromMarkdown } from 'mdast-util-from-markdown';
import { gfm } from 'micromark-extension-gfm';
import { gfmFromMarkdown } from 'mdast-util-gfm';
import type { Root, RootContent, Table } from 'mdast';

export function parseGfm(markdown: string): Root {
  return fromMarkdown(markdown, { extensions: [gfm()], mdastExtensions: [gfmFromMarkdown()] });
}

export function textOf(node: RootContent | Root): string {
  if ('value' in node && typeof node.value === 'string') return node.value;
  if ('children' in node) return (node.children as RootContent[]).map(textOf).join('');
  return '';
}

export function tables(root: Root): { header: string[]; rows: string[][]; node: Table }[] {
  return root.children
    .filter((n): n is Table => n.type === 'table')
    .map((t) => ({ header: t.children[0]!.children.map(textOf), rows: t.children.slice(1).map((r) => r.children.map(textOf)), node: t }));
}

const NUM = /^-?\d+(?:\.\d+)?(?:e[+-]?\d+)?$/;
const QUOTED = /^"[^"\n]*"$/;

/** Errors in a mermaid xychart-beta block (empty = valid for the subset we emit). */
export function validateXyChart(src: string): string[] {
  const errors: string[] = [];
  const lines = src.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  if (!/^xychart-beta(?: horizontal)?$/.test(lines[0] ?? '')) errors.push(`first line must be 'xychart-beta', got ${JSON.stringify(lines[0])}`);
  let categories: number | undefined;
  let yRange: [number, number] | undefined;
  const series: number[][] = [];
  let titles = 0;
  for (const line of lines.slice(1)) {
    let m: RegExpExecArray | null;
    if ((m = /^title (.+)$/.exec(line))) {
      titles++;
      if (!QUOTED.test(m[1]!) && !/^\S+$/.test(m[1]!)) errors.push(`title must be one word or quoted: ${line}`);
    } else if ((m = /^x-axis(?: ("[^"\n]*"|\S+))? \[(.*)\]$/.exec(line))) {
      const cats = m[2]!.split(',').map((c) => c.trim());
      for (const c of cats) if (!QUOTED.test(c) && !/^[^\s",\[\]]+$/.test(c)) errors.push(`bad x-axis category ${c}`);
      categories = cats.length;
    } else if ((m = /^x-axis(?: ("[^"\n]*"|\S+))? (\S+) --> (\S+)$/.exec(line))) {
      if (!NUM.test(m[2]!) || !NUM.test(m[3]!)) errors.push(`bad x-axis range: ${line}`);
    } else if ((m = /^y-axis(?: ("[^"\n]*"|\S+))? (\S+) --> (\S+)$/.exec(line))) {
      if (!NUM.test(m[2]!) || !NUM.test(m[3]!)) errors.push(`bad y-axis range: ${line}`);
      else if (Number(m[2]) >= Number(m[3])) errors.push(`y-axis min >= max: ${line}`);
      else yRange = [Number(m[2]), Number(m[3])];
    } else if ((m = /^(?:line|bar) \[(.*)\]$/.exec(line))) {
      const values = m[1]!.split(',').map((v) => v.trim());
      for (const v of values) if (!NUM.test(v)) errors.push(`non-numeric value ${JSON.stringify(v)} in ${line.slice(0, 40)}…`);
      series.push(values.map(Number));
    } else {
      errors.push(`unknown statement: ${line}`);
    }
  }
  if (titles > 1) errors.push('more than one title');
  if (series.length === 0) errors.push('no line or bar series');
  for (const [i, s] of series.entries()) {
    if (categories !== undefined && s.length !== categories) errors.push(`series ${i + 1} has ${s.length} values for ${categories} x categories`);
    if (yRange && s.some((v) => v < yRange![0] || v > yRange![1])) errors.push(`series ${i + 1} leaves the y range ${yRange.join('..')}`);
  }
  return errors;
}

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const NAME = '[A-Za-z_][A-Za-z0-9._:-]*';

function decode(s: string, where: number): string {
  return s.replace(/&([^;\s]*);?/g, (all, ent: string) => {
    if (!all.endsWith(';')) throw new Error(`bare & at ${where}`);
    const map: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
    if (ent in map) return map[ent]!;
    if (/^#\d+$/.test(ent)) return String.fromCodePoint(Number(ent.slice(1)));
    if (/^#x[0-9a-fA-F]+$/.test(ent)) return String.fromCodePoint(parseInt(ent.slice(2), 16));
    throw new Error(`unknown entity &${ent}; at ${where}`);
  });
}

/** Parse a well-formed XML document (no DTD, comments or CDATA: we never emit them). Throws on any error. */
export function parseXml(xml: string): XmlElement {
  let i = 0;
  const decl = /^<\?xml [^?]*\?>\s*/.exec(xml);
  if (decl) i = decl[0].length;
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  const tagRe = new RegExp(`<(/?)(${NAME})((?:\\s+${NAME}\\s*=\\s*"[^"<]*")*)\\s*(/?)>`, 'y');
  const attrRe = new RegExp(`(${NAME})\\s*=\\s*"([^"<]*)"`, 'g');
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const text = xml.slice(i, lt === -1 ? xml.length : lt);
    if (text.includes('>')) throw new Error(`raw '>' in text at ${i}`);
    if (stack.length > 0) stack[stack.length - 1]!.text += decode(text, i);
    else if (text.trim() !== '') throw new Error(`text outside the root element at ${i}`);
    if (lt === -1) break;
    tagRe.lastIndex = lt;
    const m = tagRe.exec(xml);
    if (!m) throw new Error(`malformed tag at ${lt}: ${xml.slice(lt, lt + 60)}`);
    const [, close, name, attrText, selfClose] = m;
    if (close) {
      const open = stack.pop();
      if (!open || open.name !== name) throw new Error(`</${name}> closes <${open?.name}> at ${lt}`);
      if (stack.length === 0) root = open;
    } else {
      if (root) throw new Error(`second root element <${name}> at ${lt}`);
      const el: XmlElement = { name: name!, attrs: {}, children: [], text: '' };
      for (const a of attrText!.matchAll(attrRe)) {
        if (a[1]! in el.attrs) throw new Error(`duplicate attribute ${a[1]} at ${lt}`);
        el.attrs[a[1]!] = decode(a[2]!, lt);
      }
      if (stack.length > 0) stack[stack.length - 1]!.children.push(el);
      if (selfClose) {
        if (stack.length === 0) root = el;
      } else stack.push(el);
    }
    i = tagRe.lastIndex;
  }
  if (stack.length > 0) throw new Error(`unclosed <${stack[stack.length - 1]!.name}>`);
  if (!root) throw new Error('no root element');
  return root;
}
