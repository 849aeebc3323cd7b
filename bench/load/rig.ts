// The relay under load: its real server in a child process of its own (bench/relay-process.ts, as in
// production, so its CPU time and memory are measured alone) against the GitHub stand-in and a local OIDC
// issuer in this process, with L4 backends that are all installed, PR webhooks from
// @octokit/webhooks-examples, genuine dispatch tickets and valid callbacks.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { webhookExample, type Payload } from "../../test/helpers/fixtures.js";
import { startGitHubStandIn, type GitHubStandIn } from "../../test/helpers/github-stand-in.js";
import { startOidcIssuer, type OidcIssuer } from "../../test/helpers/oidc-issuer.js";
import { testPrivateKey } from "../../test/helpers/probot.js";
import { freePort, TICKET_SECRET, WEBHOOK_SECRET } from "../../test/helpers/server.js";
import { UPSTREAM } from "../../test/security/callback-rig.js";
import { RELAY_HOST, startRelayProcess, type RelayProcess } from "../relay-process.js";
import { waitFor } from "./drivers.js";
import { deliverWebhook, prVariant } from "./requests.js";

export { WEBHOOK_SECRET };

/** Limits out of the way: the benchmark measures the relay's work, not its throttles. */
const LOAD_ENV = {
  RELAY_CALLBACK_RATE_LIMIT: "100000",
  RELAY_WRITES_PER_MINUTE: "10000",
  RELAY_WRITES_PER_HOUR: "100000",
};

export interface LoadRig {
  github: GitHubStandIn;
  oidc: OidcIssuer;
  relay: RelayProcess;
  close(): Promise<void>;
}

export const backendRepo = (i: number) => `bench-org-${i}/accel-${i}`;

export interface RigSetup {
  /** L4 backends `backendRepo(0..downstreams-1)`, each installed on its own installation. */
  downstreams: number;
  /** The relay's DATA_DIR (default: a fresh temp dir). */
  dataDir?: string;
  /** The repository root (the relay runs lib/server/main.js from it). */
  root: string;
}

/** The installed backends and the allowlist naming them (L4), in `dir`. */
export function installBackends(github: GitHubStandIn, downstreams: number, dir: string): string {
  const repos = Array.from({ length: downstreams }, (_, i) => backendRepo(i));
  github.install(1, [UPSTREAM]);
  for (const [i, repo] of repos.entries()) github.install(100 + i, [repo]);
  const allowlist = path.join(dir, "allowlist.yml");
  writeFileSync(allowlist, `L4:\n${repos.map((repo) => `  - ${repo}: "@bench-oncall"\n`).join("")}`);
  return allowlist;
}

/** The environment of a relay process against the rig's GitHub stand-in and OIDC issuer. */
export function relayEnv(rig: { github: GitHubStandIn; oidc: OidcIssuer }, allowlist: string, port: number, dataDir: string): Record<string, string> {
  return {
    APP_ID: "1",
    PRIVATE_KEY: testPrivateKey(),
    WEBHOOK_SECRET,
    RELAY_TICKET_SECRET: TICKET_SECRET,
    DATA_DIR: dataDir,
    ALLOWLIST_FILE: allowlist,
    GHE_HOST: rig.github.host,
    GHE_PROTOCOL: "http",
    UPSTREAM_REPO: UPSTREAM,
    GITHUB_OIDC_ISSUER: rig.oidc.issuer,
    RELAY_PUBLIC_URL: `http://${RELAY_HOST}:${port}`,
    RELAY_REDELIVERY_MINUTES: "0",
    RELAY_RECONCILE_MINUTES: "0",
    ...LOAD_ENV,
  };
}

export async function startLoadRig({ downstreams, dataDir, root }: RigSetup): Promise<LoadRig> {
  const github = await startGitHubStandIn();
  const oidc = await startOidcIssuer();
  const dir = mkdtempSync(path.join(tmpdir(), "relay-load-rig-"));
  const allowlist = installBackends(github, downstreams, dir);
  const port = await freePort();
  try {
    const relay = await startRelayProcess({ root, dir, port, env: relayEnv({ github, oidc }, allowlist, port, dataDir ?? path.join(dir, "data")) });
    return {
      github,
      oidc,
      relay,
      async close() {
        await relay.stop();
        await github.close();
        await oidc.close();
      },
    };
  } catch (error) {
    await github.close();
    await oidc.close();
    throw error;
  }
}

let deliveries = 0;

/** The pull_request webhook (opened, from @octokit/webhooks-examples) the bench's PR webhooks vary. */
export const prTemplate = (): Payload => webhookExample("pull_request", (p) => p.action === "opened" && p.installation !== undefined);

/** A pull_request webhook (trusted author) for PR `number` with a fresh head sha. */
export const prWebhook = (number: number, action: "opened" | "synchronize"): Payload => prVariant(prTemplate(), number, action);

/** Delivers `payload` with a new delivery id; resolves to the answer's status (times out). */
export const deliverPr = (rig: LoadRig, payload: Payload): Promise<number> =>
  deliverWebhook(rig.relay.url, WEBHOOK_SECRET, "pull_request", payload, `bench-delivery-${++deliveries}`);

/** Opens `count` new PRs and returns the tickets of their dispatches to `repo`, one per PR. */
export async function dispatchTickets(rig: LoadRig, repo: string, count: number, firstPr: number): Promise<string[]> {
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
export const callbackToken = (rig: LoadRig, repo: string) => rig.oidc.mint({ repository: repo }, { expiresIn: "30m" });
