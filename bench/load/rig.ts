// The relay under load: the real server in this process (test/helpers/server.ts) against the GitHub
// stand-in and a local OIDC issuer (test/security/callback-rig.ts), with L4 backends that are all installed,
// PR webhooks from @octokit/webhooks-examples, genuine dispatch tickets and valid callbacks.
import { webhookExample, type Payload } from "../../test/helpers/fixtures.js";
import { WEBHOOK_SECRET } from "../../test/helpers/server.js";
import { startCallbackRig, type CallbackRig } from "../../test/security/callback-rig.js";
import { waitFor } from "./drivers.js";
import { deliverWebhook, prVariant } from "./requests.js";

export type { CallbackRig };
export { WEBHOOK_SECRET };

/** Limits out of the way: the benchmark measures the relay's work, not its throttles. */
const LOAD_ENV = {
  RELAY_CALLBACK_RATE_LIMIT: "100000",
  RELAY_WRITES_PER_MINUTE: "10000",
  RELAY_WRITES_PER_HOUR: "100000",
};

export const backendRepo = (i: number) => `bench-org-${i}/accel-${i}`;

export interface RigSetup {
  /** L4 backends `backendRepo(0..downstreams-1)`, each installed on its own installation. */
  downstreams: number;
  /** The relay's DATA_DIR (default: a fresh temp dir). */
  dataDir?: string;
}

export function startLoadRig({ downstreams, dataDir }: RigSetup): Promise<CallbackRig> {
  const repos = Array.from({ length: downstreams }, (_, i) => backendRepo(i));
  const allowlist = `L4:\n${repos.map((repo) => `  - ${repo}: "@bench-oncall"\n`).join("")}`;
  return startCallbackRig({
    allowlist,
    installations: Object.fromEntries(repos.map((repo, i) => [100 + i, [repo]])),
    env: { ...LOAD_ENV, ...(dataDir && { DATA_DIR: dataDir }) },
  });
}

let deliveries = 0;

/** The pull_request webhook (opened, from @octokit/webhooks-examples) the bench's PR webhooks vary. */
export const prTemplate = (): Payload => webhookExample("pull_request", (p) => p.action === "opened" && p.installation !== undefined);

/** A pull_request webhook (trusted author) for PR `number` with a fresh head sha. */
export const prWebhook = (number: number, action: "opened" | "synchronize"): Payload => prVariant(prTemplate(), number, action);

/** Delivers `payload` with a new delivery id; resolves to the answer's status (times out). */
export const deliverPr = (rig: CallbackRig, payload: Payload): Promise<number> =>
  deliverWebhook(rig.relay.url, WEBHOOK_SECRET, "pull_request", payload, `bench-delivery-${++deliveries}`);

/** Opens `count` new PRs and returns the tickets of their dispatches to `repo`, one per PR. */
export async function dispatchTickets(rig: CallbackRig, repo: string, count: number, firstPr: number): Promise<string[]> {
  const sent = () => rig.github.find("POST", `/repos/${repo}/dispatches`).filter((request) => request.status === 204);
  const before = sent().length;
  for (let i = 0; i < count; i++) {
    const status = await deliverPr(rig, prWebhook(firstPr + i, "opened"));
    if (status !== 200) throw new Error(`setup webhook answered ${status}`);
  }
  await waitFor(`${count} dispatches to ${repo}`, () => sent().length >= before + count);
  return sent()
    .slice(before)
    .map((request) => (request.body as { client_payload: { ticket: string } }).client_payload.ticket);
}

/** An OIDC token for a workflow of `repo`, valid for the whole run. */
export const callbackToken = (rig: CallbackRig, repo: string) => rig.oidc.mint({ repository: repo }, { expiresIn: "30m" });
