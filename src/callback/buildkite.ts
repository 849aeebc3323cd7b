// Buildkite as a second OIDC provider: a verified Buildkite token names a pipeline, and a configured table
// says which owner/repo that pipeline speaks for. Pure; signature checks happen in oidc.ts.

export const DEFAULT_BUILDKITE_ISSUER = "https://agent.buildkite.com";

export interface BuildkitePipelineMapping {
  organizationId: string;
  pipelineId: string;
  /** The owner/repo this pipeline speaks for. */
  repo: string;
  /** Claims that must hold one of the listed values, e.g. `{ build_branch: ["main"] }`. */
  requiredClaims?: Readonly<Record<string, readonly string[]>>;
}

export interface BuildkiteSettings {
  /** Defaults to {@link DEFAULT_BUILDKITE_ISSUER}. */
  issuer?: string;
  audience: string;
  pipelines: readonly BuildkitePipelineMapping[];
}

export type BuildkiteResolution =
  | { ok: true; repo: string }
  | { ok: false; status: 401 | 403; reason: "invalid_claims" | "pipeline_not_mapped" | "claim_not_allowed"; message: string };

/** The lower-cased owner/repo a verified Buildkite token speaks for, or why it speaks for none. */
export function resolveBuildkiteRepo(
  claims: Record<string, unknown>,
  pipelines: readonly BuildkitePipelineMapping[],
): BuildkiteResolution {
  const organizationId = claims.organization_id;
  const pipelineId = claims.pipeline_id;
  if (typeof organizationId !== "string" || typeof pipelineId !== "string") {
    return { ok: false, status: 401, reason: "invalid_claims", message: "Buildkite token has no organization_id/pipeline_id claims" };
  }
  // Keyed by the immutable ids: slugs can be renamed, or re-registered by someone else after a rename.
  const mapping = pipelines.find((entry) => entry.organizationId === organizationId && entry.pipelineId === pipelineId);
  if (!mapping) {
    return {
      ok: false,
      status: 403,
      reason: "pipeline_not_mapped",
      message: `Buildkite pipeline ${organizationId}/${pipelineId}${slugHint(claims)} is not mapped to a repository`,
    };
  }
  return checkRequiredClaims(claims, mapping.requiredClaims ?? {}) ?? { ok: true, repo: mapping.repo.toLowerCase() };
}

function checkRequiredClaims(
  claims: Record<string, unknown>,
  required: Readonly<Record<string, readonly string[]>>,
): BuildkiteResolution | undefined {
  for (const [claim, allowed] of Object.entries(required)) {
    const value = claims[claim];
    const actual = typeof value === "string" || typeof value === "number" ? String(value) : undefined;
    if (actual === undefined || !allowed.includes(actual)) {
      const got = actual === undefined ? "it is missing" : `got ${JSON.stringify(actual.slice(0, 100))}`;
      return {
        ok: false,
        status: 403,
        reason: "claim_not_allowed",
        message: `Buildkite claim ${claim} must be one of ${allowed.join(", ")}; ${got}`,
      };
    }
  }
  return undefined;
}

// Slugs only help an operator recognise the pipeline when writing the mapping; they never select it.
function slugHint(claims: Record<string, unknown>): string {
  const { organization_slug: org, pipeline_slug: pipeline } = claims;
  return typeof org === "string" && typeof pipeline === "string" ? ` (${org}/${pipeline})`.slice(0, 200) : "";
}
