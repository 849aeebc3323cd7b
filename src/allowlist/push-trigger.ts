// Decides whether a push to the config repo calls for an allowlist reload (pure).

export interface PushFacts {
  ref: string;
  after: string;
  deleted: boolean;
  repository: { full_name: string; default_branch?: string };
  commits: ReadonlyArray<{ added?: string[]; modified?: string[]; removed?: string[] }>;
}

export interface AllowlistLocation {
  repo: string;
  path: string;
  /** Configured ref; undefined means the repo's default branch. */
  ref?: string;
}

// GitHub webhook push payloads list at most 2,048 commits (docs.github.com, "Webhook events and payloads":
// push). A list that long may be cut, and payloads replayed from Actions carry no file lists at all:
// in both cases the push may have touched the file, so reload (a 304 makes that cheap).
const MAX_LISTED_COMMITS = 2048;

/** The commit sha to reload the allowlist at, or undefined when the push cannot have changed it. */
export function allowlistReloadSha(push: PushFacts, target: AllowlistLocation): string | undefined {
  if (push.repository.full_name.toLowerCase() !== target.repo.toLowerCase() || push.deleted) return undefined;
  const branch = target.ref ?? push.repository.default_branch;
  if (branch === undefined || !refMatches(push.ref, branch)) return undefined;
  const listsFiles = push.commits.every((commit) => commit.added && commit.modified && commit.removed);
  if (!listsFiles || push.commits.length >= MAX_LISTED_COMMITS) return push.after;
  const touched = push.commits.some((commit) =>
    [commit.added, commit.modified, commit.removed].some((files) => files?.includes(target.path)),
  );
  return touched ? push.after : undefined;
}

function refMatches(pushedRef: string, configured: string): boolean {
  if (configured.startsWith("refs/")) return pushedRef === configured;
  return pushedRef === `refs/heads/${configured}` || pushedRef === `refs/tags/${configured}`;
}
