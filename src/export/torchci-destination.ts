// The crcr export to torchci's results API (TORCHCI_RESULTS_URL, e.g. https://hud.pytorch.org/api/crcr/results):
// one record per request, as the API takes them, sent one after the other in queue order and paced, with
// the API token in `x-hud-internal-bot`. torchci applies a record as a DynamoDB update of its row, so a record
// sent twice (crash before it left the queue) changes nothing.
//
// An answer about the record itself (400, 413, 422) sets it aside with the answer; any other failure (no
// answer, timeout, 5xx, 429, 401/403: the token, 404/405: the URL, a redirect, which is not followed so the
// token never goes elsewhere) keeps it and every later record queued, and the exporter retries with backoff.
import { setTimeout as delay } from "node:timers/promises";
import type { BatchEnd, CrcrDestination, ExportItem, Settle } from "./destination.js";
import { torchciEnvelope } from "./torchci-envelope.js";

/** torchci's refusals of a record's content. */
const REFUSED_STATUSES = new Set([400, 413, 422]);
/** Of torchci's answer, this much is kept with a set-aside row or in the log. */
const MAX_ANSWER_LENGTH = 500;

export interface TorchciDestinationOptions {
  url: string;
  /** Secret: sent in the header only, never logged. */
  token: string;
  /** Rows read from the store at a time (each is still one request). */
  batchRows: number;
  /** Least time between two requests' starts (default 100 ms: at most 10 a second). */
  paceMs?: number;
  /** One request's timeout (default 10 s, as the production relay's). */
  timeoutMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<unknown>;
}

type Answer = { kind: "accepted" } | { kind: "refused" | "failed"; reason: string };

export class TorchciDestination implements CrcrDestination {
  readonly kind = "torchci";
  readonly batchRows: number;
  #nextAt = 0;

  constructor(private readonly options: TorchciDestinationOptions) {
    this.batchRows = options.batchRows;
  }

  async deliver(items: readonly ExportItem[], settle: Settle, signal: AbortSignal): Promise<BatchEnd> {
    for (const item of items) {
      if (signal.aborted) return { kind: "retry", error: "stopped" };
      await this.#pace();
      const answer = await this.#post(item, signal);
      if (answer.kind === "failed") return { kind: "retry", error: answer.reason };
      if (answer.kind === "accepted") await settle.accepted([item]);
      else await settle.refused(item, answer.reason);
    }
    return { kind: "done" };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  async #pace(): Promise<void> {
    const now = (this.options.now ?? Date.now)();
    const wait = this.#nextAt - now;
    if (wait > 0) await (this.options.sleep ?? delay)(wait);
    this.#nextAt = Math.max(now, this.#nextAt) + (this.options.paceMs ?? 100);
  }

  async #post(item: ExportItem, stop: AbortSignal): Promise<Answer> {
    let response: Response;
    try {
      response = await fetch(this.options.url, {
        method: "POST",
        headers: { "content-type": "application/json", "x-hud-internal-bot": this.options.token },
        body: JSON.stringify(torchciEnvelope(item.row)),
        redirect: "manual",
        signal: AbortSignal.any([stop, AbortSignal.timeout(this.options.timeoutMs ?? 10_000)]),
      });
    } catch (error) {
      return { kind: "failed", reason: networkError(error) };
    }
    if (response.ok) {
      await response.body?.cancel();
      return { kind: "accepted" };
    }
    const text = await response.text().catch(() => "");
    const reason = `torchci answered HTTP ${response.status}${text === "" ? "" : `: ${text.slice(0, MAX_ANSWER_LENGTH)}`}`;
    if (REFUSED_STATUSES.has(response.status)) return { kind: "refused", reason };
    if (response.status >= 300 && response.status < 400) return { kind: "failed", reason: `${reason} (a redirect, not followed: set TORCHCI_RESULTS_URL to where it points)` };
    return { kind: "failed", reason };
  }
}

/** fetch's "fetch failed" with its cause (ECONNREFUSED, …), or the timeout. */
function networkError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${(error.cause as Error & { code?: string }).code ?? error.cause.message}` : "";
  return `could not reach torchci (${error.message}${cause})`;
}
