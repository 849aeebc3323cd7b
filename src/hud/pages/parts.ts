// Small markup pieces shared by the pages: badges, tags and times.
import { LEVELS } from "../../allowlist/types.js";
import type { DispatchGap, TimeWindow, Verdict } from "../views.js";
import type { PageContext } from "./context.js";
import { formatRelative, formatShortTime, formatTime, NA } from "./format.js";
import { attrs, html, type SafeHtml } from "./html.js";

/** The level as written in the data; a level the allowlist does not know gets a neutral colour, never a default level. */
export function levelBadge(level: string): SafeHtml {
  const known = (LEVELS as readonly string[]).includes(level);
  return html`<span class="badge level-${known ? level : "other"}" title="level ${level}">${level}</span>`;
}

const VERDICT_LABELS: Record<Verdict, string> = { meets: "meets", fails: "fails", no_data: "no data" };

export function verdictBadge(verdict: Verdict): SafeHtml {
  return html`<span class="badge verdict-${verdict}">${VERDICT_LABELS[verdict]}</span>`;
}

/** A small labelled marker; `tone` picks the colour (a class name from this module's callers, never data). */
export function tag(text: string, tone: "warn" | "muted" | "bad" | "ok" | "run", title?: string): SafeHtml {
  return html`<span${attrs({ class: `tag tag-${tone}`, title })}>${text}</span>`;
}

const MISSING_LABELS: Record<DispatchGap["kind"], string> = {
  waiting: "waiting",
  never_reported: "never reported",
  dispatch_failed: "dispatch failed",
  not_dispatched: "not dispatched",
  not_expected: "event sent",
};

/** Why a dispatched backend has no results (history rows' and PR boxes' `missing.kind`). */
export function missingLabel(kind: DispatchGap["kind"]): string {
  return MISSING_LABELS[kind];
}

/** "never reported: <detail>". */
export function missingExplanation(gap: DispatchGap): SafeHtml {
  return html`<strong>${missingLabel(gap.kind)}</strong>: ${gap.detail}`;
}

/** `<time>` showing "3h ago", with the absolute time as its tooltip. */
export function relativeTime(iso: string | null, ctx: PageContext): SafeHtml {
  if (iso === null) return html`${NA}`;
  return html`<time datetime="${iso}" title="${formatTime(iso)}">${formatRelative(iso, ctx.generatedAt)}</time>`;
}

/** `<time>` showing "11-29 14:03", with the absolute time as its tooltip. */
export function shortTime(iso: string): SafeHtml {
  return html`<time datetime="${iso}" title="${formatTime(iso)}">${formatShortTime(iso)}</time>`;
}

/** "Last 7 days: 2026-11-22 00:00 UTC – 2026-11-29 00:00 UTC". */
export function windowNote(window: TimeWindow): SafeHtml {
  return html`<p class="muted">Last ${window.days} day${window.days === 1 ? "" : "s"}: ${formatTime(window.from)} – ${formatTime(window.to)}. Counts use each job's latest attempt.</p>`;
}

/**
 * The verdict against the level's requirements, or "no requirements" when the level sets none (the
 * verdict is then "meets" for want of anything to fail, which would read as a judgement).
 */
export function judgement({ checks, verdict }: { checks: readonly unknown[]; verdict: Verdict }): SafeHtml {
  return checks.length === 0 && verdict === "meets" ? tag("no requirements", "muted", "this level sets no requirements to judge it by") : verdictBadge(verdict);
}

/** A "nothing here" note (class empty: the demo's test finds none on its pages). */
export function emptyNote(text: string): SafeHtml {
  return html`<p class="muted empty">${text}</p>`;
}

/** Marks a backend that is still in the data but no longer in the allowlist. */
export function notInAllowlistTag(): SafeHtml {
  return tag("not in allowlist", "muted", "removed from the allowlist; shown while it has data in this window");
}
