// A local OIDC issuer on 127.0.0.1 for tests: publishes a JWKS like GitHub Actions' token service and mints
// tokens signed with its keys — plus the hostile tokens (`alg: none`, HS256 keyed with the public key) that
// a verifier must refuse.
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { SignJWT, base64url, calculateJwkThumbprint, exportJWK, exportSPKI, generateKeyPair } from "jose";
import type { CryptoKey, JWK } from "jose";

/** CALLBACK_AUDIENCE's default: what `mint` puts in `aud` unless told otherwise. */
export const TEST_AUDIENCE = "cross-repo-ci-relay";
export const TEST_REPOSITORY = "Acme/accel-backend";
export const TEST_SHA = "ec26c3e57ca3a959ca5aad62de7213c562f8c821";

/** Claims of a Buildkite agent token (`buildkite-agent oidc request-token`), for the `buildkite` preset. */
export const BUILDKITE_CLAIMS = {
  organization_id: "0b4f5e8c-1d2a-4c3b-9e7f-6a5d4c3b2a10",
  organization_slug: "acme",
  pipeline_id: "f1e2d3c4-b5a6-4978-8a9b-0c1d2e3f4a5b",
  pipeline_slug: "accel-nightly",
  build_number: 42,
  build_branch: "main",
  build_commit: TEST_SHA,
  step_key: "test",
  job_id: "01890f6a-7b8c-4d9e-a0b1-c2d3e4f5a6b7",
  agent_id: "01890f6a-0000-4d9e-a0b1-c2d3e4f5a6b7",
  sub: `organization:acme:pipeline:accel-nightly:ref:refs/heads/main:commit:${TEST_SHA}:step:test`,
} as const;

export interface MintOptions {
  /** Header `kid`; the current key's by default. */
  kid?: string;
  /** Header `alg`; RS256 by default (the key must fit it). */
  alg?: string;
  /** Signing key; the current private key by default. */
  key?: CryptoKey | Uint8Array;
  /** Seconds from now (negative: already expired) or a period such as "5m" or "-2h"; default 5 minutes. */
  expiresIn?: number | string;
  /** Seconds from now or a period such as "2m"; default now. */
  notBefore?: number | string;
  audience?: string | string[];
  /** `iss`; this issuer's URL by default. */
  issuer?: string;
  /** Default claims to start from; GitHub Actions' by default. */
  preset?: "github" | "buildkite";
}

/** Claims given as `undefined` are removed from the preset. */
export type Claims = Record<string, unknown>;

export interface OidcIssuer {
  /** `http://127.0.0.1:<port>`, also the `iss` of minted tokens. */
  readonly issuer: string;
  readonly jwksUri: string;
  /** `kid` of the key that signs by default. */
  readonly kid: string;
  readonly jwksRequests: number;
  mint(claims?: Claims, options?: MintOptions): Promise<string>;
  /** HS256 keyed with the current public key's PEM (or JWK JSON) bytes: the algorithm-confusion attack. */
  mintWithPublicKeyAsSecret(claims?: Claims, form?: "pem" | "jwk"): Promise<string>;
  /** An unsigned `alg: none` token carrying the current kid. */
  mintUnsigned(claims?: Claims, options?: Omit<MintOptions, "alg" | "key">): string;
  /** A new signing key with a new kid, published at once; the old key stays published unless `keepOld` is false. */
  rotate(options?: { keepOld?: boolean }): Promise<string>;
  /** Make the JWKS endpoint answer `status` (e.g. 500); `undefined` restores it. */
  failJwks(status: number | undefined): void;
  close(): Promise<void>;
}

interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
  publicPem: string;
}

export async function startOidcIssuer(): Promise<OidcIssuer> {
  let current = await newSigningKey();
  let published = [current];
  let jwksRequests = 0;
  let jwksFailure: number | undefined;

  const server = createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://localhost").pathname;
    if (request.method !== "GET") return send(response, 405, { error: "method not allowed" });
    if (path === "/.well-known/jwks") {
      jwksRequests += 1;
      if (jwksFailure !== undefined) return send(response, jwksFailure, { error: "unavailable" });
      return send(response, 200, { keys: published.map((key) => key.publicJwk) });
    }
    if (path === "/.well-known/openid-configuration") return send(response, 200, discovery(issuer));
    send(response, 404, { error: "not found" });
  });
  const issuer = await listen(server);

  const payload = (claims: Claims, options: MintOptions) => {
    const now = Math.floor(Date.now() / 1000);
    const preset = options.preset === "buildkite" ? { ...BUILDKITE_CLAIMS } : githubActionsClaims(claims);
    const merged: Claims = {
      ...preset,
      jti: randomUUID(),
      iss: options.issuer ?? issuer,
      aud: options.audience ?? TEST_AUDIENCE,
      iat: now,
      nbf: now + seconds(options.notBefore ?? 0),
      exp: now + seconds(options.expiresIn ?? "5m"),
      ...claims,
    };
    return Object.fromEntries(Object.entries(merged).filter(([, value]) => value !== undefined));
  };

  const mint = (claims: Claims = {}, options: MintOptions = {}) =>
    new SignJWT(payload(claims, options))
      .setProtectedHeader({ alg: options.alg ?? "RS256", kid: options.kid ?? current.kid, typ: "JWT" })
      .sign(options.key ?? current.privateKey);

  return {
    issuer,
    jwksUri: `${issuer}/.well-known/jwks`,
    get kid() {
      return current.kid;
    },
    get jwksRequests() {
      return jwksRequests;
    },
    mint,
    mintWithPublicKeyAsSecret(claims = {}, form = "pem") {
      const secret = form === "pem" ? current.publicPem : JSON.stringify(current.publicJwk);
      return mint(claims, { alg: "HS256", key: new TextEncoder().encode(secret) });
    },
    mintUnsigned(claims = {}, options = {}) {
      const header = { alg: "none", typ: "JWT", kid: options.kid ?? current.kid };
      return `${encodeJson(header)}.${encodeJson(payload(claims, options))}.`;
    },
    async rotate({ keepOld = true } = {}) {
      current = await newSigningKey();
      published = keepOld ? [...published, current] : [current];
      return current.kid;
    },
    failJwks(status) {
      jwksFailure = status;
    },
    close: () => close(server),
  };
}

/** The claims GitHub Actions puts in a workflow's OIDC token; `repository` and `ref` shape the others. */
export function githubActionsClaims(overrides: Claims = {}): Claims {
  const repository = typeof overrides.repository === "string" ? overrides.repository : TEST_REPOSITORY;
  const ref = typeof overrides.ref === "string" ? overrides.ref : "refs/heads/main";
  const owner = repository.split("/")[0] ?? repository;
  return {
    sub: `repo:${repository}:ref:${ref}`,
    ref,
    ref_type: "branch",
    sha: TEST_SHA,
    repository,
    repository_owner: owner,
    repository_owner_id: "1234567",
    repository_id: "7654321",
    repository_visibility: "public",
    run_id: "9876543210",
    run_number: "17",
    run_attempt: "1",
    actor: "octocat",
    actor_id: "583231",
    event_name: "repository_dispatch",
    workflow: "pytorch-pr",
    workflow_ref: `${repository}/.github/workflows/pytorch-pr.yml@${ref}`,
    job_workflow_ref: `${repository}/.github/workflows/pytorch-pr.yml@${ref}`,
    runner_environment: "github-hosted",
  };
}

async function newSigningKey(): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  return { kid, privateKey, publicJwk: { ...jwk, kid, alg: "RS256", use: "sig" }, publicPem: await exportSPKI(publicKey) };
}

function discovery(issuer: string) {
  return {
    issuer,
    jwks_uri: `${issuer}/.well-known/jwks`,
    subject_types_supported: ["public", "pairwise"],
    response_types_supported: ["id_token"],
    id_token_signing_alg_values_supported: ["RS256"],
    claims_supported: ["sub", "aud", "exp", "iat", "iss", "jti", "nbf", "ref", "repository", "run_id", "sha", "workflow"],
    scopes_supported: ["openid"],
  };
}

function seconds(value: number | string): number {
  if (typeof value === "number") return value;
  const match = /^(-?\d+)([smhd])$/.exec(value);
  if (!match) throw new Error(`unsupported period ${value}; use e.g. "90s", "5m", "-2h"`);
  const unit = { s: 1, m: 60, h: 3600, d: 86_400 }[match[2] as "s" | "m" | "h" | "d"];
  return Number(match[1]) * unit;
}

function encodeJson(value: unknown): string {
  return base64url.encode(JSON.stringify(value));
}

function send(response: ServerResponse<IncomingMessage>, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

function listen(server: ReturnType<typeof createServer>): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      resolve(`http://127.0.0.1:${port}`);
    });
  });
}

function close(server: ReturnType<typeof createServer>): Promise<void> {
  // fetch keeps connections alive; without this, close() would wait for them to idle out.
  server.closeAllConnections();
  return new Promise((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
}
