// Who is calling /relay/callback: verifies the caller's OIDC token (GitHub Actions, optionally Buildkite)
// against trust anchors from configuration and names the owner/repo the caller speaks for. Never throws,
// never logs, and never echoes the token.
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, errors, jwtVerify } from "jose";
import type { CryptoKey, JWTPayload, JWTVerifyGetKey, ProtectedHeaderParameters } from "jose";
import { isRepoSlug } from "../github/repo-name.js";
import { DEFAULT_BUILDKITE_ISSUER, resolveBuildkiteRepo } from "./buildkite.js";
import type { BuildkiteSettings } from "./buildkite.js";

export { DEFAULT_BUILDKITE_ISSUER } from "./buildkite.js";
export type { BuildkitePipelineMapping, BuildkiteSettings } from "./buildkite.js";

/** Real Actions and Buildkite tokens are 1–2 KB; anything longer is refused before it is decoded. */
export const MAX_TOKEN_LENGTH = 8192;

const ALGORITHM = "RS256";
const CLOCK_TOLERANCE_SECONDS = 30;
const MAX_CLAIM_LENGTH = 256;

export interface OidcSettings {
  github: { issuer: string; audience: string };
  buildkite?: BuildkiteSettings;
}

export interface OidcVerifierOptions {
  /** JWKS fetch timeout; jose's default (5 s) when unset. */
  fetchTimeoutMs?: number;
  /** Minimum gap before an unknown `kid` triggers another JWKS fetch; jose's default (30 s) when unset. */
  cooldownMs?: number;
  now?: () => Date;
}

export type OidcProvider = "github" | "buildkite";

export interface OidcIdentity {
  /** Lower-cased owner/repo. */
  repo: string;
  provider: OidcProvider;
  /** The verified scalar claims (workflow, run_id, ref, sha, actor, …), for logging. */
  claims: Record<string, string | number>;
}

export type OidcFailureReason =
  | "missing_token"
  | "malformed_header"
  | "token_too_large"
  | "malformed_token"
  | "untrusted_issuer"
  | "algorithm_not_allowed"
  | "unknown_key"
  | "bad_signature"
  | "expired"
  | "not_yet_valid"
  | "wrong_audience"
  | "invalid_claims"
  | "pipeline_not_mapped"
  | "claim_not_allowed"
  | "jwks_unavailable";

export type OidcFailure = { ok: false; status: 401 | 403 | 503; reason: OidcFailureReason; message: string };
export type OidcResult = { ok: true; identity: OidcIdentity } | OidcFailure;

export interface OidcVerifier {
  verify(authorizationHeader: string | undefined): Promise<OidcResult>;
}

type RepoResolution = { ok: true; repo: string } | OidcFailure;

interface Provider {
  name: OidcProvider;
  label: string;
  issuer: string;
  audience: string;
  /** How a caller fixes a wrong audience. */
  audienceHint: string;
  jwksUrl: URL;
  keys: JWTVerifyGetKey;
  resolveRepo(claims: JWTPayload): RepoResolution;
}

/** Thrown by a provider's key resolver when its JWKS cannot be fetched: the relay's problem, not the caller's. */
class JwksUnavailable extends Error {}

const BEARER = /^Bearer +(\S+) *$/i;
// The signature may be empty so that `alg: none` tokens get the algorithm message rather than "not a JWT".
const COMPACT_JWT = /^[\w-]+\.[\w-]+\.[\w-]*$/;

export function createOidcVerifier(settings: OidcSettings, options: OidcVerifierOptions = {}): OidcVerifier {
  const providers = providersFrom(settings, options);
  return {
    async verify(authorizationHeader) {
      const token = bearerToken(authorizationHeader);
      if (typeof token !== "string") return token;
      const unverified = peek(token);
      if ("ok" in unverified) return unverified;
      // The unverified `iss` only picks which configured trust anchor to verify against; each provider
      // verifies with its own JWKS only, so a token can never borrow another provider's keys.
      const provider = providers.find((candidate) => candidate.issuer === unverified.claims.iss);
      if (!provider) return untrustedIssuer(unverified.claims.iss);
      return verifyWith(provider, token, unverified.header, options.now?.());
    },
  };
}

function providersFrom(settings: OidcSettings, options: OidcVerifierOptions): Provider[] {
  const github = settings.github;
  const providers: Provider[] = [
    {
      name: "github",
      label: "GitHub Actions",
      issuer: github.issuer,
      audience: github.audience,
      audienceHint: "set `audience` in the action",
      ...keySet(github.issuer, options),
      resolveRepo: githubRepo,
    },
  ];
  if (settings.buildkite) {
    const { issuer = DEFAULT_BUILDKITE_ISSUER, audience, pipelines } = settings.buildkite;
    providers.push({
      name: "buildkite",
      label: "Buildkite",
      issuer,
      audience,
      audienceHint: "pass `--audience` to `buildkite-agent oidc request-token`",
      ...keySet(issuer, options),
      resolveRepo: (claims) => resolveBuildkiteRepo(claims, pipelines),
    });
  }
  return providers;
}

// One remote set per provider for the verifier's lifetime: jose caches the keys and refetches on an
// unknown `kid` (at most once per cooldown), which is how key rotation is picked up.
function keySet(issuer: string, options: OidcVerifierOptions): { jwksUrl: URL; keys: JWTVerifyGetKey } {
  const jwksUrl = new URL(`${issuer.replace(/\/+$/, "")}/.well-known/jwks`);
  const remote = createRemoteJWKSet(jwksUrl, {
    timeoutDuration: options.fetchTimeoutMs,
    cooldownDuration: options.cooldownMs,
  });
  const keys = async (...args: Parameters<typeof remote>): Promise<CryptoKey> => {
    try {
      return await remote(...args);
    } catch (error) {
      // A kid the set does not hold is the token's fault; anything else means the set could not be had.
      if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) throw error;
      throw new JwksUnavailable(describe(error), { cause: error });
    }
  };
  return { jwksUrl, keys };
}

function bearerToken(header: string | undefined): string | OidcFailure {
  if (!header) {
    return deny(401, "missing_token", "missing Authorization header; send `Authorization: Bearer <OIDC token>`");
  }
  const token = BEARER.exec(header)?.[1];
  if (token === undefined) return deny(401, "malformed_header", "Authorization header must be `Bearer <OIDC token>`");
  if (token.length > MAX_TOKEN_LENGTH) {
    return deny(401, "token_too_large", `token is longer than ${MAX_TOKEN_LENGTH} characters`);
  }
  if (!COMPACT_JWT.test(token)) return deny(401, "malformed_token", "token is not a JWT");
  return token;
}

function peek(token: string): { header: ProtectedHeaderParameters; claims: JWTPayload } | OidcFailure {
  try {
    return { header: decodeProtectedHeader(token), claims: decodeJwt(token) };
  } catch {
    return deny(401, "malformed_token", "token is not a decodable JWT");
  }
}

function untrustedIssuer(iss: unknown): OidcFailure {
  if (typeof iss !== "string") return deny(401, "untrusted_issuer", "token has no iss claim");
  return deny(401, "untrusted_issuer", `token issuer ${printable(iss)} is not trusted`);
}

async function verifyWith(
  provider: Provider,
  token: string,
  header: ProtectedHeaderParameters,
  currentDate: Date | undefined,
): Promise<OidcResult> {
  let claims: JWTPayload;
  try {
    ({ payload: claims } = await jwtVerify(token, provider.keys, {
      issuer: provider.issuer,
      audience: provider.audience,
      // RS256 only: rules out `none` and HS256 signed with the public key (algorithm confusion).
      algorithms: [ALGORITHM],
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      // A token without exp would never expire.
      requiredClaims: ["exp"],
      currentDate,
    }));
  } catch (error) {
    return explain(error, provider, header);
  }
  const resolution = provider.resolveRepo(claims);
  if (!resolution.ok) return resolution;
  return { ok: true, identity: { repo: resolution.repo, provider: provider.name, claims: loggableClaims(claims) } };
}

function explain(error: unknown, provider: Provider, header: ProtectedHeaderParameters): OidcFailure {
  if (error instanceof JwksUnavailable) {
    return deny(
      503,
      "jwks_unavailable",
      `could not fetch the ${provider.label} OIDC signing keys from ${provider.jwksUrl.href} (${error.message}); try again later`,
    );
  }
  if (error instanceof errors.JWTExpired) return deny(401, "expired", "token expired");
  if (error instanceof errors.JWTClaimValidationFailed) return claimFailure(error.claim, provider);
  if (error instanceof errors.JOSEAlgNotAllowed) {
    return deny(401, "algorithm_not_allowed", `token must be signed with ${ALGORITHM}; got ${printable(header.alg)}`);
  }
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) {
    return deny(401, "unknown_key", `no ${provider.label} signing key matches the token's kid ${printable(header.kid)}`);
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return deny(401, "bad_signature", "token signature verification failed");
  }
  return deny(401, "malformed_token", "token is not a valid JWT");
}

function claimFailure(claim: string, provider: Provider): OidcFailure {
  switch (claim) {
    case "aud":
      return deny(401, "wrong_audience", `token audience must be ${provider.audience}; ${provider.audienceHint}`);
    case "nbf":
      return deny(401, "not_yet_valid", "token is not valid yet (nbf is in the future)");
    case "exp":
      return deny(401, "invalid_claims", "token has no exp claim");
    default:
      return deny(401, "invalid_claims", `token claim ${printable(claim)} is invalid`);
  }
}

function githubRepo(claims: JWTPayload): RepoResolution {
  const { repository } = claims;
  if (repository === undefined) return deny(401, "invalid_claims", "token has no repository claim");
  if (typeof repository !== "string" || !isRepoSlug(repository)) {
    return deny(401, "invalid_claims", "token repository claim is not an owner/repo name");
  }
  return { ok: true, repo: repository.toLowerCase() };
}

// Scalar claims only, each capped: enough to log who ran what without echoing an arbitrary payload.
function loggableClaims(claims: JWTPayload): Record<string, string | number> {
  const scalar: Record<string, string | number> = {};
  for (const [name, value] of Object.entries(claims)) {
    if (typeof value === "string") scalar[name] = value.slice(0, MAX_CLAIM_LENGTH);
    else if (typeof value === "number") scalar[name] = value;
  }
  return scalar;
}

function deny(status: OidcFailure["status"], reason: OidcFailureReason, message: string): OidcFailure {
  return { ok: false, status, reason, message };
}

function printable(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value.slice(0, 100)) : String(value);
}

function describe(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = error instanceof Error ? (error.cause as { code?: unknown } | undefined)?.code : undefined;
  return (typeof code === "string" ? `${message}: ${code}` : message).slice(0, 200);
}
