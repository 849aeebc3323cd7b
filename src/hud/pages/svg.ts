// Server-side SVG charts of a backend's daily numbers (no JavaScript): pass rate as a line, queue p50 as bars.
import type { DailyPoint } from "../views.js";
import { formatDuration, formatPercent } from "./format.js";
import { html, type SafeHtml } from "./html.js";

const WIDTH = 480;
const HEIGHT = 180;
const LEFT = 52;
const RIGHT = 10;
const TOP = 12;
const BOTTOM = 26;
const PLOT_WIDTH = WIDTH - LEFT - RIGHT;
const PLOT_HEIGHT = HEIGHT - TOP - BOTTOM;
const MAX_X_LABELS = 7;

/** Round durations an axis can end on, in seconds. */
const DURATION_STEPS = [10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14_400, 28_800, 86_400];

interface Chart {
  title: string;
  kind: "line" | "bar";
  points: DailyPoint[];
  value: (point: DailyPoint) => number | null;
  /** Bottom of the y axis (default 0); the axis is labelled at min, halfway and max. */
  min?: number;
  /** Top of the y axis. */
  max: number;
  format: (value: number) => string;
}

const round = (value: number): number => Math.round(value * 10) / 10;

/** "2026-11-29" (or a full ISO time) → "11-29". */
const dayLabel = (day: string): string => day.slice(5, 10);

function renderChart(chart: Chart): SafeHtml {
  const slot = PLOT_WIDTH / Math.max(1, chart.points.length);
  const x = (index: number) => round(LEFT + slot * (index + 0.5));
  const min = chart.min ?? 0;
  const y = (value: number) => round(TOP + PLOT_HEIGHT * (1 - (Math.min(Math.max(value, min), chart.max) - min) / (chart.max - min)));
  const bottom = TOP + PLOT_HEIGHT;
  const present = chart.points.flatMap((point, index) => {
    const value = chart.value(point);
    return value === null ? [] : [{ point, index, value, tip: `${point.day}: ${chart.format(value)} (${point.jobs} jobs)` }];
  });
  const yAxis = [min, (min + chart.max) / 2, chart.max].map(
    (value) =>
      html`<line class="gridline" x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${y(value)}" y2="${y(value)}"/><text class="axis" x="${LEFT - 4}" y="${y(value) + 4}" text-anchor="end">${chart.format(value)}</text>`,
  );
  const step = Math.ceil(chart.points.length / MAX_X_LABELS);
  const xAxis = chart.points.map(
    (point, index) =>
      (index % step === 0 || index === chart.points.length - 1) &&
      html`<text class="axis" x="${x(index)}" y="${HEIGHT - 8}" text-anchor="middle">${dayLabel(point.day)}</text>`,
  );
  let marks: SafeHtml;
  if (present.length === 0) {
    marks = html`<text class="axis empty" x="${LEFT + PLOT_WIDTH / 2}" y="${TOP + PLOT_HEIGHT / 2}" text-anchor="middle">No data in this window</text>`;
  } else if (chart.kind === "bar") {
    const width = round(Math.max(1, slot * 0.7));
    marks = html`${present.map(
      ({ index, value, tip }) =>
        html`<rect class="bar" x="${round(x(index) - width / 2)}" y="${y(value)}" width="${width}" height="${round(bottom - y(value))}"><title>${tip}</title></rect>`,
    )}`;
  } else {
    marks = html`${lineSegments(present, x, y)}${present.map(
      ({ index, value, tip }) => html`<circle class="point" cx="${x(index)}" cy="${y(value)}" r="3"><title>${tip}</title></circle>`,
    )}`;
  }
  return html`<figure class="chart"><figcaption>${chart.title}</figcaption><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" role="img" aria-label="${chart.title}">
${yAxis}<line class="axisline" x1="${LEFT}" x2="${LEFT}" y1="${TOP}" y2="${bottom}"/>${xAxis}${marks}</svg></figure>`;
}

/** Polylines through consecutive days with data; a day without data breaks the line rather than bridging it. */
function lineSegments(
  present: ReadonlyArray<{ index: number; value: number }>,
  x: (index: number) => number,
  y: (value: number) => number,
): SafeHtml[] {
  const runs: Array<Array<{ index: number; value: number }>> = [];
  for (const item of present) {
    const run = runs.at(-1);
    if (run !== undefined && run.at(-1)?.index === item.index - 1) run.push(item);
    else runs.push([item]);
  }
  return runs
    .filter((run) => run.length > 1)
    .map((run) => html`<polyline class="line" points="${run.map(({ index, value }) => `${x(index)},${y(value)}`).join(" ")}"/>`);
}

export function renderPassRateChart(daily: DailyPoint[]): SafeHtml {
  return rateChart("Daily test pass rate", daily, (point) => point.testPassRate);
}

export function renderAvailabilityChart(daily: DailyPoint[]): SafeHtml {
  return rateChart("Daily jobs without an infrastructure failure", daily, (point) => point.infraOkRate);
}

function rateChart(title: string, daily: DailyPoint[], value: (point: DailyPoint) => number | null): SafeHtml {
  return renderChart({ title, kind: "line", points: daily, value, min: rateAxisBottom(daily.map(value)), max: 1, format: formatPercent });
}

/**
 * The rate axis starts at the 10 % step below the lowest value (with room under it), so 89 % against
 * 100 % is a visible drop rather than a flat line near the top; 0 when a value is that low anyway.
 */
export function rateAxisBottom(rates: ReadonlyArray<number | null>): number {
  const present = rates.filter((rate): rate is number => rate !== null);
  if (present.length === 0) return 0;
  return Math.max(0, Math.floor((Math.min(...present) - 0.05) * 10) / 10);
}

export function renderQueueChart(daily: DailyPoint[]): SafeHtml {
  return durationChart("Daily queue time p50 (waiting for a runner)", daily, (point) => point.queueP50Ms);
}

export function renderRunTimeChart(daily: DailyPoint[]): SafeHtml {
  return durationChart("Daily run time p50 (start to completion)", daily, (point) => point.runP50Ms);
}

/** Bars on an axis ending at the round duration above the longest day. */
function durationChart(title: string, daily: DailyPoint[], value: (point: DailyPoint) => number | null): SafeHtml {
  const highest = Math.max(0, ...daily.map((point) => value(point) ?? 0)) / 1000;
  const top = DURATION_STEPS.find((step) => step >= highest) ?? Math.ceil(highest / 86_400) * 86_400;
  return renderChart({ title, kind: "bar", points: daily, value, max: top * 1000, format: formatDuration });
}
