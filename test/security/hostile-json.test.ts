// Hostile JSON from an authenticated downstream (anyone can mint an Actions OIDC token for an allowlisted
// repo they control): a nesting bomb inside the size cap and prototype-pollution keys. The relay answers
// with a specific 4xx, stays up, and no object in the process gains a property from the body.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dispatchedTicket, startCallbackRig, type CallbackRig } from "./callback-rig.js";

const BACKEND = "beta/tpu-backend";
let rig: CallbackRig;
let ticket: string;

beforeAll(async () => {
  rig = await startCallbackRig({ allowlist: `L4:\n  - ${BACKEND}: "@tpu-oncall"\n`, installations: { 12: [BACKEND] } });
  ticket = await dispatchedTicket(rig, "hostile-json");
});
afterAll(() => rig?.close());

async function post(body: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${rig.relay.url}/relay/callback`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${await rig.oidc.mint({ repository: BACKEND })}` },
    body,
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

function report(extra: string): string {
  return `{"schema_version":1,"ticket":"${ticket}","status":"in_progress","workflow":{"name":"ci","run_id":1,"run_attempt":1,"url":"https://ci.example.org/runs/1"},"job":{"name":"test"}${extra}}`;
}

describe("hostile JSON in callbacks", () => {
  it("answers a 400 000-deep nesting bomb inside the size cap with 400, and keeps serving", async () => {
    const depth = 400_000;
    const bomb = report(`,"environment":${"[".repeat(depth)}${"]".repeat(depth)}`);
    expect(bomb.length).toBeLessThan(1024 * 1024);
    const answer = await post(bomb);
    expect(answer.status).toBe(400);
    expect(String(answer.json.error)).toContain("environment");
    expect((await fetch(`${rig.relay.url}/healthz`)).status).toBe(200);
  });

  it("never lets __proto__ or constructor keys reach an object's prototype", async () => {
    const polluting = report(`,"__proto__":{"polluted":"yes"},"environment":{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}}}`);
    const answer = await post(polluting);
    expect([200, 400]).toContain(answer.status);
    // The relay runs in this process: a polluted Object.prototype would show here.
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((Object.prototype as Record<string, unknown>).polluted).toBeUndefined();
    // And it still takes a genuine report.
    expect((await post(report(""))).status).toBe(200);
  });
});
