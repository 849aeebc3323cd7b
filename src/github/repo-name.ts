// GitHub owner/repo names: the one place that knows their syntax.
import { z } from "zod";

// GitHub user and organization logins: alphanumerics and single hyphens, at most 39 characters.
const OWNER = /^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$/;
// Repository names: letters, digits, '.', '_' and '-', at most 100 characters; never "." or "..".
const REPO = /^(?!\.{1,2}$)[A-Za-z0-9._-]{1,100}$/;

export interface RepoName {
  owner: string;
  repo: string;
}

export function isRepoSlug(value: string): boolean {
  const parts = value.split("/");
  return parts.length === 2 && OWNER.test(parts[0] ?? "") && REPO.test(parts[1] ?? "");
}

export function parseRepoSlug(value: string): RepoName {
  if (!isRepoSlug(value)) throw new Error(`"${value}" is not an owner/repo name`);
  const [owner, repo] = value.split("/") as [string, string];
  return { owner, repo };
}

/** Compare as GitHub does: names are case-insensitive. */
export function sameRepo(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

export const RepoSlugSchema = z
  .string()
  .refine(isRepoSlug, { message: "must be an owner/repo name such as pytorch/pytorch" });
