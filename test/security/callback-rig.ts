// The real relay with a GitHub stand-in and a local OIDC issuer, for security tests of callbacks: one
// setup for them all, and a PR dispatched to get a genuine ticket.
import { expect, vi } from "vitest";
import { webhookExample } from "../helpers/fixtures.js";
import { startGitHubStandIn, type GitHubStandIn } from "../helpers/github-stand-in.js";
import { startOidcIssuer, type OidcIssuer } from "../helpers/oidc-issuer.js";
import { deliver, startRelayAgainst, type RunningRelay } from "../helpers/server.js";

export const UPSTREAM = "Codertocat/Hello-World";

export interface CallbackRig {
  github: GitHubStandIn;
  oidc: OidcIssuer;
  relay: RunningRelay;
  close(): Promise<void>;
}

export interface RigOptions {
  allowlist: string;
  /** Installation id → repos (the upstream is installed as 1). */
  installations?: Record<number, string[]>;
  env?: Record<string, string>;
  /** Runs on the stand-in before the relay starts (scripts, delays). */
  prepare?: (github: GitHubStandIn) => void;
}

export async function startCallbackRig(options: RigOptions): Promise<CallbackRig> {
  const github = await startGitHubStandIn();
  const oidc = await startOidcIssuer();
  github.install(1, [UPSTREAM]);
  for (const [id, repos] of Object.entries(options.installations ?? {})) github.install(Number(id), repos);
  options.prepare?.(github);
  const relay = await startRelayAgainst(github, options.allowlist, { UPSTREAM_REPO: UPSTREAM, GITHUB_OIDC_ISSUER: oidc.issuer, ...options.env });
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
}

/** Delivers an opened PR (trusted author) and returns the ticket the first dispatch carried. */
export async function dispatchedTicket(rig: CallbackRig, delivery: string): Promise<string> {
  const pr = webhookExample("pull_request", (p) => p.action === "opened" && p.installation);
  pr.pull_request.author_association = "MEMBER";
  expect((await deliver(rig.relay, "pull_request", pr, delivery)).status).toBe(200);
  await vi.waitFor(() => expect(rig.github.find("POST", /\/dispatches$/).length).toBeGreaterThan(0), { timeout: 20_000, interval: 50 });
  return (rig.github.find("POST", /\/dispatches$/)[0]!.body as { client_payload: { ticket: string } }).client_payload.ticket;
}
