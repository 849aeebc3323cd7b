// Relay-signed dispatch tickets: an HS256 JWT that binds one dispatch (delivery, downstream repo, upstream
// repo, PR, head sha, level) and expires. A callback presents it so the relay can trust those facts without
// believing the request body. Keys rotate: tokens carry a `kid` derived from the secret, and the previous
// secret keeps verifying until it is removed.
import { createHash, createHmac, createSecretKey, timingSafeEqual, type KeyObject } from "node:crypto";
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
  const { key, header } = keyOf(keys.current);
  const body = { ...payload, iss: TICKET_ISSUER, aud: TICKET_AUDIENCE, iat: issuedAt, exp: issuedAt + options.ttlSeconds };
  const signingInput = `${header}.${Buffer.from(JSON.stringify(body), "utf8").toString("base64url")}`;
  return Promise.resolve(`${signingInput}.${createHmac("sha256", key).update(signingInput).digest("base64url")}`);
}

/** Verifies a ticket from an untrusted source. Throws only when `keys` themselves are invalid. */
export async function verifyTicket(token: string, keys: TicketKeys, options: { now?: Date } = {}): Promise<TicketVerification> {
  return Promise.resolve(verifyNow(token, keys, options.now ?? new Date()));
}

// A compact JWS (RFC 7515) checked with node:crypto, synchronously: jose goes through WebCrypto, whose
// every HMAC is a job on libuv's thread pool (~100 µs against ~4 µs here), paid once per downstream
// in a webhook's fan-out and once per callback. The format is the one jose wrote before, so tickets in
// flight across an upgrade keep verifying.
function verifyNow(token: string, keys: TicketKeys, now: Date): TicketVerification {
  const secret = selectKey(token, keys);
  if (typeof secret !== "string") return secret;
  const [header, payload, signature] = token.split(".") as [string, string, string];
  const expected = createHmac("sha256", keyOf(secret).key).update(`${header}.${payload}`).digest();
  if (!BASE64URL.test(signature) || !constantTimeEqual(expected, Buffer.from(signature, "base64url"))) {
    return failure("bad_signature", "the ticket's signature does not verify");
  }
  const claims = decodeSegment(payload);
  if (claims === undefined || typeof claims !== "object" || claims === null || Array.isArray(claims)) {
    return failure("malformed", "the ticket's payload is not a JSON object");
  }
  const standard = StandardClaims.safeParse(claims);
  if (!standard.success) return failure("invalid_claims", `the ticket's claims are invalid: ${describeIssues(standard.error, "")}`);
  const seconds = Math.floor(now.getTime() / 1000);
  if (standard.data.exp <= seconds - CLOCK_LEEWAY_SECONDS) return failure("expired", "the ticket has expired");
  if (standard.data.nbf !== undefined && standard.data.nbf > seconds + CLOCK_LEEWAY_SECONDS) {
    return failure("invalid_claims", "the ticket's nbf claim is in the future");
  }
  return toClaims(claims);
}

/** iss, aud, exp, iat (required), nbf (optional): what jose's jwtVerify checked for tickets. */
const NumericDate = z.number().finite();
const StandardClaims = z.object({
  iss: z.literal(TICKET_ISSUER),
  aud: z.union([z.literal(TICKET_AUDIENCE), z.array(z.string()).refine((audiences) => audiences.includes(TICKET_AUDIENCE), { message: `must include ${TICKET_AUDIENCE}` })]),
  exp: NumericDate,
  iat: NumericDate,
  nbf: NumericDate.optional(),
});

const BASE64URL = /^[A-Za-z0-9_-]*$/;

function decodeSegment(segment: string): unknown {
  if (!BASE64URL.test(segment)) return undefined;
  try {
    return JSON.parse(Buffer.from(segment, "base64url").toString("utf8")) as unknown;
  } catch {
    return undefined;
  }
}

function constantTimeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

// Picks the secret whose kid the token names; rejects anything not HS256 before touching a key.
function selectKey(token: string, keys: TicketKeys): string | TicketVerification {
  checkSecret(keys.current, "current");
  if (keys.previous !== undefined) checkSecret(keys.previous, "previous");
  if (typeof token !== "string" || token.length > MAX_TICKET_LENGTH) {
    return failure("malformed", `a ticket is a JWT of at most ${MAX_TICKET_LENGTH} characters`);
  }
  const segments = token.split(".");
  const header = segments.length === 3 ? decodeSegment(segments[0]!) : undefined;
  if (typeof header !== "object" || header === null || Array.isArray(header) || segments[1] === "") {
    return failure("malformed", "the ticket is not a JWT");
  }
  const { alg, kid, crit } = header as Record<string, unknown>;
  if (alg !== ALGORITHM) {
    return failure("bad_signature", `the ticket is signed with ${JSON.stringify(alg)}; only ${ALGORITHM} is accepted`);
  }
  // Extensions the relay does not implement (RFC 7515 4.1.11) make a ticket unverifiable, as in jose.
  if (crit !== undefined) return failure("malformed", "the ticket names critical header parameters; tickets have none");
  const candidates = [keys.current, keys.previous].filter((key): key is string => key !== undefined);
  const secret = candidates.find((key) => ticketKeyId(key) === kid);
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

function failure(reason: TicketFailureReason, message: string): TicketVerification {
  return { ok: false, reason, message };
}

function checkSecret(secret: string, which: string): void {
  if (secret.length < MIN_TICKET_SECRET_LENGTH) {
    throw new Error(`the ${which} ticket secret is ${secret.length} characters; use at least ${MIN_TICKET_SECRET_LENGTH}`);
  }
}

/** A secret's HMAC key object and the protected header (base64url) of the tickets it signs. */
interface SigningKey {
  key: KeyObject;
  header: string;
}

/** Made once per configured secret (current and previous: a handful at most). */
const SIGNING_KEYS = new Map<string, SigningKey>();
const MAX_SIGNING_KEYS = 8;

function keyOf(secret: string): SigningKey {
  let signing = SIGNING_KEYS.get(secret);
  if (!signing) {
    if (SIGNING_KEYS.size >= MAX_SIGNING_KEYS) SIGNING_KEYS.clear();
    const header = { alg: ALGORITHM, typ: "JWT", kid: ticketKeyId(secret) };
    signing = { key: createSecretKey(Buffer.from(secret, "utf8")), header: Buffer.from(JSON.stringify(header), "utf8").toString("base64url") };
    SIGNING_KEYS.set(secret, signing);
  }
  return signing;
}
