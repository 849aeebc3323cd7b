// Does a commit exist in the upstream repo? Self-reports (nightly) name the sha they tested; the relay
// checks it with the upstream installation. Answers are cached both ways; an outage answers "unknown".
import type { Logger } from "pino";
import { httpStatus } from "../github/client.js";
import type { InstallationClients } from "../github/installation-clients.js";
import { parseRepoSlug } from "../github/repo-name.js";
import type { InstallationDirectory } from "./installations.js";

export type CommitCheck = "exists" | "missing" | "unknown";

const CACHE_LIMIT = 10_000;

export function upstreamCommitChecker(
  clients: InstallationClients,
  installations: InstallationDirectory,
  upstreamRepo: string,
  log: Logger,
): (sha: string) => Promise<CommitCheck> {
  const known = new Map<string, CommitCheck>();
  const { owner, repo } = parseRepoSlug(upstreamRepo);
  return async (sha) => {
    const cached = known.get(sha);
    if (cached) return cached;
    let answer: CommitCheck;
    try {
      const installationId = await installations.resolve(upstreamRepo);
      if (installationId === undefined) return "unknown";
      await (await clients.get(installationId)).request("GET /repos/{owner}/{repo}/commits/{ref}", { owner, repo, ref: sha });
      answer = "exists";
    } catch (error) {
      const status = httpStatus(error);
      // 422 is GitHub's answer for a sha that names no commit; 404 for one it does not have.
      if (status !== 404 && status !== 422) {
        log.warn({ sha, err: String(error) }, "could not check an upstream commit; recording the report unverified");
        return "unknown";
      }
      answer = "missing";
    }
    if (known.size >= CACHE_LIMIT) known.delete(known.keys().next().value as string);
    known.set(sha, answer);
    return answer;
  };
}
