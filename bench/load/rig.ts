// The relay under load: the real server in this process (test/helpers/server.ts) against the GitHub
// stand-in and a local OIDC issuer (test/security/callback-rig.ts), with L4 backends that are all installed,
// PR webhooks from @octokit/webhooks-examples, genuine dispatch tickets and valid callbacks.
import { randomBytes } from "node:crypto";
import { webhookExample, type Payload } from "../../test/helpers/fixtures.js";
import { deliver } from "../../test/helpers/server.js";
import { startCallbackRig, type CallbackRig } from "../../test/security/callback-rig.js";
import { REQUEST_TIMEOUT_MS, waitFor } from "./drivers.js";

export type { CallbackRig };

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

/** A pull_request webhook (trusted author) for PR `number` with a fresh head sha. */
export function prWebhook(number: number, action: "opened" | "synchronize"): Payload {
  const pr = webhookExample("pull_request", (p) => p.action === "opened" && p.installation !== undefined);
  const pull = pr.pull_request as { number: number; head: { sha: string }; author_association: string };
  pr.action = action;
  pr.number = number;
  pull.number = number;
  pull.head.sha = randomBytes(20).toString("hex");
  pull.author_association = "MEMBER";
  return pr;
}

/** Delivers `payload` with a new delivery id; resolves to the answer's status (times out). */
export async function deliverPr(rig: CallbackRig, payload: Payload): Promise<number> {
  const answer = await withTimeout(deliver(rig.relay, "pull_request", payload, `bench-delivery-${++deliveries}`));
  await answer.arrayBuffer();
  return answer.status;
}

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

export interface JobReport {
  ticket: string;
  runId: number;
  job: string;
  status: "in_progress" | "completed";
}

/** POSTs a valid callback for `repo` (token from the rig's issuer); resolves to the status (times out). */
export async function postCallback(rig: CallbackRig, token: string, report: JobReport): Promise<number> {
  const body = {
    schema_version: 1,
    ticket: report.ticket,
    status: report.status,
    ...(report.status === "completed" && { conclusion: report.runId % 10 === 0 ? "failure" : "success" }),
    workflow: { name: "ci", run_id: report.runId, run_attempt: 1, url: `https://ci.example.org/runs/${report.runId}` },
    job: { name: report.job },
  };
  const answer = await withTimeout(
    fetch(`${rig.relay.url}/relay/callback`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    }),
  );
  await answer.arrayBuffer();
  return answer.status;
}

/** An OIDC token for a workflow of `repo`, valid for the whole run. */
export const callbackToken = (rig: CallbackRig, repo: string) => rig.oidc.mint({ repository: repo }, { expiresIn: "30m" });

/** The seq-th report of a client that reports jobs one after another: each job in_progress, then completed. */
export function nthReport(ticket: string, client: number, seq: number): JobReport {
  const job = Math.floor(seq / 2);
  return { ticket, runId: 1 + client * 1_000_000 + job, job: `test (${client}, ${job})`, status: seq % 2 === 0 ? "in_progress" : "completed" };
}

function withTimeout<T>(promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error("no answer in time"), { name: "TimeoutError" })), REQUEST_TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
