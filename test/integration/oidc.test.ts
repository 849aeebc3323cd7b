// Callback authentication against real loopback JWKS servers: GitHub Actions and Buildkite tokens, the
// classic JWT attacks, key rotation, and a JWKS that is down.
import { createServer } from "node:net";
import type { AddressInfo, Server, Socket } from "node:net";
import { generateKeyPair } from "jose";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createOidcVerifier } from "../../src/callback/oidc.js";
import type { OidcResult, OidcSettings, OidcVerifierOptions } from "../../src/callback/oidc.js";
import { BUILDKITE_CLAIMS, TEST_AUDIENCE, startOidcIssuer } from "../helpers/oidc-issuer.js";
import type { OidcIssuer } from "../helpers/oidc-issuer.js";

const BUILDKITE_AUDIENCE = "https://relay.example.test/buildkite";

let github: OidcIssuer;
let buildkite: OidcIssuer;
let stranger: OidcIssuer;

beforeAll(async () => {
  [github, buildkite, stranger] = await Promise.all([startOidcIssuer(), startOidcIssuer(), startOidcIssuer()]);
});
afterAll(async () => {
  await Promise.all([github.close(), buildkite.close(), stranger.close()]);
});

function settings(githubIssuer = github.issuer): OidcSettings {
  return {
    github: { issuer: githubIssuer, audience: TEST_AUDIENCE },
    buildkite: {
      issuer: buildkite.issuer,
      audience: BUILDKITE_AUDIENCE,
      pipelines: [
        {
          organizationId: BUILDKITE_CLAIMS.organization_id,
          pipelineId: BUILDKITE_CLAIMS.pipeline_id,
          repo: "Acme/Accel-Nightly",
          requiredClaims: { build_branch: ["main", "release"] },
        },
      ],
    },
  };
}

const verifier = (options: OidcVerifierOptions = {}) => createOidcVerifier(settings(), options);
const bearer = (token: string) => `Bearer ${token}`;

function expectFailure(result: OidcResult, status: number, reason: string, message?: RegExp | string) {
  expect(result).toMatchObject({ ok: false, status, reason });
  if (message !== undefined && !result.ok) expect(result.message).toMatch(message);
}

describe("GitHub Actions tokens", () => {
  it("verifies a token and names the lower-cased repository, with its scalar claims for logging", async () => {
    const token = await github.mint({ groups: ["not", "scalar"] });

    const result = await verifier().verify(bearer(token));

    expect(result).toEqual({
      ok: true,
      identity: {
        repo: "acme/accel-backend",
        provider: "github",
        claims: expect.objectContaining({
          repository: "Acme/accel-backend",
          workflow: "pytorch-pr",
          run_id: "9876543210",
          ref: "refs/heads/main",
          actor: "octocat",
          iss: github.issuer,
          aud: TEST_AUDIENCE,
        }),
      },
    });
    if (result.ok) expect(result.identity.claims).not.toHaveProperty("groups");
  });

  it("accepts an audience array that contains the relay's audience and a lower-case bearer scheme", async () => {
    const token = await github.mint({}, { audience: ["something-else", TEST_AUDIENCE] });

    expect((await verifier().verify(`bearer  ${token}`)).ok).toBe(true);
  });

  it("names the expected audience when the token was requested for another", async () => {
    const token = await github.mint({}, { audience: "https://github.com/acme" });

    expectFailure(
      await verifier().verify(bearer(token)),
      401,
      "wrong_audience",
      "token audience must be cross-repo-ci-relay; set `audience` in the action",
    );
  });

  it("refuses a token from an issuer that is not configured, without fetching anything from it", async () => {
    const token = await stranger.mint();
    const fetchesBefore = stranger.jwksRequests;

    expectFailure(await verifier().verify(bearer(token)), 401, "untrusted_issuer", `token issuer "${stranger.issuer}" is not trusted`);
    expect(stranger.jwksRequests).toBe(fetchesBefore);
  });

  it("refuses a token that claims the trusted issuer but is signed with another issuer's key", async () => {
    const strangerToken = await stranger.mint({}, { issuer: github.issuer });
    const reusedKid = await stranger.mint({}, { issuer: github.issuer, kid: github.kid });
    const verify = verifier();

    expectFailure(await verify.verify(bearer(strangerToken)), 401, "unknown_key", /no GitHub Actions signing key matches/);
    expectFailure(await verify.verify(bearer(reusedKid)), 401, "bad_signature");
  });

  it("refuses an expired token beyond the 30 s leeway and accepts one within it", async () => {
    const expired = await github.mint({}, { expiresIn: -45, notBefore: -600 });
    const justExpired = await github.mint({}, { expiresIn: -10, notBefore: -600 });
    const verify = verifier();

    expectFailure(await verify.verify(bearer(expired)), 401, "expired", "token expired");
    expect((await verify.verify(bearer(justExpired))).ok).toBe(true);
  });

  it("judges time by the injected clock", async () => {
    const token = await github.mint({}, { expiresIn: "5m" });
    const inTenMinutes = () => new Date(Date.now() + 10 * 60_000);

    expectFailure(await verifier({ now: inTenMinutes }).verify(bearer(token)), 401, "expired");
  });

  it("refuses a token that is not valid yet", async () => {
    const token = await github.mint({}, { notBefore: "2m" });

    expectFailure(await verifier().verify(bearer(token)), 401, "not_yet_valid", /nbf/);
  });

  it("refuses a token without an expiry", async () => {
    const token = await github.mint({ exp: undefined });

    expectFailure(await verifier().verify(bearer(token)), 401, "invalid_claims", "token has no exp claim");
  });

  it("refuses a token without a repository claim, or with one that is not owner/repo", async () => {
    const verify = verifier();
    const missing = await github.mint({ repository: undefined });
    const malformed = await github.mint({ repository: "acme" });

    expectFailure(await verify.verify(bearer(missing)), 401, "invalid_claims", "token has no repository claim");
    expectFailure(await verify.verify(bearer(malformed)), 401, "invalid_claims", /not an owner\/repo/);
  });
});

describe("algorithm attacks", () => {
  it("refuses an unsigned `alg: none` token before fetching any key", async () => {
    const verify = verifier();
    const fetchesBefore = github.jwksRequests;

    expectFailure(await verify.verify(bearer(github.mintUnsigned())), 401, "algorithm_not_allowed", 'must be signed with RS256; got "none"');
    expect(github.jwksRequests).toBe(fetchesBefore);
  });

  it.each(["pem", "jwk"] as const)("refuses HS256 keyed with the public key's %s (algorithm confusion)", async (form) => {
    const token = await github.mintWithPublicKeyAsSecret({}, form);

    expectFailure(await verifier().verify(bearer(token)), 401, "algorithm_not_allowed", 'got "HS256"');
  });

  it("refuses other asymmetric algorithms such as ES256", async () => {
    const { privateKey } = await generateKeyPair("ES256");
    const token = await github.mint({}, { alg: "ES256", key: privateKey });

    expectFailure(await verifier().verify(bearer(token)), 401, "algorithm_not_allowed", 'got "ES256"');
  });
});

describe("malformed Authorization headers", () => {
  it.each([
    ["no header", undefined, "missing_token"],
    ["an empty header", "", "missing_token"],
    ["another scheme", "Basic dXNlcjpwYXNz", "malformed_header"],
    ["a bare scheme", "Bearer", "malformed_header"],
    ["two tokens", "Bearer a.b.c d.e.f", "malformed_header"],
    ["garbage", "Bearer not-a-jwt", "malformed_token"],
    ["two segments", "Bearer abc.def", "malformed_token"],
    ["undecodable segments", "Bearer aaaa.bbbb.cccc", "malformed_token"],
    ["an oversize token", `Bearer ${"a".repeat(9000)}.b.c`, "token_too_large"],
  ])("answers 401 for %s", async (_name, header, reason) => {
    const result = await verifier().verify(header);

    expectFailure(result, 401, reason);
    if (!result.ok) expect(result.message.length).toBeLessThan(200);
  });

  it("refuses a validly signed token that is larger than 8 KB", async () => {
    const token = await github.mint({ padding: "x".repeat(8192) });

    expectFailure(await verifier().verify(bearer(token)), 401, "token_too_large", /8192/);
  });

  it("never echoes the token in a failure", async () => {
    const verify = verifier();
    const tokens = [
      await github.mint({}, { audience: "other" }),
      await github.mint({}, { expiresIn: -120 }),
      await github.mint({ repository: undefined }),
      await stranger.mint(),
    ];

    for (const token of tokens) {
      const result = await verify.verify(bearer(token));
      expect(result.ok).toBe(false);
      for (const segment of token.split(".")) expect(JSON.stringify(result)).not.toContain(segment);
    }
  });
});

describe("key rotation", () => {
  let issuer: OidcIssuer;
  beforeEach(async () => {
    issuer = await startOidcIssuer();
  });
  afterEach(async () => {
    await issuer.close();
  });

  const rotatingVerifier = (options: OidcVerifierOptions) => createOidcVerifier(settings(issuer.issuer), options);

  it("refetches the JWKS for an unknown kid and accepts tokens signed with the rotated key", async () => {
    const verify = rotatingVerifier({ cooldownMs: 0 });
    const oldToken = await issuer.mint();
    expect((await verify.verify(bearer(oldToken))).ok).toBe(true);
    expect((await verify.verify(bearer(await issuer.mint()))).ok).toBe(true);
    expect(issuer.jwksRequests).toBe(1);

    await issuer.rotate({ keepOld: false });
    const result = await verify.verify(bearer(await issuer.mint()));

    expect(result.ok).toBe(true);
    expect(issuer.jwksRequests).toBe(2);
    expectFailure(await verify.verify(bearer(oldToken)), 401, "unknown_key");
  });

  it("keeps accepting the old key while the issuer still publishes it", async () => {
    const verify = rotatingVerifier({ cooldownMs: 0 });
    const oldToken = await issuer.mint();
    await verify.verify(bearer(oldToken));

    await issuer.rotate();

    expect((await verify.verify(bearer(await issuer.mint()))).ok).toBe(true);
    expect((await verify.verify(bearer(oldToken))).ok).toBe(true);
  });

  it("does not refetch for unknown kids during the cooldown", async () => {
    const verify = rotatingVerifier({ cooldownMs: 60_000 });
    await verify.verify(bearer(await issuer.mint()));

    await issuer.rotate();
    const sprayed = await Promise.all(
      Array.from({ length: 5 }, async (_, index) => verify.verify(bearer(await issuer.mint({}, { kid: `random-${index}` })))),
    );
    const rotated = await verify.verify(bearer(await issuer.mint()));

    for (const result of sprayed) expectFailure(result, 401, "unknown_key", /kid "random-\d"/);
    expectFailure(rotated, 401, "unknown_key");
    expect(issuer.jwksRequests).toBe(1);
  });
});

describe("an unavailable JWKS", () => {
  let unhandled: unknown[];
  const record = (reason: unknown) => unhandled.push(reason);
  beforeEach(() => {
    unhandled = [];
    process.on("unhandledRejection", record);
  });
  afterEach(() => {
    process.off("unhandledRejection", record);
    expect(unhandled).toEqual([]);
  });

  it("answers 503 while the JWKS answers 5xx, and recovers when it is back", async () => {
    const issuer = await startOidcIssuer();
    const verify = createOidcVerifier(settings(issuer.issuer), { cooldownMs: 0 });
    issuer.failJwks(502);

    const down = await verify.verify(bearer(await issuer.mint()));
    issuer.failJwks(undefined);
    const up = await verify.verify(bearer(await issuer.mint()));
    await issuer.close();

    expectFailure(down, 503, "jwks_unavailable", /could not fetch the GitHub Actions OIDC signing keys from http:\/\/127\.0\.0\.1:\d+\/\.well-known\/jwks/);
    expect(up.ok).toBe(true);
  });

  it("answers 503 when the JWKS server is gone", async () => {
    const issuer = await startOidcIssuer();
    const token = await issuer.mint();
    await issuer.close();

    const verify = createOidcVerifier(settings(issuer.issuer));
    const results = await Promise.all(Array.from({ length: 3 }, () => verify.verify(bearer(token))));

    for (const result of results) expectFailure(result, 503, "jwks_unavailable", /ECONNREFUSED/);
  });

  it("answers 503 when the JWKS does not answer within the fetch timeout", async () => {
    const { server, url, sockets } = await startSilentServer();
    const token = await github.mint({}, { issuer: url });

    const result = await createOidcVerifier(settings(url), { fetchTimeoutMs: 200 }).verify(bearer(token));
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));

    expectFailure(result, 503, "jwks_unavailable");
  });
});

describe("Buildkite tokens", () => {
  const mintBuildkite = (claims = {}, audience = BUILDKITE_AUDIENCE) =>
    buildkite.mint(claims, { preset: "buildkite", audience });

  it("maps a pipeline by its ids to the configured repository when the required claims hold", async () => {
    const result = await verifier().verify(bearer(await mintBuildkite({ build_branch: "release" })));

    expect(result).toMatchObject({
      ok: true,
      identity: {
        repo: "acme/accel-nightly",
        provider: "buildkite",
        claims: { pipeline_slug: "accel-nightly", build_number: 42, build_branch: "release" },
      },
    });
  });

  it("names the claim and its allowed values when a required claim does not hold", async () => {
    const verify = verifier();

    expectFailure(
      await verify.verify(bearer(await mintBuildkite({ build_branch: "feature/x" }))),
      403,
      "claim_not_allowed",
      'Buildkite claim build_branch must be one of main, release; got "feature/x"',
    );
    expectFailure(
      await verify.verify(bearer(await mintBuildkite({ build_branch: undefined }))),
      403,
      "claim_not_allowed",
      /build_branch .* it is missing/,
    );
  });

  it("refuses a pipeline that is not mapped", async () => {
    const token = await mintBuildkite({ pipeline_id: "00000000-0000-4000-8000-000000000000" });

    expectFailure(
      await verifier().verify(bearer(token)),
      403,
      "pipeline_not_mapped",
      `Buildkite pipeline ${BUILDKITE_CLAIMS.organization_id}/00000000-0000-4000-8000-000000000000 (acme/accel-nightly) is not mapped to a repository`,
    );
  });

  it("does not honour matching slugs when the ids differ", async () => {
    const token = await mintBuildkite({
      organization_id: "11111111-2222-4333-8444-555555555555",
      pipeline_id: "66666666-7777-4888-8999-000000000000",
    });

    expectFailure(await verifier().verify(bearer(token)), 403, "pipeline_not_mapped");
  });

  it("refuses a token without pipeline ids", async () => {
    const token = await mintBuildkite({ pipeline_id: undefined });

    expectFailure(await verifier().verify(bearer(token)), 401, "invalid_claims", /organization_id\/pipeline_id/);
  });

  it("checks Buildkite's own audience and says how to set it", async () => {
    const token = await mintBuildkite({}, TEST_AUDIENCE);

    expectFailure(await verifier().verify(bearer(token)), 401, "wrong_audience", /must be https:\/\/relay\.example\.test\/buildkite; pass `--audience`/);
  });

  it("never verifies a Buildkite token with the GitHub key set", async () => {
    const token = await github.mint({ ...BUILDKITE_CLAIMS }, { issuer: buildkite.issuer, audience: BUILDKITE_AUDIENCE });

    expectFailure(await verifier().verify(bearer(token)), 401, "unknown_key", /no Buildkite signing key/);
  });

  it("trusts no Buildkite issuer when Buildkite is not configured", async () => {
    const githubOnly = createOidcVerifier({ github: { issuer: github.issuer, audience: TEST_AUDIENCE } });

    expectFailure(await githubOnly.verify(bearer(await mintBuildkite())), 401, "untrusted_issuer");
  });
});

// Accepts connections and never answers: a JWKS endpoint that hangs.
async function startSilentServer(): Promise<{ server: Server; url: string; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const server = createServer((socket) => sockets.push(socket));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, sockets };
}
