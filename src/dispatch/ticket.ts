// Relay-signed dispatch tickets: an HS256 JWT that binds one dispatch (delivery, downstream repo, upstream
// repo, PR, head sha, level) and expires. A callback presents it so the relay can trust those facts without
// believing the request body. Keys rotate: tokens carry a `kid` derived from the secret, and the previous
// secret keeps verifying until it is removed.
import { createHash } from "node:crypto";
import { createSecretKey, type KeyObject } from "node:crypto";
import { SignJWT, decodeProtectedHeader, errors, jwtVerify } from "jose";
import { z } from "zod";
import { LEVELS } from "../allowlist/types.js";
import type { Level } from "../allowlist/types.js";
import { isRepoSlug } from "../github/repo-name.js";
import { describeIssues } from "../validation/describe-issues.js";

export const TICKET_ISSUER = "cross-repo-ci-relay";
export const TICKET_AUDIENCE = "cross-repo-ci-relay/callback";
/** Real tickets are well under 1 KB; anything longer is refused before it is parsed. */
export const MAX_TICKET_LENGTH = 2048;
export const MIN_TICKET_SECRET_LENGTH = 32;

const ALGORITHM = "HS256";
const CLOCK_LEEWAY_SECONDS = 30;

export interface TicketClaims {
  /** X-GitHub-Delivery of the upstream webhook. */
  deliveryId: string;
  /** Lower-cased owner/repo the dispatch went to. */
  downstreamRepo: string;
  /** Lower-cased owner/repo the event came from. */
  upstreamRepo: string;
  /** Null for push. */
  prNumber: number | null;
  headSha: string;
  level: Level;
}

/** RELAY_TICKET_SECRET and RELAY_TICKET_SECRET_PREVIOUS. */
export interface TicketKeys {
  current: string;
  previous?: string;
}

export type TicketFailureReason = "malformed" | "bad_signature" | "expired" | "unknown_key" | "invalid_claims";

export type TicketVerification =
  | { ok: true; claims: TicketClaims }
  | { ok: false; reason: TicketFailureReason; message: string };

const LowerRepo = z
  .string()
  .refine((value) => isRepoSlug(value) && value === value.toLowerCase(), { message: "must be a lower-case owner/repo" });

const ClaimsSchema = z.object({
  jti: z.string().min(1).max(100),
  sub: LowerRepo,
  up: LowerRepo,
  pr: z.int().positive().nullable(),
  sha: z.string().regex(/^[0-9a-f]{40}$/, { message: "must be a 40-character lowercase hex sha" }),
  lvl: z.enum(LEVELS),
});

/** The ticket keys in force, from configuration (RELAY_TICKET_SECRET and its previous value). */
export function ticketKeys(config: { tickets: { secret: string; previousSecret?: string | undefined } }): TicketKeys {
  const { secret, previousSecret } = config.tickets;
  return { current: secret, ...(previousSecret && { previous: previousSecret }) };
}

/** The JWT `kid` of a secret: names the key without revealing it. */
export function ticketKeyId(secret: string): string {
  return createHash("sha256").update(secret).digest("hex").slice(0, 16);
}

export async function signTicket(
  claims: TicketClaims,
  keys: TicketKeys,
  options: { ttlSeconds: number; now?: Date },
): Promise<string> {
  checkSecret(keys.current, "current");
  if (!Number.isInteger(options.ttlSeconds) || options.ttlSeconds <= 0) {
    throw new Error(`ticket ttlSeconds must be a positive integer; got ${options.ttlSeconds}`);
  }
  const payload = ClaimsSchema.parse({
    jti: claims.deliveryId,
    sub: claims.downstreamRepo.toLowerCase(),
    up: claims.upstreamRepo.toLowerCase(),
    pr: claims.prNumber,
    sha: claims.headSha,
    lvl: claims.level,
  });
  const issuedAt = Math.floor((options.now ?? new Date()).getTime() / 1000);
  const { jti, sub, ...custom } = payload;
  return new SignJWT(custom)
    .setProtectedHeader({ alg: ALGORITHM, typ: "JWT", kid: ticketKeyId(keys.current) })
    .setIssuer(TICKET_ISSUER)
    .setAudience(TICKET_AUDIENCE)
    .setSubject(sub)
    .setJti(jti)
    .setIssuedAt(issuedAt)
    .setExpirationTime(issuedAt + options.ttlSeconds)
    .sign(secretKey(keys.current));
}

/** Verifies a ticket from an untrusted source. Throws only when `keys` themselves are invalid. */
export async function verifyTicket(token: string, keys: TicketKeys, options: { now?: Date } = {}): Promise<TicketVerification> {
  const secret = selectKey(token, keys);
  if (typeof secret !== "string") return secret;
  try {
    const { payload } = await jwtVerify(token, secretKey(secret), {
      algorithms: [ALGORITHM],
      issuer: TICKET_ISSUER,
      audience: TICKET_AUDIENCE,
      clockTolerance: CLOCK_LEEWAY_SECONDS,
      requiredClaims: ["exp", "iat", "jti", "sub"],
      ...(options.now && { currentDate: options.now }),
    });
    return toClaims(payload);
  } catch (error) {
    return failureFrom(error);
  }
}

// Picks the secret whose kid the token names; rejects anything not HS256 before touching a key.
function selectKey(token: string, keys: TicketKeys): string | TicketVerification {
  checkSecret(keys.current, "current");
  if (keys.previous !== undefined) checkSecret(keys.previous, "previous");
  if (typeof token !== "string" || token.length > MAX_TICKET_LENGTH) {
    return failure("malformed", `a ticket is a JWT of at most ${MAX_TICKET_LENGTH} characters`);
  }
  let header;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    return failure("malformed", "the ticket is not a JWT");
  }
  if (header.alg !== ALGORITHM) {
    return failure("bad_signature", `the ticket is signed with ${JSON.stringify(header.alg)}; only ${ALGORITHM} is accepted`);
  }
  const candidates = [keys.current, keys.previous].filter((key): key is string => key !== undefined);
  const secret = candidates.find((key) => ticketKeyId(key) === header.kid);
  return secret ?? failure("unknown_key", "the ticket was signed with a key the relay no longer has (or never had)");
}

function toClaims(payload: unknown): TicketVerification {
  const parsed = ClaimsSchema.safeParse(payload);
  if (!parsed.success) {
    return failure("invalid_claims", `the ticket's claims are invalid: ${describeIssues(parsed.error, "")}`);
  }
  const { jti, sub, up, pr, sha, lvl } = parsed.data;
  return {
    ok: true,
    claims: { deliveryId: jti, downstreamRepo: sub, upstreamRepo: up, prNumber: pr, headSha: sha, level: lvl },
  };
}

function failureFrom(error: unknown): TicketVerification {
  if (error instanceof errors.JWTExpired) return failure("expired", "the ticket has expired");
  if (error instanceof errors.JWSSignatureVerificationFailed || error instanceof errors.JOSEAlgNotAllowed) {
    return failure("bad_signature", "the ticket's signature does not verify");
  }
  if (error instanceof errors.JWTClaimValidationFailed) {
    return failure("invalid_claims", `the ticket's ${error.claim} claim is invalid: ${error.message}`);
  }
  return failure("malformed", error instanceof Error ? `the ticket is not a valid JWT: ${error.message}` : "the ticket is not a valid JWT");
}

function failure(reason: TicketFailureReason, message: string): TicketVerification {
  return { ok: false, reason, message };
}

function checkSecret(secret: string, which: string): void {
  if (secret.length < MIN_TICKET_SECRET_LENGTH) {
    throw new Error(`the ${which} ticket secret is ${secret.length} characters; use at least ${MIN_TICKET_SECRET_LENGTH}`);
  }
}

/** The HMAC keys made from the configured secrets (current and previous: a handful at most). */
const SECRET_KEYS = new Map<string, KeyObject>();
const MAX_SECRET_KEYS = 8;

/**
 * The secret as a key object, made once per secret: given raw bytes, jose imports a key on every sign
 * and verify, which profiling showed as a large share of a callback's cost (and of a fan-out's, one
 * ticket per downstream).
 */
function secretKey(secret: string): KeyObject {
  let key = SECRET_KEYS.get(secret);
  if (!key) {
    if (SECRET_KEYS.size >= MAX_SECRET_KEYS) SECRET_KEYS.clear();
    key = createSecretKey(Buffer.from(secret, "utf8"));
    SECRET_KEYS.set(secret, key);
  }
  return key;
}
