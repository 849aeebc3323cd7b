// The one stylesheet, inlined in every page (no external assets). Colours follow GitHub's light palette,
// which the upstream's maintainers read all day.
export const STYLESHEET = `
:root { --fg: #1f2328; --muted: #59636e; --border: #d1d9e0; --bg: #fff; --bg2: #f6f8fa; --link: #0969da;
  --ok: #1a7f37; --bad: #cf222e; --infra: #bc4c00; --run: #9a6700; --grey: #6e7781; --warn-bg: #fff8c5; --bad-bg: #ffebe9; }
* { box-sizing: border-box; }
body { margin: 0; font: 13px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", sans-serif; color: var(--fg); background: var(--bg); }
a { color: var(--link); text-decoration: none; }
a:hover { text-decoration: underline; }
.top { display: flex; flex-wrap: wrap; gap: 6px 20px; align-items: baseline; padding: 6px 16px; background: var(--bg2); border-bottom: 1px solid var(--border); }
.top .brand { font-weight: 600; }
.top nav a, .range a, .range span { margin-right: 8px; }
.top [aria-current] { color: var(--fg); font-weight: 600; }
.range { margin-left: auto; color: var(--muted); }
main { padding: 12px 16px 24px; }
footer { padding: 8px 16px; border-top: 1px solid var(--border); color: var(--muted); font-size: 12px; }
h1 { font-size: 18px; margin: 4px 0 6px; }
h2 { font-size: 15px; margin: 20px 0 4px; }
h3 { font-size: 13px; margin: 0; }
p { margin: 4px 0; }
.muted { color: var(--muted); }
.small { font-size: 12px; }
.scroll { overflow: auto; max-height: 80vh; width: fit-content; max-width: 100%; border: 1px solid var(--border); border-radius: 6px; }
table { border-collapse: separate; border-spacing: 0; }
th, td { padding: 3px 8px; border-bottom: 1px solid var(--border); text-align: left; white-space: nowrap; }
thead th { position: sticky; top: 0; z-index: 1; background: var(--bg2); font-weight: 600; vertical-align: bottom; }
/* Summary headers wrap so the tables fit common widths; grid headers stay vertical. */
table:not(.grid) thead th { white-space: normal; }
tbody tr:hover td { background: var(--bg2); }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.fail { background: var(--bad-bg); color: var(--bad); font-weight: 600; }
td.na { color: var(--muted); text-align: center; }
.badge { display: inline-block; padding: 0 6px; border: 1px solid currentColor; border-radius: 9px; font-size: 11px; font-weight: 600; line-height: 16px; white-space: nowrap; }
.level-L4 { color: #8250df; } .level-L3 { color: #0969da; } .level-L2 { color: #1a7f37; } .level-L1, .level-other { color: var(--grey); }
.verdict-meets { color: var(--ok); } .verdict-fails { color: var(--bad); } .verdict-no_data { color: var(--grey); }
.tag { display: inline-block; padding: 0 5px; border-radius: 4px; font-size: 11px; white-space: nowrap; }
.tag-warn { background: var(--warn-bg); color: #7d4e00; } .tag-muted { background: var(--bg2); color: var(--muted); }
.tag-bad { background: var(--bad-bg); color: var(--bad); } .tag-ok { background: #dafbe1; color: var(--ok); } .tag-run { background: var(--warn-bg); color: var(--run); }
.requirements { font-size: 12px; }
.glyph { font-weight: 700; text-decoration: none; }
a.glyph:hover { text-decoration: none; outline: 1px solid currentColor; }
.k-success { color: var(--ok); } .k-failure { color: var(--bad); } .k-infra, .k-timed_out { color: var(--infra); }
.k-running { color: var(--run); } .k-cancelled, .k-skipped, .k-neutral { color: var(--grey); }
.legend { display: flex; flex-wrap: wrap; gap: 4px 14px; font-size: 12px; color: var(--muted); }
.missing-swatch { display: inline-block; width: 14px; height: 10px; vertical-align: middle; background: repeating-linear-gradient(45deg, var(--warn-bg) 0 3px, #fff 3px 6px); border: 1px solid #d4a72c; }
table.grid td { padding: 2px 6px; }
table.grid td.cell { text-align: center; padding: 2px 3px; min-width: 22px; }
table.grid td.sha { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; }
table.grid td.title { max-width: 28em; overflow: hidden; text-overflow: ellipsis; }
table.grid th.col { padding: 4px 3px; }
/* Column labels are short and distinct already (column-labels.ts): never cut them again. */
table.grid th.col span { display: inline-block; writing-mode: vertical-rl; transform: rotate(180deg); font-weight: 500; }
details.columns { font-size: 12px; margin: 4px 0 6px; }
details.columns summary { cursor: pointer; color: var(--muted); }
details.columns dl { display: grid; grid-template-columns: max-content 1fr; gap: 0 12px; margin: 4px 0; }
details.columns dl > div { display: contents; }
details.columns dd { margin: 0; overflow-wrap: anywhere; }
.pager { display: flex; gap: 16px; margin: 6px 0; }
.missing-note .tag { white-space: normal; }
tr.missing td { background: repeating-linear-gradient(45deg, var(--warn-bg) 0 6px, var(--bg) 6px 12px); }
.cards { display: flex; flex-wrap: wrap; gap: 8px; margin: 10px 0; }
.card { border: 1px solid var(--border); border-radius: 6px; padding: 6px 12px; min-width: 140px; }
.card .value { font-size: 20px; font-weight: 600; }
.card .value.na { font-size: 13px; font-weight: 400; color: var(--muted); padding: 6px 0; }
.card .label { font-size: 11px; color: var(--muted); text-transform: uppercase; letter-spacing: .03em; }
.card .detail { font-size: 11px; color: var(--muted); }
.checks { list-style: none; padding: 0; margin: 4px 0; }
.checks li { margin: 2px 0; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; }
.chart { margin: 0; max-width: 100%; }
.chart svg { max-width: 100%; height: auto; }
.chart figcaption { font-weight: 600; font-size: 12px; }
.chart .axis { font-size: 10px; fill: var(--muted); }
.chart .gridline { stroke: var(--border); } .chart .axisline { stroke: var(--muted); }
.chart .line { fill: none; stroke: var(--link); stroke-width: 1.5; } .chart .point { fill: var(--link); }
.chart .bar { fill: #8250df; }
.boxes { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(340px, 100%), 1fr)); gap: 8px; }
.box { border: 1px solid var(--border); border-left-width: 4px; border-radius: 6px; padding: 6px 10px; }
.box.state-failing { border-left-color: var(--bad); } .box.state-running { border-left-color: var(--run); }
.box.state-passed { border-left-color: var(--ok); } .box.state-missing { border-left-color: #d4a72c; background: var(--warn-bg); }
.box header { display: flex; flex-wrap: wrap; gap: 6px; align-items: baseline; }
.jobs { list-style: none; padding: 0; margin: 4px 0 0; }
.jobs li { margin: 1px 0; }
.jobs .failed-tests { margin: 0 0 2px 1.6em; font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 11px; color: var(--muted); overflow-wrap: anywhere; }
.hud-only .box { font-size: 12px; }
.shas a, .shas span { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; margin-right: 8px; }
/* The week table opens scrolled to its newest weeks (on the right); its backends stay in view while the weeks scroll by. */
.scroll.from-end { direction: rtl; } .scroll.from-end > table { direction: ltr; }
table.weeks th[scope="row"], table.weeks thead th:first-child { position: sticky; left: 0; background: var(--bg); z-index: 1; }
table.weeks thead th:first-child { background: var(--bg2); z-index: 2; }
/* Phones: the grid's job columns come into view sooner, and cards sit two abreast. */
@media (max-width: 640px) {
  main { padding: 10px 8px 20px; } .top, footer { padding-left: 8px; padding-right: 8px; }
  table.grid td.title { max-width: 9em; }
  table.grid .author { display: none; }
  table.weeks th[scope="row"] { white-space: normal; }
  .cards { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); }
  .card { min-width: 0; }
  .card .value { font-size: 17px; }
}
`;
