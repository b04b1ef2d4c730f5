"""Report layer: the report's stylesheet, inlined into every page (no external CSS, fonts or scripts).

Kept as a Python string rather than a ``.css`` file so that it ships with the package whatever
``package-data`` says. Colours follow ``viz.figures`` (ink ``#1f2933``, muted ``#7b8794``).
"""

from __future__ import annotations

CSS = """
:root {
  --ink: #1f2933; --muted: #616e7c; --line: #e4e7eb; --soft: #f5f7fa;
  --accent: #d64545; --warn: #f0b429; --link: #0b6e99;
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0; background: #fff; color: var(--ink);
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", "Helvetica Neue",
    Arial, sans-serif;
  font-size: 16px; line-height: 1.55;
}
main { max-width: 1100px; margin: 0 auto; padding: 36px 28px 80px; }
header.page { border-bottom: 3px solid var(--ink); padding-bottom: 14px; margin-bottom: 20px; }
header.page h1 { font-size: 2rem; line-height: 1.2; margin: 0 0 6px; }
header.page .byline { color: var(--muted); margin: 0; }
h2 { font-size: 1.5rem; line-height: 1.25; margin: 2.6rem 0 0.8rem; padding-top: 0.9rem;
     border-top: 1px solid var(--line); }
h3 { font-size: 1.2rem; margin: 2rem 0 0.6rem; }
h4 { font-size: 1.02rem; margin: 1.5rem 0 0.5rem; }
section.run > h2 { border-top: 3px solid var(--ink); font-size: 1.7rem; }
p { margin: 0.5rem 0 0.9rem; max-width: 78ch; }
a { color: var(--link); }
code, pre { font-family: ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", Menlo, Consolas, monospace;
            font-size: 0.88em; }
code { background: var(--soft); padding: 0.05em 0.3em; border-radius: 3px; }
pre { background: var(--soft); border: 1px solid var(--line); border-radius: 6px; padding: 12px 14px;
      overflow-x: auto; white-space: pre-wrap; word-break: break-all; }
pre code { background: none; padding: 0; }
.lede { font-size: 1.3rem; line-height: 1.45; font-weight: 600; margin: 18px 0 20px; padding: 14px 18px;
        background: var(--soft); border-left: 5px solid var(--accent); max-width: none; }
.muted { color: var(--muted); }
.small { font-size: 0.88rem; }
.note, .caveat { padding: 10px 14px; margin: 12px 0; border-radius: 0 6px 6px 0; max-width: none; }
.note { background: #fffbea; border-left: 4px solid var(--warn); }
.caveat { background: #fff5f5; border-left: 4px solid var(--accent); font-weight: 600; }
nav.toc { background: var(--soft); border: 1px solid var(--line); border-radius: 8px; padding: 12px 20px;
          margin: 20px 0 10px; }
nav.toc h2 { font-size: 1.05rem; margin: 0 0 4px; padding: 0; border: 0; }
nav.toc ol { margin: 0; padding-left: 1.3rem; }
nav.toc ol ol { columns: 2; column-gap: 28px; font-size: 0.93rem; }
nav.toc li { margin: 1px 0; break-inside: avoid; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 18px; margin: 10px 0 16px; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(145px, 1fr)); gap: 12px; margin: 12px 0 18px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; background: var(--soft); }
.card .value { font-size: 1.45rem; font-weight: 700; line-height: 1.2; font-variant-numeric: tabular-nums; }
.card .label { font-size: 0.9rem; }
.card .sub { font-size: 0.8rem; color: var(--muted); }
.card.cost { background: #fdf8f3; }
.table-wrap { overflow-x: auto; margin: 10px 0 18px; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; font-variant-numeric: tabular-nums; }
caption { caption-side: top; text-align: left; color: var(--muted); padding: 4px 0 6px; font-size: 0.88rem; }
th, td { padding: 5px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
thead th { border-bottom: 2px solid var(--ink); font-weight: 600; vertical-align: bottom; }
td.num, th.num { text-align: right; white-space: nowrap; }
td.key { color: var(--muted); font-size: 0.8rem; }
td.unit, td.when, td.nowrap { white-space: nowrap; }
td.unit { color: var(--muted); }
.keyname { display: block; color: var(--muted); font-size: 0.74rem;
           font-family: ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", Menlo, Consolas, monospace; }
tr.group th { background: var(--soft); font-weight: 600; padding-top: 8px; }
tr.sub td:first-child { padding-left: 28px; }
td.diff { color: #486581; }
td.source { font-size: 0.84rem; }
figure { margin: 22px 0 28px; }
figure svg, figure img { display: block; width: 100%; height: auto; }
figure svg * { stroke-linejoin: round; stroke-linecap: butt; }
figcaption { color: var(--muted); font-size: 0.9rem; border-top: 1px solid var(--line); margin-top: 6px;
             padding-top: 6px; max-width: none; }
figcaption b { color: var(--ink); }
footer { margin-top: 48px; padding-top: 12px; border-top: 1px solid var(--line); color: var(--muted);
         font-size: 0.85rem; }
@media (max-width: 700px) {
  main { padding: 20px 14px 60px; }
  nav.toc ol ol { columns: 1; }
  dl.facts { grid-template-columns: 1fr; }
}
@media print {
  main { max-width: none; padding: 0; }
  nav.toc { display: none; }
  figure, table, .cards { break-inside: avoid; }
  h2, h3 { break-after: avoid; }
}
"""
