// The per-downstream audit trail: every callback outcome counted per verified repo, readable as JSON at
// /api/audit/callbacks and as relay_callback_outcomes_total on /metrics with a bounded repo label.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dispatchedTicket, startCallbackRig, UPSTREAM, type CallbackRig } from "./callback-rig.js";
import { signTicket } from "../../src/dispatch/ticket.js";

const TPU = "beta/tpu-backend";
let rig: CallbackRig;

beforeAll(async () => {
  rig = await startCallbackRig({ allowlist: `L4:\n  - ${TPU}: "@tpu-oncall"\n`, installations: { 12: [TPU] }, env: { RELAY_CALLBACK_RATE_LIMIT: "4" } });
});
afterAll(() => rig?.close());

async function post(body: unknown, token?: string): Promise<number> {
  const response = await fetch(`${rig.relay.url}/relay/callback`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token && { authorization: `Bearer ${token}` }) },
    body: JSON.stringify(body),
  });
  await response.arrayBuffer();
  return response.status;
}

const selfReport = {
  schema_version: 1,
  status: "completed",
  conclusion: "success",
  workflow: { name: "nightly", run_id: 900, run_attempt: 1, url: "https://ci.example.org/runs/900" },
  job: { name: "full suite" },
  nightly: { upstream_sha: "b".repeat(40), event: "nightly" },
};

const report = (ticket: string) => ({
  schema_version: 1,
  ticket,
  status: "in_progress",
  workflow: { name: "ci", run_id: 555, run_attempt: 1, url: "https://ci.example.org/runs/555" },
  job: { name: "test" },
});

describe("callback audit trail", () => {
  it("counts accepted, duplicate, bad-ticket, rate-limited, unlisted and unverified callbacks per repo", async () => {
    const ticket = await dispatchedTicket(rig, "audit-delivery");
    const token = await rig.oidc.mint({ repository: TPU });
    const forged = await signTicket(
      { deliveryId: "audit-delivery", downstreamRepo: TPU, upstreamRepo: UPSTREAM, prNumber: 2, headSha: "f".repeat(40), level: "L4" },
      { current: "an-attackers-secret-that-is-long-enough-000" },
      { ttlSeconds: 3600 },
    );
    const statuses = [
      await post(report(ticket), token),
      await post(report(ticket), token),
      await post(report(forged), token),
      await post(report(ticket), token),
      await post(report(ticket), token),
      await post(report(ticket)),
      await post(selfReport, await rig.oidc.mint({ repository: "stranger/repo" })),
    ];
    expect(statuses).toEqual([200, 200, 401, 200, 429, 401, 403]);

    const response = await fetch(`${rig.relay.url}/api/audit/callbacks?days=1`);
    expect(response.status).toBe(200);
    const today = new Date().toISOString().slice(0, 10);
    const audit = (await response.json()) as { days: number; from: string; to: string; repos: Array<Record<string, unknown>> };
    expect(audit).toMatchObject({ days: 1, from: today, to: today });
    expect(audit.repos).toEqual([
      {
        repo: TPU,
        total: 5,
        valid: 3,
        rejected: 2,
        outcomes: { accepted: 1, duplicate: 2, bad_ticket: 1, rate_limited: 1 },
        days: [{ day: today, outcomes: { accepted: 1, duplicate: 2, bad_ticket: 1, rate_limited: 1 } }],
      },
      expect.objectContaining({ repo: "(unverified)", total: 1, outcomes: { bad_token: 1 } }),
      expect.objectContaining({ repo: "stranger/repo", total: 1, outcomes: { not_allowlisted: 1 } }),
    ]);

    const metrics = await (await fetch(`${rig.relay.url}/metrics`)).text();
    expect(metrics).toContain(`relay_callback_outcomes_total{repo="${TPU}",outcome="accepted"} 1`);
    expect(metrics).toContain(`relay_callback_outcomes_total{repo="${TPU}",outcome="duplicate"} 2`);
    expect(metrics).toContain(`relay_callback_outcomes_total{repo="${TPU}",outcome="bad_ticket"} 1`);
    expect(metrics).toContain(`relay_callback_outcomes_total{repo="${TPU}",outcome="rate_limited"} 1`);
    expect(metrics).toContain('relay_callback_outcomes_total{repo="(unverified)",outcome="bad_token"} 1');
    expect(metrics).toContain('relay_callback_outcomes_total{repo="(other)",outcome="not_allowlisted"} 1');
    expect(metrics).not.toContain("stranger/repo");
  });

  it("answers a bad query 400 with the problem", async () => {
    const problems: Array<[string, string]> = [
      ["days=0", "days must be a whole number of days from 1 to 90"],
      ["days=91", "days must be a whole number of days from 1 to 90"],
      ["days=1.5", "days must be a whole number of days from 1 to 90"],
      ["days=abc", "days must be a whole number of days from 1 to 90"],
      ["days=1&days=2", "query parameter days is given more than once"],
      ["repo=x", "unknown query parameter repo; accepted: days"],
    ];
    for (const [query, error] of problems) {
      const response = await fetch(`${rig.relay.url}/api/audit/callbacks?${query}`);
      expect([query, response.status, await response.json()]).toEqual([query, 400, { error }]);
    }
    expect(((await (await fetch(`${rig.relay.url}/api/audit/callbacks`)).json()) as { days: number }).days).toBe(7);
  });
});
