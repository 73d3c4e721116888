"""The drill report's stylesheet, inlined into every page so that the file stands alone.

System fonts only (nothing is fetched); status colours pass WCAG AA against
their backgrounds and always come with a word and a symbol; A4 print rules
drop the screen chrome, open the collapsed logs and keep rows whole.
"""

from __future__ import annotations

CSS = """
:root {
  --ink: #1f2328; --muted: #59636e; --rule: #d1d9e0; --soft: #f6f8fa; --paper: #fff;
  --pass: #1a7f37; --pass-bg: #dafbe1; --fail: #c0202b; --fail-bg: #ffebe9;
  --warn: #8a5c00; --warn-bg: #fff6cc; --skip: #59636e; --skip-bg: #eff2f5;
  --unknown: #59636e; --unknown-bg: #eff2f5; --accent: #0b4f9c;
  --sans: -apple-system, BlinkMacSystemFont, "Segoe UI", "Helvetica Neue", Arial, "Liberation Sans",
    "DejaVu Sans", sans-serif;
  --mono: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", "DejaVu Sans Mono", monospace;
  color-scheme: light;
}
* { box-sizing: border-box; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
html { background: #e9edf1; }
body { margin: 0; color: var(--ink); font: 14px/1.5 var(--sans); }
.paper { max-width: 1040px; margin: 28px auto; padding: 40px 56px 28px; background: var(--paper);
  border: 1px solid var(--rule); box-shadow: 0 1px 4px rgb(31 35 40 / 8%); }
h1, h2, h3 { line-height: 1.25; }
code { font: 12.5px/1.4 var(--mono); overflow-wrap: break-word; }
.missing { color: var(--muted); font-style: italic; }
.muted { color: var(--muted); }
.nowrap { white-space: nowrap; }

/* Masthead: the verdict at a glance */
.masthead { border-bottom: 3px solid var(--ink); padding-bottom: 22px; }
.headline { display: flex; justify-content: space-between; align-items: flex-start; gap: 32px; }
.eyebrow { margin: 0; color: var(--muted); font-size: 12px; font-weight: 600; letter-spacing: .09em;
  text-transform: uppercase; }
h1 { margin: 6px 0 4px; font-size: 30px; letter-spacing: -.01em; }
.route { margin: 0; font-size: 16px; color: var(--ink); }
.route .arrow { color: var(--muted); padding: 0 6px; }
.verdict { flex: none; min-width: 200px; padding: 12px 20px 10px; border-radius: 6px; text-align: center;
  color: #fff; }
.verdict .word { display: block; font-size: 28px; font-weight: 800; letter-spacing: .08em;
  text-transform: uppercase; line-height: 1.1; }
.verdict .word .sym { margin-right: 10px; }
.verdict .phase { display: block; margin-top: 4px; font-size: 13px; opacity: .95; }
.verdict-pass { background: var(--pass); } .verdict-fail { background: var(--fail); }
.verdict-warn { background: var(--warn); } .verdict-skip, .verdict-unknown { background: var(--skip); }
.lede { margin: 18px 0 0; max-width: 80ch; font-size: 15px; }
.facts { display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: 14px 28px; margin: 20px 0 0; }
.facts dt { color: var(--muted); font-size: 11px; font-weight: 600; letter-spacing: .07em;
  text-transform: uppercase; }
.facts dd { margin: 2px 0 0; overflow-wrap: anywhere; }
.facts.wide { grid-template-columns: repeat(3, minmax(0, 1fr)); }

/* Objectives */
.objectives { display: grid; grid-template-columns: 1fr 1fr 0.75fr; gap: 16px; margin-top: 22px; }
.objective { padding: 12px 16px 14px; border: 1px solid var(--rule); border-left-width: 5px; border-radius: 4px; }
.objective h3 { display: flex; justify-content: space-between; align-items: center; margin: 0;
  color: var(--muted); font-size: 12px; font-weight: 600; letter-spacing: .07em; text-transform: uppercase; }
.figure { margin: 6px 0 0; font-size: 28px; font-weight: 700; font-variant-numeric: tabular-nums; }
.figure small { color: var(--muted); font-size: 14px; font-weight: 500; }
.figure.missing { font-size: 20px; font-weight: 500; line-height: 34px; }
.meter { height: 6px; margin-top: 10px; border-radius: 3px; background: var(--soft);
  box-shadow: inset 0 0 0 1px var(--rule); overflow: hidden; }
.meter > span { display: block; height: 100%; background: var(--ink); }
.objective-pass { border-left-color: var(--pass); } .objective-pass .meter > span { background: var(--pass); }
.objective-fail { border-left-color: var(--fail); } .objective-fail .meter > span { background: var(--fail); }
.objective-skip, .objective-unknown { border-left-color: var(--rule); }
.objective-score { border-left-color: var(--accent); } .objective-score .meter > span { background: var(--accent); }
.objective .note { margin: 6px 0 0; color: var(--muted); font-size: 12.5px; }

/* Status labels: symbol + word, never colour alone */
.status { display: inline-flex; align-items: center; gap: 5px; padding: 1px 7px; border: 1px solid;
  border-radius: 3px; font-size: 11.5px; font-weight: 700; letter-spacing: .05em; text-transform: uppercase;
  white-space: nowrap; }
.status-lg { font-size: 13px; padding: 2px 9px; }
.status-pass { color: var(--pass); background: var(--pass-bg); }
.status-fail { color: var(--fail); background: var(--fail-bg); }
.status-warn { color: var(--warn); background: var(--warn-bg); }
.status-skip, .status-unknown { color: var(--skip); background: var(--skip-bg); }

/* Sections */
section { margin-top: 34px; }
h2 { display: flex; align-items: baseline; gap: 12px; margin: 0 0 14px; padding-bottom: 6px;
  border-bottom: 1px solid var(--rule); font-size: 18px; }
h2 .n { min-width: 1.4em; color: var(--accent); font-variant-numeric: tabular-nums; }
h2 .aside { margin-left: auto; color: var(--muted); font-size: 13px; font-weight: 500; }
h3.sub { margin: 20px 0 8px; font-size: 14px; }
.lead { margin: 0 0 12px; }
.lead .status { margin-right: 8px; }

/* Six levels */
.levels { display: grid; grid-template-columns: repeat(6, minmax(0, 1fr)); gap: 10px; margin: 0; padding: 0;
  list-style: none; }
.card { padding: 10px 12px 12px; border: 1px solid var(--rule); border-top: 4px solid var(--rule);
  border-radius: 4px; }
.card-pass { border-top-color: var(--pass); } .card-fail { border-top-color: var(--fail); background: #fffafa; }
.card-warn { border-top-color: var(--warn); } .card-skip, .card-unknown { border-top-style: dashed; }
.card .name { display: block; margin-top: 8px; font-weight: 650; font-size: 13.5px; line-height: 1.3; }
.card .detail { display: block; margin-top: 4px; color: var(--muted); font-size: 12.5px; line-height: 1.4;
  overflow-wrap: anywhere; }

/* Call-outs */
.callout { margin: 22px 0 0; padding: 12px 18px 14px; border: 1px solid; border-left-width: 6px;
  border-radius: 4px; }
.callout h3 { margin: 0 0 6px; font-size: 15px; }
.callout p { margin: 0; }
.callout-fail { border-color: var(--fail); background: var(--fail-bg); }
.callout-fail h3 { color: var(--fail); }
.callout-warn { border-color: #d4a72c; border-left-color: var(--warn); background: #fffcf0; }
.callout-warn h3 { color: var(--warn); }
.callout ul { margin: 4px 0 0; padding-left: 0; list-style: none; }
.callout li { margin: 4px 0; }
.tag { display: inline-block; min-width: 64px; margin-right: 8px; padding: 0 6px; border: 1px solid currentColor;
  border-radius: 3px; font-size: 11px; font-weight: 700; letter-spacing: .05em; text-align: center;
  text-transform: uppercase; }

/* Tables */
table.grid { width: 100%; border-collapse: collapse; font-size: 13px; }
table.grid caption { padding-bottom: 6px; color: var(--muted); text-align: left; }
table.grid th { padding: 6px 10px; border-bottom: 1.5px solid var(--ink); color: var(--muted); font-size: 11px;
  font-weight: 600; letter-spacing: .06em; text-align: left; text-transform: uppercase; white-space: nowrap; }
table.grid td { padding: 7px 10px; border-bottom: 1px solid var(--rule); vertical-align: top;
  overflow-wrap: break-word; }
table.grid .num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.grid tr.row-fail td { background: #fff5f4; }
table.grid tr.has-note td { border-bottom: 0; }
table.grid tr.note td { padding-top: 0; color: var(--fail); }
table.grid tr.row-current td { font-weight: 600; background: var(--soft); }
table.compact { width: auto; min-width: 50%; }
ul.plain { margin: 6px 0 0; padding-left: 20px; }
ul.plain li { margin: 2px 0; }

/* Timeline */
.phases { display: block; margin: 4px 0 0; overflow: visible; }
.phases .seg { stroke: #fff; stroke-width: 2; }
.seg-0, .sw-0 { fill: #0b4f9c; background: #0b4f9c; } .seg-1, .sw-1 { fill: #6f42c1; background: #6f42c1; }
.seg-2, .sw-2 { fill: #6e7781; background: #6e7781; } .seg-3, .sw-3 { fill: #953800; background: #953800; }
.seg-label { fill: #fff; font: 600 12px var(--sans); }
.rto { stroke: var(--ink); stroke-width: 1.5; }
.rto-label { fill: var(--ink); font: 600 11.5px var(--sans); }
.axis { fill: var(--muted); font: 11px var(--sans); }
.legend { display: flex; flex-wrap: wrap; gap: 6px 24px; margin: 8px 0 18px; padding: 0; list-style: none;
  font-size: 13px; }
.swatch { display: inline-block; width: 11px; height: 11px; margin-right: 7px; border-radius: 2px;
  vertical-align: -1px; }

/* Diagnostics */
details { margin: 8px 0; border: 1px solid var(--rule); border-radius: 4px; }
summary { padding: 8px 12px; cursor: pointer; }
summary .muted { font-size: 12.5px; margin-left: 8px; }
pre { max-height: 380px; margin: 0; padding: 10px 14px; overflow: auto; border-top: 1px solid var(--rule);
  background: var(--soft); font: 12px/1.5 var(--mono); white-space: pre-wrap; word-break: break-word; }

/* History */
figure.trend { display: flex; align-items: center; gap: 24px; margin: 0 0 14px; padding: 12px 16px;
  border: 1px solid var(--rule); border-radius: 4px; }
figure.trend figcaption { font-size: 13px; }
figure.trend figcaption .muted { display: block; margin-top: 2px; font-size: 12px; }
.spark-line { fill: none; stroke: var(--muted); stroke-width: 1.5; }
.spark-pass { fill: var(--ink); } .spark-fail { fill: #fff; stroke: var(--fail); stroke-width: 2; }
.spark-ring { fill: none; stroke: var(--accent); stroke-width: 1.5; }

footer { margin-top: 40px; padding-top: 12px; border-top: 1px solid var(--rule); color: var(--muted);
  font-size: 12px; }
footer p { margin: 2px 0; }

@media screen and (max-width: 900px) {
  .paper { margin: 0; padding: 24px 20px; border: 0; }
  .levels { grid-template-columns: repeat(3, minmax(0, 1fr)); }
  .facts, .facts.wide { grid-template-columns: repeat(2, minmax(0, 1fr)); }
  .objectives { grid-template-columns: 1fr; }
  figure.trend { flex-direction: column; align-items: flex-start; }
  .headline { flex-direction: column-reverse; gap: 12px; }
}

@page { size: A4; margin: 14mm 13mm 16mm; }
@media print {
  html, body { background: #fff; font-size: 9.5pt; }
  .paper { max-width: none; margin: 0; padding: 0; border: 0; box-shadow: none; }
  section { margin-top: 20px; }
  h2, h3, summary { break-after: avoid; }
  tr, .card, .objective, .callout, figure, .facts > div { break-inside: avoid; }
  thead { display: table-header-group; }
  .levels { grid-template-columns: repeat(6, minmax(0, 1fr)); }
  .facts { grid-template-columns: repeat(4, minmax(0, 1fr)); }
  .objectives { grid-template-columns: 1fr 1fr 0.75fr; }
  details::details-content { display: block; content-visibility: visible; }
  summary { cursor: auto; list-style: none; }
  pre { max-height: none; overflow: visible; }
}
"""
