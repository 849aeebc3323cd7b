import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  formatDuration,
  formatPercent,
  formatRelative,
  formatShortTime,
  formatTime,
  shorten,
} from "../../src/hud/pages/format.js";
import { attrs, escapeHtml, externalLink, html, httpUrl, join, raw } from "../../src/hud/pages/html.js";
import { rateAxisBottom, renderPassRateChart, renderQueueChart } from "../../src/hud/pages/svg.js";
import { apiPath, githubUrl, hudPath } from "../../src/hud/pages/urls.js";
import type { DailyPoint } from "../../src/hud/views.js";
import { ctx } from "./hud-fixtures.js";
import { decodeEntities, parseTags, textOf } from "./hud-markup.js";

describe("html template", () => {
  it("escapes interpolated text for content and both kinds of quoted attributes", () => {
    expect(escapeHtml(`<a href="x" title='y'>&amp;</a>`)).toBe("&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;");
    const text = `"><script>alert(1)</script>`;
    expect(html`<p title="${text}">${text}</p>`.markup).toBe(
      "<p title=\"&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\">&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;</p>",
    );
  });

  it("keeps nested templates and raw() markup, joins arrays, and renders false/null/undefined as nothing", () => {
    const items = ["a<b", "c"].map((item) => html`<li>${item}</li>`);
    expect(html`<ul>${items}</ul>${false}${null}${undefined}${0}`.markup).toBe("<ul><li>a&lt;b</li><li>c</li></ul>0");
    expect(html`${raw("<br>")}`.markup).toBe("<br>");
    expect(join(["x&y", html`<b>z</b>`], ", ").markup).toBe("x&amp;y, <b>z</b>");
    expect(String(html`<i>${"<"}</i>`)).toBe("<i>&lt;</i>");
  });

  it("renders attributes, leaving out null and undefined", () => {
    expect(attrs({ href: "/a?b=1&c=2", title: `it's "x"`, role: null, id: undefined }).markup).toBe(
      ` href="/a?b=1&amp;c=2" title="it&#39;s &quot;x&quot;"`,
    );
  });

  it("never lets arbitrary text produce a tag or leave its attribute", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (text) => {
        const markup = html`<p title="${text}">${text}</p>`.markup;
        const tags = parseTags(markup);
        expect(tags).toHaveLength(1);
        expect(tags[0]!.attrs.get("title")).toBe(text);
        expect(decodeEntities(markup.slice(markup.indexOf(">") + 1, -"</p>".length))).toBe(text);
      }),
    );
  });
});

describe("URLs", () => {
  it("accepts only absolute http(s) URLs as links", () => {
    expect(httpUrl("https://github.com/a/b/actions/runs/1")).toBe("https://github.com/a/b/actions/runs/1");
    expect(httpUrl("http://ci.example.com/job?id=1&x=2")).toBe("http://ci.example.com/job?id=1&x=2");
    for (const bad of [
      "javascript:alert(1)",
      " JaVaScRiPt:alert(1)",
      "java\tscript:alert(1)",
      "data:text/html,<script>alert(1)</script>",
      "vbscript:x",
      "mailto:a@b.c",
      "/relative",
      "//evil.example.com/x",
      "",
      null,
    ]) {
      expect(httpUrl(bad)).toBeNull();
    }
  });

  it("renders a non-http(s) URL as plain text with the same attributes", () => {
    expect(externalLink("javascript:alert(1)", "job", { title: "t" }).markup).toBe('<span title="t">job</span>');
    expect(externalLink("https://x.example/a", "job", { title: "t" }).markup).toBe('<a href="https://x.example/a" title="t">job</a>');
  });

  it("builds the relay's page, JSON and GitHub URLs with path-encoded segments", () => {
    expect(hudPath.summary(7)).toBe("/hud?days=7");
    expect(hudPath.backend("Acme AI/torch#npu", 30)).toBe("/hud/Acme%20AI/torch%23npu?days=30");
    expect(hudPath.pr(5, "abc")).toBe("/hud/pr/5?sha=abc");
    expect(apiPath.backend("acme/npu", 1)).toBe("/api/hud/backends/acme/npu?days=1");
    expect(apiPath.trunk(7, "L4")).toBe("/api/hud/trunk?days=7&level=L4");
    expect(apiPath.pr(5, null)).toBe("/api/hud/pr/5");
    expect(githubUrl.pr(ctx, 12)).toBe("https://github.com/pytorch/pytorch/pull/12");
    expect(githubUrl.commit({ ...ctx, webBaseUrl: "https://ghe.example.com" }, "abc")).toBe(
      "https://ghe.example.com/pytorch/pytorch/commit/abc",
    );
    expect(githubUrl.handle(ctx, "org/team")).toBe("https://github.com/orgs/org/teams/team");
  });
});

describe("formatting", () => {
  it("formats durations", () => {
    expect([0, 300, 850, 42_000, 59_600, 252_000, 3_780_000, 93_600_000].map(formatDuration)).toEqual([
      "0s",
      "<1s",
      "1s",
      "42s",
      "1m 00s",
      "4m 12s",
      "1h 03m",
      "1d 02h",
    ]);
    expect(formatDuration(null)).toBe("n/a");
    expect(formatDuration(-5)).toBe("n/a");
  });

  it("formats rates as percentages, never rounding an imperfect rate to 100% or a non-zero one to 0%", () => {
    expect([0.975, 0.95, 1, 0, 0.0048, 0.9996, 0.0001].map(formatPercent)).toEqual([
      "97.5%",
      "95%",
      "100%",
      "0%",
      "0.5%",
      "99.9%",
      "0.1%",
    ]);
    expect(formatPercent(null)).toBe("n/a");
  });

  it("formats absolute and relative times", () => {
    const now = "2026-11-29T12:00:00.000Z";
    expect(formatTime("2026-11-29T09:03:59.000Z")).toBe("2026-11-29 09:03 UTC");
    expect(formatShortTime("2026-11-29T09:03:59.000Z")).toBe("11-29 09:03");
    expect(
      ["2026-11-29T11:59:30.000Z", "2026-11-29T11:48:00.000Z", "2026-11-29T07:00:00.000Z", "2026-11-25T12:00:00.000Z", "2026-11-29T12:05:00.000Z"].map(
        (iso) => formatRelative(iso, now),
      ),
    ).toEqual(["just now", "12m ago", "5h ago", "4d ago", "in 5m"]);
    expect(formatRelative(null, now)).toBe("n/a");
    expect(formatTime("not a time")).toBe("not a time");
  });

  it("shortens text by code point, collapsing whitespace", () => {
    expect(shorten("a  b\n\nc", 10)).toBe("a b c");
    expect(shorten("abcdefghij", 5)).toBe("abcd…");
    expect(shorten("😀😀😀😀😀😀", 4)).toBe("😀😀😀…");
  });
});

describe("daily charts", () => {
  const point = (day: string, testPassRate: number | null, queueP50Ms: number | null): DailyPoint => ({
    day,
    testPassRate,
    infraOkRate: testPassRate,
    queueP50Ms,
    runP50Ms: queueP50Ms,
    jobs: 10,
  });
  const count = (svg: string, name: string, className?: string) =>
    parseTags(svg).filter((tag) => tag.name === name && (className === undefined || tag.attrs.get("class") === className)).length;

  it("draws a point per day with data, a line through consecutive days, and labelled axes", () => {
    const days = ["2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05"];
    const svg = renderPassRateChart(days.map((day, index) => point(day, index === 2 ? null : 0.9, null))).markup;
    expect(count(svg, "circle")).toBe(4);
    expect(count(svg, "polyline")).toBe(2);
    // The axis fits the data: 90 % sits on a 80–100 % axis, not near the top of 0–100 %.
    expect(textOf(svg)).toContain("80% 90% 100%");
    expect(textOf(svg)).toContain("11-01");
    expect(textOf(svg)).toContain("2026-11-05: 90% (10 jobs)");
  });

  it("draws a bar per day with a queue time, on a round duration axis", () => {
    const svg = renderQueueChart([point("2026-11-01", null, 250_000), point("2026-11-02", null, 0), point("2026-11-03", null, null)]).markup;
    expect(count(svg, "rect", "bar")).toBe(2);
    expect(textOf(svg)).toContain("5m 00s");
    expect(textOf(svg)).toContain("2026-11-01: 4m 10s (10 jobs)");
  });

  it("handles a single day and an empty window", () => {
    const single = renderPassRateChart([point("2026-11-01", 1, null)]).markup;
    expect(count(single, "circle")).toBe(1);
    expect(count(single, "polyline")).toBe(0);
    for (const empty of [renderPassRateChart([]).markup, renderQueueChart([point("2026-11-01", null, null)]).markup]) {
      expect(textOf(empty)).toContain("No data in this window");
      expect(count(empty, "circle") + count(empty, "rect", "bar")).toBe(0);
    }
  });

  it("starts the rate axis at the 10 % step below the lowest value, at 0 when it is that low", () => {
    expect(rateAxisBottom([0.89, 1, null])).toBe(0.8);
    expect(rateAxisBottom([0.99])).toBe(0.9);
    expect(rateAxisBottom([0.04, 1])).toBe(0);
    expect(rateAxisBottom([null])).toBe(0);
    const low = renderPassRateChart([point("2026-11-01", 0.3, null), point("2026-11-02", 1, null)]).markup;
    expect(textOf(low)).toContain("20% 60% 100%");
  });

  it("keeps a value above the axis inside the plot", () => {
    const svg = renderPassRateChart([point("2026-11-01", 1.5, null)]).markup;
    const tags = parseTags(svg);
    const top = Math.min(...tags.filter((tag) => tag.attrs.get("class") === "gridline").map((tag) => Number(tag.attrs.get("y1"))));
    expect(Number(tags.find((tag) => tag.name === "circle")!.attrs.get("cy"))).toBe(top);
  });
});
