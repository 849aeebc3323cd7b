import { SignJWT, base64url, decodeJwt, decodeProtectedHeader } from "jose";
import { createHash, createHmac, generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  TICKET_AUDIENCE,
  TICKET_ISSUER,
  signTicket,
  ticketKeyId,
  verifyTicket,
} from "../../src/dispatch/ticket.js";
import type { TicketClaims, TicketKeys } from "../../src/dispatch/ticket.js";

const OLD = "o".repeat(32) + "-old-secret";
const CURRENT = "c".repeat(32) + "-current-secret";
const STRANGER = "s".repeat(32) + "-someone-else";

const keys: TicketKeys = { current: CURRENT };
const NOW = new Date("2026-01-15T12:00:00Z");
const later = (seconds: number) => new Date(NOW.getTime() + seconds * 1000);

const prClaims: TicketClaims = {
  deliveryId: "72d3162e-cc78-11e3-81ab-4c9367dc0958",
  downstreamRepo: "Ascend/PyTorch-NPU",
  upstreamRepo: "PyTorch/PyTorch",
  prNumber: 12345,
  headSha: "ec26c3e57ca3a959ca5aad62de7213c562f8c821",
  level: "L3",
};

const sign = (claims = prClaims, signingKeys = keys, ttlSeconds = 3600) =>
  signTicket(claims, signingKeys, { ttlSeconds, now: NOW });

// Signs arbitrary claims with CURRENT's kid, bypassing signTicket's own checks.
async function forge(payload: Record<string, unknown>, secret = CURRENT, alg = "HS256"): Promise<string> {
  const issuedAt = Math.floor(NOW.getTime() / 1000);
  return new SignJWT({ up: "pytorch/pytorch", pr: 1, sha: "a".repeat(40), lvl: "L2", ...payload })
    .setProtectedHeader({ alg, kid: ticketKeyId(CURRENT) })
    .setIssuedAt(issuedAt)
    .setExpirationTime(issuedAt + 600)
    .setSubject("org/repo")
    .setJti("delivery")
    .sign(new TextEncoder().encode(secret));
}

/** A token with CURRENT's header and kid whose payload segment is `json`, correctly signed. */
function forgeRaw(json: string): string {
  const header = base64url.encode(JSON.stringify({ alg: "HS256", kid: ticketKeyId(CURRENT) }));
  const signingInput = `${header}.${base64url.encode(json)}`;
  return `${signingInput}.${createHmac("sha256", CURRENT).update(signingInput).digest("base64url")}`;
}

function withHeader(token: string, header: Record<string, unknown>): string {
  const [, payload, signature] = token.split(".");
  return [base64url.encode(JSON.stringify(header)), payload, signature].join(".");
}

describe("signTicket / verifyTicket", () => {
  it("round-trips the claims, with repos lower-cased", async () => {
    const result = await verifyTicket(await sign(), keys, { now: later(60) });
    expect(result).toEqual({
      ok: true,
      claims: { ...prClaims, downstreamRepo: "ascend/pytorch-npu", upstreamRepo: "pytorch/pytorch" },
    });
  });

  it("restores a null PR number for push", async () => {
    const result = await verifyTicket(await sign({ ...prClaims, prNumber: null, level: "L1" }), keys, { now: NOW });
    expect(result).toMatchObject({ ok: true, claims: { prNumber: null, level: "L1" } });
  });

  it("writes the standard claims and a kid that does not reveal the secret", async () => {
    const token = await sign();
    const header = decodeProtectedHeader(token);
    const expectedKid = createHash("sha256").update(CURRENT).digest("hex").slice(0, 16);
    expect(header).toMatchObject({ alg: "HS256", kid: expectedKid });
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({
      iss: TICKET_ISSUER,
      aud: TICKET_AUDIENCE,
      sub: "ascend/pytorch-npu",
      jti: prClaims.deliveryId,
      iat: NOW.getTime() / 1000,
      exp: NOW.getTime() / 1000 + 3600,
    });
  });

  it("expires, with 30 seconds of leeway", async () => {
    const token = await sign(prClaims, keys, 60);
    expect((await verifyTicket(token, keys, { now: later(85) })).ok).toBe(true);
    expect(await verifyTicket(token, keys, { now: later(95) })).toMatchObject({ ok: false, reason: "expired" });
    // Signed an hour ago with a short ttl, checked against the real clock.
    const stale = await signTicket(prClaims, keys, { ttlSeconds: 5, now: new Date(Date.now() - 3600_000) });
    expect(await verifyTicket(stale, keys)).toMatchObject({ ok: false, reason: "expired" });
  });

  describe("key rotation", () => {
    it("accepts a ticket signed with the old key once it becomes the previous key", async () => {
      const token = await sign(prClaims, { current: OLD });
      const result = await verifyTicket(token, { current: CURRENT, previous: OLD }, { now: NOW });
      expect(result.ok).toBe(true);
    });

    it("rejects a ticket whose key is neither current nor previous", async () => {
      const token = await sign(prClaims, { current: STRANGER });
      const result = await verifyTicket(token, { current: CURRENT, previous: OLD }, { now: NOW });
      expect(result).toMatchObject({ ok: false, reason: "unknown_key" });
    });

    it("rejects a ticket without a kid as signed with an unknown key", async () => {
      const token = withHeader(await sign(), { alg: "HS256" });
      expect(await verifyTicket(token, keys, { now: NOW })).toMatchObject({ ok: false, reason: "unknown_key" });
    });
  });

  describe("tampering", () => {
    it("rejects a changed payload", async () => {
      const [header, payload, signature] = (await sign()).split(".") as [string, string, string];
      const claims = JSON.parse(new TextDecoder().decode(base64url.decode(payload)));
      const forged = base64url.encode(JSON.stringify({ ...claims, pr: 1 }));
      const result = await verifyTicket([header, forged, signature].join("."), keys, { now: NOW });
      expect(result).toMatchObject({ ok: false, reason: "bad_signature" });
    });

    it("rejects a flipped payload character", async () => {
      const token = await sign();
      const [header, payload, signature] = token.split(".") as [string, string, string];
      const index = payload.length - 10;
      const flipped = payload.slice(0, index) + (payload[index] === "A" ? "B" : "A") + payload.slice(index + 1);
      const result = await verifyTicket([header, flipped, signature].join("."), keys, { now: NOW });
      expect(result).toMatchObject({ ok: false, reason: "bad_signature" });
    });

    it("rejects alg none with the signature stripped", async () => {
      const [, payload] = (await sign()).split(".");
      const header = base64url.encode(JSON.stringify({ alg: "none", kid: ticketKeyId(CURRENT) }));
      const result = await verifyTicket(`${header}.${payload}.`, keys, { now: NOW });
      expect(result).toMatchObject({ ok: false, reason: "bad_signature" });
    });

    it("rejects HS512 even with the right secret", async () => {
      const result = await verifyTicket(await forge({}, CURRENT, "HS512"), keys, { now: NOW });
      expect(result).toMatchObject({ ok: false, reason: "bad_signature" });
      expect(!result.ok && result.message).toContain("HS512");
    });

    it("rejects an RS256 token", async () => {
      const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
      const issuedAt = Math.floor(NOW.getTime() / 1000);
      const token = await new SignJWT({ up: "pytorch/pytorch", pr: 1, sha: "a".repeat(40), lvl: "L2" })
        .setProtectedHeader({ alg: "RS256", kid: ticketKeyId(CURRENT) })
        .setIssuer(TICKET_ISSUER)
        .setAudience(TICKET_AUDIENCE)
        .setIssuedAt(issuedAt)
        .setExpirationTime(issuedAt + 600)
        .sign(privateKey);
      expect(await verifyTicket(token, keys, { now: NOW })).toMatchObject({ ok: false, reason: "bad_signature" });
    });

    it("rejects a token signed with another secret under the right kid", async () => {
      const token = await forge({ iss: TICKET_ISSUER, aud: TICKET_AUDIENCE }, STRANGER);
      expect(await verifyTicket(token, keys, { now: NOW })).toMatchObject({ ok: false, reason: "bad_signature" });
    });
  });

  describe("claims", () => {
    it.each([
      ["audience", { iss: TICKET_ISSUER, aud: "someone-else" }],
      ["issuer", { iss: "someone-else", aud: TICKET_AUDIENCE }],
      ["missing audience", { iss: TICKET_ISSUER }],
    ])("rejects a wrong %s", async (_case, claims) => {
      const result = await verifyTicket(await forge(claims), keys, { now: NOW });
      expect(result).toMatchObject({ ok: false, reason: "invalid_claims" });
    });

    it.each([
      ["sha", { sha: "not-a-sha" }],
      ["level", { lvl: "L9" }],
      ["PR number", { pr: "12" }],
      ["upstream repo", { up: "Not/Lower" }],
    ])("rejects a well-signed ticket with a bad %s", async (_case, claims) => {
      const token = await forge({ iss: TICKET_ISSUER, aud: TICKET_AUDIENCE, ...claims });
      const result = await verifyTicket(token, keys, { now: NOW });
      expect(result).toMatchObject({ ok: false, reason: "invalid_claims" });
    });
  });

  describe("format", () => {
    it("verifies a ticket as jose signed it before the relay signed with node:crypto (tickets in flight across an upgrade)", async () => {
      const issuedAt = Math.floor(NOW.getTime() / 1000);
      const token = await new SignJWT({ up: "pytorch/pytorch", pr: 12345, sha: prClaims.headSha, lvl: "L3" })
        .setProtectedHeader({ alg: "HS256", typ: "JWT", kid: ticketKeyId(CURRENT) })
        .setIssuer(TICKET_ISSUER)
        .setAudience(TICKET_AUDIENCE)
        .setSubject("ascend/pytorch-npu")
        .setJti(prClaims.deliveryId)
        .setIssuedAt(issuedAt)
        .setExpirationTime(issuedAt + 600)
        .sign(new TextEncoder().encode(CURRENT));
      expect(await verifyTicket(token, keys, { now: NOW })).toEqual({
        ok: true,
        claims: { ...prClaims, downstreamRepo: "ascend/pytorch-npu", upstreamRepo: "pytorch/pytorch" },
      });
    });

    it("rejects critical header parameters it does not implement", async () => {
      const token = withHeader(await sign(), { alg: "HS256", kid: ticketKeyId(CURRENT), crit: ["b64"], b64: false });
      expect(await verifyTicket(token, keys, { now: NOW })).toMatchObject({ ok: false, reason: "malformed" });
    });

    it("rejects a truncated signature and one that is not base64url", async () => {
      const token = await sign();
      expect(await verifyTicket(token.slice(0, -4), keys, { now: NOW })).toMatchObject({ ok: false, reason: "bad_signature" });
      expect(await verifyTicket(`${token.slice(0, -1)}=`, keys, { now: NOW })).toMatchObject({ ok: false, reason: "bad_signature" });
    });

    it("rejects a well-signed payload that is not a JSON object", async () => {
      expect(await verifyTicket(forgeRaw("[1,2]"), keys, { now: NOW })).toMatchObject({ ok: false, reason: "malformed" });
    });

    it("rejects a not-before in the future, with 30 seconds of leeway", async () => {
      const nbf = Math.floor(NOW.getTime() / 1000) + 60;
      const token = await forge({ iss: TICKET_ISSUER, aud: TICKET_AUDIENCE, nbf });
      expect(await verifyTicket(token, keys, { now: NOW })).toMatchObject({ ok: false, reason: "invalid_claims" });
      expect(await verifyTicket(token, keys, { now: later(31) })).toMatchObject({ ok: true });
    });
  });

  describe("bad input", () => {
    it.each(["", "garbage", "a.b.c", "x".repeat(5000), `${"a".repeat(10)}..`])("reports %j as malformed", async (token) => {
      expect(await verifyTicket(token, keys, { now: NOW })).toMatchObject({ ok: false, reason: "malformed" });
    });

    it("never throws for a non-string token", async () => {
      const result = await verifyTicket(undefined as unknown as string, keys);
      expect(result).toMatchObject({ ok: false, reason: "malformed" });
    });
  });

  describe("signing", () => {
    it("refuses invalid claims, a short secret and a bad ttl", async () => {
      await expect(sign({ ...prClaims, headSha: "abc" })).rejects.toThrow();
      await expect(sign({ ...prClaims, downstreamRepo: "nope" })).rejects.toThrow();
      await expect(sign(prClaims, { current: "short" })).rejects.toThrow(/at least 32/);
      await expect(sign(prClaims, keys, 0)).rejects.toThrow(/ttlSeconds/);
    });
  });
});
