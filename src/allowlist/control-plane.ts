// Wires the allowlist into the app: where it is read from, what reloads it, and the config-repo PR check.
import type { Probot } from "probot";
import type { RelayConfig } from "../config.js";
import { repoClientProvider, type RepoClientProvider } from "../github/client.js";
import { parseRepoSlug, sameRepo } from "../github/repo-name.js";
import type { RelayMetrics } from "../metrics.js";
import { fileFetcher } from "./file-fetcher.js";
import { checkAllowlistPullRequest, type ChangeReviewer } from "./pr-check.js";
import { allowlistReloadSha, type AllowlistLocation } from "./push-trigger.js";
import { repoFetcher } from "./repo-fetcher.js";
import { AllowlistSource, type AllowlistFetcher } from "./source.js";

export interface ControlPlaneOptions {
  config: RelayConfig;
  metrics: RelayMetrics;
  /**
   * False under `probot receive` (e.g. a workflow step in the config repo): then nothing polls in the
   * background, and an invalid allowlist fails the handler so the step fails too.
   */
  serverMode: boolean;
  /** Reviews a valid allowlist PR beyond its syntax (the promoted backends' health); none: syntax and diff only. */
  review?: ChangeReviewer;
}

export function setUpAllowlist(app: Probot, options: ControlPlaneOptions): AllowlistSource {
  const { config, metrics } = options;
  const location = config.allowlist.source;
  const newSource = (fetcher: AllowlistFetcher) =>
    new AllowlistSource(fetcher, {
      log: app.log.child({ component: "allowlist" }),
      metrics,
      refreshSeconds: config.allowlist.refreshSeconds,
      parse: { torchci: config.profile.torchciAllowlist },
    });
  if (location.kind === "file") return newSource(fileFetcher(location.file));

  const configRepo = repoClientProvider(app, location.repo);
  const source = newSource(
    repoFetcher({
      repo: parseRepoSlug(location.repo),
      path: location.path,
      ...(location.ref && { ref: location.ref }),
      client: () => configRepo.get(),
    }),
  );
  handleConfigRepoEvents(app, source, configRepo, location, options);
  return source;
}

function handleConfigRepoEvents(
  app: Probot,
  source: AllowlistSource,
  configRepo: RepoClientProvider,
  location: AllowlistLocation,
  { config, metrics, serverMode, review }: ControlPlaneOptions,
): void {
  app.on("push", async (context) => {
    const sha = allowlistReloadSha(context.payload, location);
    if (sha === undefined) return;
    if (context.payload.installation) configRepo.remember(context.payload.installation.id);
    await source.reload(`push ${sha.slice(0, 12)}`, sha);
  });

  // `installation` and `installation_repositories` reach every App without subscribing: the first
  // moment the config repo becomes readable is a good moment to load from it.
  app.on(["installation.created", "installation_repositories.added"], async (context) => {
    const added =
      "repositories_added" in context.payload ? context.payload.repositories_added : (context.payload.repositories ?? []);
    if (!added.some((repo) => sameRepo(repo.full_name, location.repo))) return;
    configRepo.remember(context.payload.installation.id);
    await source.reload("installed on the config repo");
  });

  // A review can change the outcome (L4 approvers): the check runs again on each one, and on each dismissal.
  app.on(["pull_request.opened", "pull_request.reopened", "pull_request.synchronize", "pull_request_review.submitted", "pull_request_review.dismissed"], async (context) => {
    const { pull_request: pr, repository } = context.payload;
    if (!sameRepo(repository.full_name, location.repo)) return;
    const result = await checkAllowlistPullRequest(
      context.octokit,
      { owner: repository.owner.login, repo: repository.name, number: pr.number, headSha: pr.head.sha, baseSha: pr.base.sha },
      location.path,
      context.log,
      { ...(review && { review }), l4Approvers: config.allowlist.l4Approvers, parse: { torchci: config.profile.torchciAllowlist } },
    );
    metrics.allowlistChecks.inc({ conclusion: result.conclusion });
    if (!serverMode && result.conclusion === "failure") {
      throw new Error(`allowlist check failed: ${result.title}`);
    }
  });
}
