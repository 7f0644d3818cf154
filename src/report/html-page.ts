/**
 * The shell of report.html: escaping, the page's CSS (light, dark, print) and its one small
 * script (copy buttons; open every <details> before printing). The page loads nothing: a
 * Content-Security-Policy meta tag allows no fetch of any kind and only this script, by hash,
 * so a report opened from disk or a CI artifact behaves the same, and text from a target
 * (names, messages) can never become markup.
 */
import { createHash } from 'node:crypto';
import { CHART_FONT, paletteCss } from './html-charts.js';

/** Text or attribute value → HTML-safe text. */
export function esc(s: string | number | boolean | null | undefined): string {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** A table from escaped-or-markup cells: `cells` are HTML already. `numeric` columns align right. */
export function htmlTable(headings: string[], rows: string[][], opts: { numeric?: number[]; caption?: string; className?: string } = {}): string {
  const num = new Set(opts.numeric ?? []);
  const th = headings.map((h, i) => `<th scope="col"${num.has(i) ? ' class="num"' : ''}>${h}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((c, i) => `<td${num.has(i) ? ' class="num"' : ''}>${c}</td>`).join('')}</tr>`).join('\n');
  return `<table${opts.className ? ` class="${opts.className}"` : ''}>${opts.caption ? `<caption>${opts.caption}</caption>` : ''}<thead><tr>${th}</tr></thead>\n<tbody>\n${body}\n</tbody></table>`;
}

/** A command with a copy button (the button copies the text of the <code> beside it). */
export function commandBlock(command: string, label = 'Copy'): string {
  return `<div class="cmd"><pre><code>${esc(command)}</code></pre><button type="button" class="copy" aria-label="${esc(label)} command">${esc(label)}</button></div>`;
}

export function details(summary: string, body: string, open = false): string {
  return `<details${open ? ' open' : ''}><summary>${summary}</summary>\n${body}\n</details>`;
}

const SCRIPT = `document.addEventListener('click', function (e) {
  var b = e.target instanceof Element ? e.target.closest('button.copy') : null;
  if (!b) return;
  var code = b.parentElement && b.parentElement.querySelector('code');
  if (!code) return;
  var text = code.textContent || '';
  var done = function () { b.textContent = 'Copied'; setTimeout(function () { b.textContent = 'Copy'; }, 1500); };
  var fallback = function () {
    var r = document.createRange(); r.selectNodeContents(code);
    var s = window.getSelection(); if (s) { s.removeAllRanges(); s.addRange(r); }
    try { if (document.execCommand('copy')) done(); else b.textContent = 'Press Ctrl+C'; } catch (err) { b.textContent = 'Press Ctrl+C'; }
  };
  if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, fallback); else fallback();
});
window.addEventListener('beforeprint', function () {
  document.querySelectorAll('details:not([open])').forEach(function (d) { d.setAttribute('open', ''); d.setAttribute('data-print-opened', ''); });
});
window.addEventListener('afterprint', function () {
  document.querySelectorAll('details[data-print-opened]').forEach(function (d) { d.removeAttribute('open'); d.removeAttribute('data-print-opened'); });
});
`;

const CSS = `
:root{color-scheme:light dark;--bg:#ffffff;--fg:#1f2328;--muted:#59636e;--border:#d1d9e0;--card:#f6f8fa;--link:#0969da;
--fail-bg:#ffebe9;--fail-fg:#a40e26;--warn-bg:#fff1e5;--warn-fg:#9a4800;--ok-bg:#dafbe1;--ok-fg:#116329;--info-bg:#ddf4ff;--info-fg:#0a3069;--skip-bg:#eff2f5;--skip-fg:#59636e}
@media screen and (prefers-color-scheme: dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;--border:#3d444d;--card:#151b23;--link:#4493f8;
--fail-bg:#3c1618;--fail-fg:#ffa198;--warn-bg:#3b2300;--warn-fg:#f0b72f;--ok-bg:#0f2d1a;--ok-fg:#7ee787;--info-bg:#0c2d6b;--info-fg:#a5d6ff;--skip-bg:#212830;--skip-fg:#9198a1}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.5 ${CHART_FONT}}
main{max-width:1180px;margin:0 auto;padding:24px 20px 64px}
a{color:var(--link)}
h1{font-size:24px;margin:0 0 4px} h2{font-size:20px;margin:36px 0 10px;padding-bottom:4px;border-bottom:1px solid var(--border)} h3{font-size:16px;margin:0 0 6px}
p,ul{margin:8px 0}
code,pre{font:13px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace}
.sub{color:var(--muted);font-size:13px}
nav{display:flex;flex-wrap:wrap;gap:4px 14px;margin:12px 0 0;font-size:14px}
.banner{border-radius:8px;padding:14px 18px;margin:16px 0;border:1px solid var(--border)}
.banner strong{font-size:18px}
.banner.fail{background:var(--fail-bg);color:var(--fail-fg);border-color:currentColor}
.banner.warn{background:var(--warn-bg);color:var(--warn-fg);border-color:currentColor}
.banner.ok{background:var(--ok-bg);color:var(--ok-fg);border-color:currentColor}
.banner.info{background:var(--info-bg);color:var(--info-fg);border-color:currentColor}
.banner ul{margin:8px 0 0;padding-left:20px;color:var(--fg)}
table{border-collapse:collapse;margin:8px 0 12px;font-size:13.5px;max-width:100%}
caption{text-align:left;color:var(--muted);font-size:13px;padding:2px 0 4px}
th,td{border:1px solid var(--border);padding:4px 8px;text-align:left;vertical-align:top}
th{background:var(--card)}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.scroll{overflow-x:auto}
.v{display:inline-block;border-radius:4px;padding:0 6px;font-size:12.5px;white-space:nowrap}
.v.fail,.s-dead,.s-diverged{background:var(--fail-bg);color:var(--fail-fg)}
.v.inconclusive,.s-inconclusive,.v.skipped{background:var(--skip-bg);color:var(--skip-fg)}
.v.pass,.s-clean{background:var(--ok-bg);color:var(--ok-fg)}
.s-partial{background:var(--warn-bg);color:var(--warn-fg)}
.s-learns{background:var(--info-bg);color:var(--info-fg)}
.s-control{background:var(--card);color:var(--fg);border:1px solid var(--border)}
td.cell a{text-decoration:none} td.cell a:hover{text-decoration:underline}
.follows{color:var(--muted);font-size:12px}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(460px,1fr));gap:16px}
figure{margin:8px 0;padding:8px;border:1px solid var(--border);border-radius:8px;background:var(--bg);break-inside:avoid}
figure svg{display:block;width:100%;height:auto;margin:0 auto}
figcaption{color:var(--muted);font-size:13px;padding:4px 4px 0}
.diag{border:1px solid var(--border);border-left:4px solid var(--fail-fg);border-radius:6px;padding:10px 14px;margin:10px 0;background:var(--card)}
.diag h3 code{font-size:15px}
.diag ul{padding-left:20px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:16px}
.card{border:1px solid var(--border);border-radius:8px;padding:14px 16px;background:var(--card);break-inside:avoid;min-width:0}
.card:target{outline:3px solid var(--link);outline-offset:2px}
.card.consequence{border-style:dashed}
.card .tag{font-size:12px;border-radius:10px;padding:1px 8px;margin-left:6px;vertical-align:2px}
.tag.primary{background:var(--fail-bg);color:var(--fail-fg)} .tag.secondary{background:var(--skip-bg);color:var(--skip-fg)}
.stat{display:flex;flex-wrap:wrap;gap:6px 18px;align-items:baseline;margin:8px 0;padding:8px 10px;border-radius:6px;background:var(--bg);border:1px solid var(--border)}
.stat .value{font-size:20px;font-weight:600;color:var(--fail-fg)}
.stat .rule{color:var(--muted)}
.cmd{display:flex;gap:8px;align-items:flex-start;margin:6px 0}
.cmd pre{flex:1;margin:0;padding:8px 10px;background:var(--bg);border:1px solid var(--border);border-radius:6px;overflow-x:auto;white-space:pre-wrap;word-break:break-all}
button.copy{font:inherit;font-size:12.5px;padding:6px 10px;border-radius:6px;border:1px solid var(--border);background:var(--card);color:var(--fg);cursor:pointer}
details{margin:6px 0} summary{cursor:pointer;color:var(--muted)}
@media print{
:root{--bg:#fff;--fg:#000;--card:#fff;--border:#999}
body{font-size:11pt} main{max-width:none;padding:0}
nav,button.copy{display:none}
.charts,.cards{display:block}
h2{break-after:avoid} figure,.card,.diag,tr{break-inside:avoid}
a{color:inherit;text-decoration:none}
details>summary{list-style:none}
}
`;

export function pageShell(title: string, body: string): string {
  const scriptHash = createHash('sha256').update(SCRIPT, 'utf8').digest('base64');
  const csp = `default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'sha256-${scriptHash}'; base-uri 'none'; form-action 'none'`;
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${csp}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="color-scheme" content="light dark">',
    '<meta name="generator" content="quant-audit">',
    `<title>${esc(title)}</title>`,
    `<style>${CSS}${paletteCss()}</style>`,
    '</head>',
    '<body>',
    '<main>',
    body,
    '</main>',
    `<script>${SCRIPT}</script>`,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
