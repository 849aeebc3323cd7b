// Does a commit exist in the upstream repo? Self-reports (nightly) name the sha they tested; the relay
// checks it with the upstream installation. What that costs is bounded: answers are cached (a found
// commit for a day, a missing one for 10 minutes), concurrent checks of one sha share one request,
// each reporting repo gets `lookupsPerHour` requests, and no check waits longer than `lookupTimeoutMs`.
// Whenever the relay cannot tell (budget used up, timeout, GitHub error), the answer is "unknown".
import type { Logger } from "pino";
import { httpStatus } from "../github/client.js";
import type { InstallationClients } from "../github/installation-clients.js";
import { parseRepoSlug } from "../github/repo-name.js";
import { SlidingWindowLimiter } from "../limits/sliding-window.js";
import type { InstallationDirectory } from "./directory.js";

export type CommitCheck = "exists" | "missing" | "unknown";

/** Checks `sha` on behalf of `reportingRepo` (the verified downstream repo, whose lookup budget is used). */
export type CommitChecker = (sha: string, reportingRepo: string) => Promise<CommitCheck>;

/** One GitHub lookup: "exists" or "missing"; throws for anything else. Must give up when `signal` aborts. */
export type CommitLookup = (sha: string, signal: AbortSignal) => Promise<"exists" | "missing">;

export interface CommitCheckOptions {
  lookupTimeoutMs: number;
  /** Per reporting repo. */
  lookupsPerHour: number;
  log: Pick<Logger, "warn" | "debug">;
  now?: () => number;
}

const HOUR_MS = 3_600_000;
const CACHE_LIMIT = 10_000;
// Commits are not removed from a repo in practice; a sha not there yet may be pushed soon.
const TTL_MS = { exists: 24 * HOUR_MS, missing: 10 * 60_000 } as const;

interface CachedAnswer {
  answer: "exists" | "missing";
  until: number;
}

export function commitChecker(lookup: CommitLookup, options: CommitCheckOptions): CommitChecker {
  const now = options.now ?? Date.now;
  const cache = new Map<string, CachedAnswer>();
  const inFlight = new Map<string, Promise<CommitCheck>>();
  const budget = new SlidingWindowLimiter<string>([{ ms: HOUR_MS, limit: options.lookupsPerHour }]);

  const cached = (sha: string): CommitCheck | undefined => {
    const hit = cache.get(sha);
    if (!hit) return undefined;
    cache.delete(sha);
    if (hit.until <= now()) return undefined;
    cache.set(sha, hit); // most recently used last
    return hit.answer;
  };
  const remember = (sha: string, answer: CommitCheck): void => {
    if (answer === "unknown") return;
    cache.set(sha, { answer, until: now() + TTL_MS[answer] });
    if (cache.size > CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
  };
  const ask = async (sha: string): Promise<CommitCheck> => {
    const answer = await withDeadline(lookup, sha, options.lookupTimeoutMs).catch((error: unknown) => {
      options.log.warn({ sha, err: String(error) }, "could not check an upstream commit; recording the report unverified");
      return "unknown" as const;
    });
    remember(sha, answer);
    return answer;
  };

  return (sha, reportingRepo) => {
    const known = cached(sha) ?? inFlight.get(sha);
    if (known) return Promise.resolve(known);
    if (budget.tryAcquire(reportingRepo, now()) > 0) {
      options.log.debug({ sha, reportingRepo }, "commit lookup budget used up; recording the report unverified");
      return Promise.resolve("unknown");
    }
    const pending = ask(sha).finally(() => inFlight.delete(sha));
    inFlight.set(sha, pending);
    return pending;
  };
}

/** The lookup's answer, or a rejection once `timeoutMs` has passed (the request is aborted then too). */
async function withDeadline(lookup: CommitLookup, sha: string, timeoutMs: number): Promise<"exists" | "missing"> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  // Raced as well as aborted: resolving the installation and its token cannot be aborted.
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      const error = new Error(`no answer from GitHub within ${timeoutMs} ms`);
      controller.abort(error);
      reject(error);
    }, timeoutMs);
  });
  try {
    return await Promise.race([lookup(sha, controller.signal), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** The checker for `upstreamRepo`, asking GitHub with the upstream installation's token. */
export function upstreamCommitChecker(
  clients: InstallationClients,
  installations: InstallationDirectory,
  upstreamRepo: string,
  options: CommitCheckOptions,
): CommitChecker {
  const { owner, repo } = parseRepoSlug(upstreamRepo);
  return commitChecker(async (sha, signal) => {
    const installationId = await installations.resolve(upstreamRepo);
    if (installationId === undefined) throw new Error(`the App is not installed on ${upstreamRepo}`);
    try {
      const client = await clients.get(installationId);
      await client.request("GET /repos/{owner}/{repo}/commits/{ref}", { owner, repo, ref: sha, request: { signal } });
      return "exists";
    } catch (error) {
      const status = httpStatus(error);
      // 422 is GitHub's answer for a sha that names no commit; 404 for one it does not have.
      if (status === 404 || status === 422) return "missing";
      throw error;
    }
  }, options);
}
