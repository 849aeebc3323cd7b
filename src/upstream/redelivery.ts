// Missed-delivery recovery: GitHub keeps an App's webhook deliveries for 3 days and can redeliver them
// (REST "Webhooks for GitHub Apps": list deliveries, redeliver). Deliveries that never succeeded, for
// events the relay handles, and that the relay never accepted, are asked for again. Redeliveries reuse
// the delivery id, so the store's idempotency makes a repeat harmless.
import type { Logger } from "pino";
import type { GitHubClient } from "../github/client.js";
import type { RelayMetrics } from "../metrics.js";

const LOOKBACK_MS = 3 * 24 * 3_600_000;
/** The original attempt plus two redeliveries: a delivery that failed that often needs a person. */
const MAX_ATTEMPTS_PER_DELIVERY = 3;

export interface DeliverySummary {
  id: number;
  guid: string;
  event: string;
  status_code: number;
  delivered_at: string;
  redelivery: boolean;
}

export interface RedeliveryOptions {
  /** Events the relay handles; others are never redelivered. */
  events: ReadonlySet<string>;
  /** Events redelivered only after every other pick (oldest first within each group). */
  last?: ReadonlySet<string>;
  /** At most this many redelivery requests per pass. */
  maxPerPass: number;
  /** Was this delivery id accepted by the relay already? */
  accepted: (guid: string) => Promise<boolean>;
  log: Logger;
  metrics: RelayMetrics;
  now?: () => number;
}

/** Picks the deliveries to redeliver (pure): newest attempt id per guid that never succeeded. */
export function deliveriesToRedeliver(
  deliveries: readonly DeliverySummary[],
  options: Pick<RedeliveryOptions, "events" | "last" | "maxPerPass"> & { accepted: (guid: string) => boolean },
): DeliverySummary[] {
  const byGuid = new Map<string, DeliverySummary[]>();
  for (const delivery of deliveries) {
    byGuid.set(delivery.guid, [...(byGuid.get(delivery.guid) ?? []), delivery]);
  }
  const picked: DeliverySummary[] = [];
  for (const [guid, attempts] of byGuid) {
    if (!options.events.has(attempts[0]?.event ?? "")) continue;
    if (attempts.some((attempt) => attempt.status_code >= 200 && attempt.status_code < 300)) continue;
    if (attempts.length >= MAX_ATTEMPTS_PER_DELIVERY || options.accepted(guid)) continue;
    const newest = attempts.reduce((a, b) => (Date.parse(b.delivered_at) > Date.parse(a.delivered_at) ? b : a));
    picked.push(newest);
  }
  const group = (delivery: DeliverySummary) => (options.last?.has(delivery.event) ? 1 : 0);
  return picked.sort((a, b) => group(a) - group(b) || Date.parse(a.delivered_at) - Date.parse(b.delivered_at)).slice(0, options.maxPerPass);
}

/** One recovery pass with the App's client (JWT). Returns how many redeliveries were requested. */
export async function redeliverMissed(app: GitHubClient, options: RedeliveryOptions): Promise<number> {
  const since = (options.now ?? Date.now)() - LOOKBACK_MS;
  const deliveries: DeliverySummary[] = [];
  for await (const page of app.paginate.iterator("GET /app/hook/deliveries", { per_page: 100 })) {
    const recent = (page.data as DeliverySummary[]).filter((delivery) => Date.parse(delivery.delivered_at) >= since);
    deliveries.push(...recent);
    // Newest first: once a page reaches past the window, older pages are of no use.
    if (recent.length < page.data.length) break;
  }
  const accepted = new Set<string>();
  for (const guid of new Set(deliveries.map((delivery) => delivery.guid))) if (await options.accepted(guid)) accepted.add(guid);
  const picked = deliveriesToRedeliver(deliveries, { ...options, accepted: (guid) => accepted.has(guid) });
  let requested = 0;
  for (const delivery of picked) {
    try {
      await app.request("POST /app/hook/deliveries/{delivery_id}/attempts", { delivery_id: delivery.id });
      requested += 1;
      options.metrics.redeliveries.inc({ outcome: "requested" });
    } catch (error) {
      options.metrics.redeliveries.inc({ outcome: "error" });
      options.log.warn({ guid: delivery.guid, err: String(error) }, "redelivery request failed");
    }
  }
  if (picked.length > 0) options.log.info({ requested, candidates: picked.length }, "asked GitHub to redeliver missed webhooks");
  return requested;
}
