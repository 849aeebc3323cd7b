// The optional downstream App (docs/security.md "Two Apps"): it alone holds contents: write and
// actions: write, and acts on downstream repos (dispatches, run cancellation, installation lookups);
// the primary App keeps the upstream and config repos with read and checks permissions only.
import { getPrivateKey } from "@probot/get-private-key";
import type { Logger } from "pino";
import { ProbotOctokit } from "probot";
import type { RelayConfig } from "../config.js";
import type { RelayMetrics } from "../metrics.js";
import type { GitHubClient } from "../github/client.js";
import { appInstallationClients, type InstallationClients } from "../github/installation-clients.js";
import { sameRepo } from "../github/repo-name.js";

export interface DownstreamApp {
  appId: number;
  /** Its installation clients and its own JWT client (no throttling or retries: the outbox paces). */
  clients: InstallationClients;
  /** Whether it, not the primary App, acts on `repo`: every repo but the upstream and config repos. */
  serves(repo: string): boolean;
}

/** The downstream App when DOWNSTREAM_APP_ID is set, else undefined (one App does everything). */
export function downstreamApp(config: RelayConfig, metrics: RelayMetrics, log: Logger): DownstreamApp | undefined {
  const settings = config.downstreamApp;
  if (!settings) return undefined;
  const privateKey = getPrivateKey({ env: { PRIVATE_KEY: settings.privateKey, PRIVATE_KEY_PATH: settings.privateKeyPath } });
  if (!privateKey) throw new Error("DOWNSTREAM_PRIVATE_KEY or DOWNSTREAM_PRIVATE_KEY_PATH must name the downstream App's key");
  const appClient: GitHubClient = new ProbotOctokit({
    baseUrl: config.github.apiBaseUrl,
    auth: { appId: settings.appId, privateKey },
    throttle: { enabled: false },
    retry: { enabled: false },
    log: log.child({ component: "downstream-app" }),
  });
  const primaryRepos = [config.upstream.repo, ...(config.allowlist.source.kind === "repo" ? [config.allowlist.source.repo] : [])];
  return {
    appId: settings.appId,
    clients: appInstallationClients(() => Promise.resolve(appClient), metrics),
    serves: (repo) => !primaryRepos.some((primary) => sameRepo(primary, repo)),
  };
}
