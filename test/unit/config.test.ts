import path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";

const SECRET = "0123456789abcdef0123456789abcdef0123456789abcdef";

/** The ConfigError loadConfig throws for `env`; fails the test if it throws anything else or nothing. */
function errorOf(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

const problemsOf = (env: Record<string, string>) => errorOf(env).problems;

describe("loadConfig defaults", () => {
  it("fills every field from an empty environment", () => {
    const { tickets, ...config } = loadConfig({});
    expect(tickets.secret).toMatch(/^[0-9a-f]{64}$/);
    expect(tickets).toEqual({ secret: tickets.secret, previousSecret: undefined, ephemeral: true });
    expect(config).toEqual({
      production: false,
      port: 3000,
      host: undefined,
      publicUrl: "http://localhost:3000",
      dataDir: path.resolve("data"),
      database: { kind: "sqlite" },
      stateRetentionMs: 14 * 86_400_000,
      webhookPath: "/api/github/webhooks",
      webhookSecretSet: false,
      webhookSecrets: [],
      http: { webhookMaxBytes: 26_214_400, webhookInflightBytes: 104_857_600, headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 5000, maxConnections: 1000 },
      log: { level: "info", format: "pretty" },
      checks: { maxJobChecksPerBackend: 50 },
      selfReports: { lookupTimeoutMs: 3000, lookupsPerHour: 60 },
      downstreamApp: undefined,
      upstream: { repo: "pytorch/pytorch" },
      allowlist: {
        source: { kind: "file", file: path.resolve("allowlist.yml") },
        refreshSeconds: 300,
        promotionHealth: "neutral",
        l4Approvers: [],
      },
      audit: undefined,
      profile: { name: "default", torchciAllowlist: false },
      labels: { prefix: "ciflow/oot/", checkPrefix: "oot", crcrNames: false },
      dispatch: {
        prEventType: "pytorch-pr-trigger",
        pushEventType: "pytorch-push-trigger",
        closedEventType: "pytorch-pr-closed",
        drafts: false,
        trustedAssociations: ["OWNER", "MEMBER", "COLLABORATOR"],
        trustLabel: "ciflow/oot-approved",
        ticketTtlSeconds: 14 * 24 * 3600,
      },
      outbox: { concurrency: 16, writesPerMinute: 80, writesPerHour: 500, maxAgeMs: 12 * 3_600_000, requestTimeoutMs: 30_000 },
      redeliveryIntervalMs: 600_000,
      installationRecheckMs: 600_000,
      reconcile: { intervalMs: 1_800_000, lookbackMs: 7 * 86_400_000, headsPerPass: 20 },
      github: { apiBaseUrl: "https://api.github.com", webBaseUrl: "https://github.com" },
      callback: {
        url: "http://localhost:3000/relay/callback",
        audience: "cross-repo-ci-relay",
        legacyAudience: "pytorch-cross-repo-ci-relay",
        oidcIssuer: "https://token.actions.githubusercontent.com",
        ratePerMinute: 120,
        checkUpdateDelayMs: 5000,
        jobTimeoutMs: 6 * 3_600_000,
        startTimeoutMs: 120 * 60_000,
        runEndWaitMs: 30 * 60_000,
        nonBlockingFailureConclusion: undefined,
        trunkFailureConclusion: "failure",
        oncallComments: false,
        oncallWebhooks: {},
        buildkite: undefined,
      },
      clickhouse: { kind: "embedded", path: path.resolve("data", "clickhouse"), database: "default" },
      hud: { batchRows: 1000, flushMs: 2000, retentionDays: 365 },
    });
  });

  it("reads the dispatch and outbox settings", () => {
    const config = loadConfig({
      RELAY_PR_EVENT_TYPE: "crcr-pr",
      RELAY_DISPATCH_DRAFTS: "true",
      RELAY_TRUSTED_ASSOCIATIONS: "OWNER, MEMBER",
      RELAY_WRITES_PER_MINUTE: "40",
      RELAY_REDELIVERY_MINUTES: "0",
      RELAY_RECONCILE_MINUTES: "0",
      RELAY_RECONCILE_LOOKBACK_DAYS: "3",
      RELAY_RECONCILE_HEADS_PER_PASS: "5",
    });
    expect(config.dispatch).toMatchObject({ prEventType: "crcr-pr", drafts: true, trustedAssociations: ["OWNER", "MEMBER"] });
    expect(config.outbox.writesPerMinute).toBe(40);
    expect(config.redeliveryIntervalMs).toBe(0);
    expect(config.reconcile).toEqual({ intervalMs: 0, lookbackMs: 3 * 86_400_000, headsPerPass: 5 });
  });

  it("names the variable and the allowed values for bad dispatch settings", () => {
    expect(() => loadConfig({ RELAY_RECONCILE_LOOKBACK_DAYS: "0" })).toThrow(/RELAY_RECONCILE_LOOKBACK_DAYS: "0"/);
    expect(() => loadConfig({ RELAY_DISPATCH_DRAFTS: "yes", RELAY_TRUSTED_ASSOCIATIONS: "OWNER,FRIENDS", RELAY_OUTBOX_CONCURRENCY: "0" })).toThrow(
      /RELAY_DISPATCH_DRAFTS: "yes" is not a boolean[\s\S]*RELAY_TRUSTED_ASSOCIATIONS: "OWNER,FRIENDS" is not a comma-separated list[\s\S]*RELAY_OUTBOX_CONCURRENCY: "0"/,
    );
  });

  it("reads the Buildkite pipeline mapping and rejects a malformed one", () => {
    const pipelines = [{ organizationId: "org-1", pipelineId: "pipe-1", repo: "acme/npu", requiredClaims: { build_branch: ["main"] } }];
    expect(loadConfig({ RELAY_BUILDKITE_PIPELINES: JSON.stringify(pipelines) }).callback.buildkite).toEqual({
      issuer: "https://agent.buildkite.com",
      audience: "cross-repo-ci-relay",
      pipelines,
    });
    expect(() => loadConfig({ RELAY_BUILDKITE_PIPELINES: "[{" })).toThrow(/RELAY_BUILDKITE_PIPELINES: is not JSON/);
    expect(() => loadConfig({ RELAY_BUILDKITE_PIPELINES: JSON.stringify([...pipelines, ...pipelines]) })).toThrow(
      /RELAY_BUILDKITE_PIPELINES: is not a valid pipeline mapping \(value: lists the same organizationId\/pipelineId twice\)/,
    );
    expect(() => loadConfig({ RELAY_BUILDKITE_PIPELINES: JSON.stringify([{ organizationId: "o", pipelineId: "p", repo: "nope" }]) })).toThrow(
      /0\.repo: must be an owner\/repo name/,
    );
  });

  it("treats empty strings as unset", () => {
    const config = loadConfig({ PORT: "", UPSTREAM_REPO: "", RELAY_TICKET_SECRET: "", CLICKHOUSE_URL: "" });
    expect(config.port).toBe(3000);
    expect(config.upstream.repo).toBe("pytorch/pytorch");
    expect(config.tickets.ephemeral).toBe(true);
    expect(config.clickhouse.kind).toBe("embedded");
  });

  it("ignores variables it does not know", () => {
    expect(() => loadConfig({ PATH: "/usr/bin", SOMETHING_ELSE: "x" })).not.toThrow();
  });

  it("derives the default public URL from PORT", () => {
    const config = loadConfig({ PORT: "8080" });
    expect(config.publicUrl).toBe("http://localhost:8080");
    expect(config.callback.url).toBe("http://localhost:8080/relay/callback");
  });

  it("reads the state retention in days, from 1 to 365", () => {
    expect(loadConfig({ RELAY_STATE_RETENTION_DAYS: "30" }).stateRetentionMs).toBe(30 * 86_400_000);
    expect(() => loadConfig({ RELAY_STATE_RETENTION_DAYS: "366" })).toThrow(/RELAY_STATE_RETENTION_DAYS: /);
    expect(() => loadConfig({ RELAY_STATE_RETENTION_DAYS: "0" })).toThrow(/RELAY_STATE_RETENTION_DAYS: /);
  });

  it("reads the remaining simple variables", () => {
    const config = loadConfig({
      HOST: "0.0.0.0",
      UPSTREAM_REPO: "my-org/my-fork",
      ALLOWLIST_REFRESH_SECONDS: "60",
      RELAY_PROMOTION_HEALTH: "failure",
      RELAY_TRUNK_FAILURE_CONCLUSION: "neutral",
      RELAY_ONCALL_COMMENTS: "on",
      RELAY_ONCALL_WEBHOOKS: '{"Acme/NPU": "https://hooks.example.com/services/T1/B2/secret", "beta/tpu": "http://127.0.0.1:9/hook"}',
      RELAY_L4_APPROVERS: "@alice, bob carol",
      RELAY_LABEL_PREFIX: "ciflow/crcr/",
      RELAY_CHECK_PREFIX: "crcr",
      CALLBACK_AUDIENCE: "my-relay",
      DATA_DIR: "/var/lib/relay",
      WEBHOOK_PATH: "/hooks",
      WEBHOOK_SECRET: "whatever",
      APP_ID: "12345",
      LOG_LEVEL: "debug",
    });
    expect(config.host).toBe("0.0.0.0");
    expect(config.upstream.repo).toBe("my-org/my-fork");
    expect(config.allowlist.refreshSeconds).toBe(60);
    expect(config.allowlist).toMatchObject({ promotionHealth: "failure", l4Approvers: ["alice", "bob", "carol"] });
    expect(config.labels).toEqual({ prefix: "ciflow/crcr/", checkPrefix: "crcr", crcrNames: false });
    expect(config.callback.audience).toBe("my-relay");
    expect(config.callback).toMatchObject({ trunkFailureConclusion: "neutral", oncallComments: true });
    expect(config.callback.oncallWebhooks).toEqual({ "acme/npu": "https://hooks.example.com/services/T1/B2/secret", "beta/tpu": "http://127.0.0.1:9/hook" });
    expect(config.dataDir).toBe("/var/lib/relay");
    expect(config.clickhouse).toEqual({ kind: "embedded", path: "/var/lib/relay/clickhouse", database: "default" });
    expect(config.webhookPath).toBe("/hooks");
    expect(config.webhookSecretSet).toBe(true);
  });
});

describe("loadConfig problems", () => {
  it.each([
    ["PORT", "abc"],
    ["PORT", "0"],
    ["PORT", "65536"],
    ["PORT", "30.5"],
    ["UPSTREAM_REPO", "pytorch"],
    ["ALLOWLIST_REPO", "https://github.example.com/org/repo"],
    ["ALLOWLIST_PATH", "/allowlist.yml"],
    ["ALLOWLIST_PATH", "config/../allowlist.yml"],
    ["ALLOWLIST_PATH", "config\\allowlist.yml"],
    ["ALLOWLIST_REF", "main branch"],
    ["ALLOWLIST_REF", "main..dev"],
    ["ALLOWLIST_REFRESH_SECONDS", "9"],
    ["ALLOWLIST_REFRESH_SECONDS", "ten"],
    ["RELAY_PROMOTION_HEALTH", "warn"],
    ["RELAY_TRUNK_FAILURE_CONCLUSION", "success"],
    ["RELAY_ONCALL_COMMENTS", "yes"],
    ["RELAY_ONCALL_WEBHOOKS", "https://hooks.example.com/x"],
    ["RELAY_ONCALL_WEBHOOKS", '["https://hooks.example.com/x"]'],
    ["RELAY_ONCALL_WEBHOOKS", '{"acme": "https://hooks.example.com/x"}'],
    ["RELAY_ONCALL_WEBHOOKS", '{"acme/npu": "http://hooks.example.com/x"}'],
    ["RELAY_L4_APPROVERS", "pytorch/core-maintainers"],
    ["RELAY_AUDIT_REPO", "relay-config"],
    ["RELAY_AUDIT_WINDOWS", "0"],
    ["RELAY_AUDIT_WINDOWS", "13"],
    ["RELAY_AUDIT_HOURS", "169"],
    ["RELAY_AUDIT_HOURS", "daily"],
    ["RELAY_LABEL_PREFIX", "ciflow oot/"],
    ["RELAY_CHECK_PREFIX", " oot"],
    ["RELAY_CHECK_PREFIX", "oot "],
    ["RELAY_PUBLIC_URL", "relay.example.com"],
    ["RELAY_PUBLIC_URL", "ftp://relay.example.com"],
    ["RELAY_PUBLIC_URL", "https://relay.example.com/?x=1"],
    ["RELAY_PUBLIC_URL", "https://relay.example.com/#top"],
    ["CLICKHOUSE_URL", "clickhouse:8123"],
    ["DATABASE_URL", "mysql://db.example.com/relay"],
    ["DATABASE_URL", "db.example.com:5432"],
    ["DATABASE_SCHEMA", "Relay"],
    ["DATABASE_SCHEMA", "relay-prod"],
    ["RELAY_LEADER_CHECK_SECONDS", "0"],
    ["CLICKHOUSE_DATABASE", "1hud"],
    ["CLICKHOUSE_DATABASE", "hud-db"],
    ["GITHUB_OIDC_ISSUER", "not a url"],
    ["GITHUB_OIDC_ISSUER", "http://issuer.example.com"],
    ["GHE_HOST", "https://github.example.com"],
    ["GHE_HOST", "github.example.com/path"],
    ["GHE_HOST", "github.example.com:99999"],
    ["GHE_PROTOCOL", "ftp"],
    ["APP_ID", "abc"],
    ["APP_ID", "0"],
    ["WEBHOOK_PATH", "api/github/webhooks"],
    ["LOG_LEVEL", "verbose"],
    ["RELAY_TICKET_SECRET", "too-short"],
    ["RELAY_TICKET_SECRET_PREVIOUS", "too-short"],
  ])("%s=%j is one problem naming the variable", (name, value) => {
    const problems = problemsOf({ [name]: value });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^${name}: `));
  });

  it("RELAY_PROFILE=pytorch implies torchci's allowlist reading, ciflow/crcr/ labels and a trust label no ciflow trigger acts on; explicit variables win", () => {
    const config = loadConfig({ RELAY_PROFILE: "pytorch" });
    expect(config.profile).toEqual({ name: "pytorch", torchciAllowlist: true });
    expect(config.labels).toEqual({ prefix: "ciflow/crcr/", checkPrefix: "oot", crcrNames: true });
    expect(config.dispatch.trustLabel).toBe("crcr-approved");
    const explicit = loadConfig({ RELAY_PROFILE: "pytorch", RELAY_LABEL_PREFIX: "ciflow/x/", RELAY_TRUST_LABEL: "ok-to-test" });
    expect([explicit.labels.prefix, explicit.dispatch.trustLabel]).toEqual(["ciflow/x/", "ok-to-test"]);
    expect(problemsOf({ RELAY_PROFILE: "crcr" })).toEqual(['RELAY_PROFILE: "crcr" is not a profile; set it to default or pytorch (default default; docs/pytorch.md)']);
  });

  it("never repeats an oncall webhook URL in a problem (they are secrets)", () => {
    expect(problemsOf({ RELAY_ONCALL_WEBHOOKS: '{"acme/npu": "http://hooks.example.com/services/secret-path"}' })).toEqual([
      "RELAY_ONCALL_WEBHOOKS: maps acme/npu to something that is not an https URL (the value is not shown: webhook URLs are secrets)",
    ]);
  });

  it("says what is wrong and how to fix it", () => {
    expect(problemsOf({ PORT: "abc" })).toEqual([
      'PORT: "abc" is not a port number; set it to an integer between 1 and 65535 (default 3000)',
    ]);
  });

  it("reports every problem at once, in one ConfigError", () => {
    const error = errorOf({
      NODE_ENV: "production",
      PORT: "abc",
      UPSTREAM_REPO: "nope",
      GHE_PROTOCOL: "ftp",
      LOG_LEVEL: "loud",
    });
    expect(error.problems.map((problem) => problem.split(":")[0])).toEqual([
      "PORT",
      "UPSTREAM_REPO",
      "GHE_PROTOCOL",
      "LOG_LEVEL",
      "WEBHOOK_SECRET",
      "RELAY_TICKET_SECRET",
    ]);
    expect(error.message).toBe(
      `Invalid relay configuration:\n${error.problems.map((problem) => `  - ${problem}`).join("\n")}`,
    );
    expect(error.name).toBe("ConfigError");
  });
});

describe("production", () => {
  it("requires WEBHOOK_SECRET and RELAY_TICKET_SECRET", () => {
    expect(problemsOf({ NODE_ENV: "production" })).toEqual([
      'WEBHOOK_SECRET: not set, but required in production (Probot would silently verify webhooks with the secret "development"); set it to the App\'s webhook secret',
      "RELAY_TICKET_SECRET: not set, but required in production; generate one with `openssl rand -hex 32`",
    ]);
  });

  it("loads with both secrets set", () => {
    const config = loadConfig({ NODE_ENV: "production", WEBHOOK_SECRET: "hook", RELAY_TICKET_SECRET: SECRET });
    expect(config.production).toBe(true);
    expect(config.webhookSecretSet).toBe(true);
    expect(config.tickets).toEqual({ secret: SECRET, previousSecret: undefined, ephemeral: false });
  });

  it("keeps the previous ticket secret for rotation", () => {
    const previous = "f".repeat(64);
    const config = loadConfig({ RELAY_TICKET_SECRET: SECRET, RELAY_TICKET_SECRET_PREVIOUS: previous });
    expect(config.tickets).toEqual({ secret: SECRET, previousSecret: previous, ephemeral: false });
  });
});

describe("ephemeral ticket secret", () => {
  it("is generated outside production, and differs between loads", () => {
    const first = loadConfig({ NODE_ENV: "development" });
    const second = loadConfig({});
    expect(first.tickets.secret).toMatch(/^[0-9a-f]{64}$/);
    expect(first.tickets.ephemeral).toBe(true);
    expect(second.tickets.ephemeral).toBe(true);
    expect(second.tickets.secret).not.toBe(first.tickets.secret);
  });
});

describe("secrets in messages", () => {
  it("describes short ticket secrets by length without echoing them", () => {
    const current = "hunter2-current";
    const previous = "hunter2-previous-secret";
    const error = errorOf({ RELAY_TICKET_SECRET: current, RELAY_TICKET_SECRET_PREVIOUS: previous });
    expect(error.problems).toEqual([
      "RELAY_TICKET_SECRET: is 15 characters; use at least 32 (generate one with `openssl rand -hex 32`)",
      "RELAY_TICKET_SECRET_PREVIOUS: is 23 characters; use at least 32 (generate one with `openssl rand -hex 32`)",
    ]);
    expect(error.message).not.toContain(current);
    expect(error.message).not.toContain(previous);
  });

  it("never echoes other secrets, even when their neighbours are wrong", () => {
    const env = {
      NODE_ENV: "production",
      WEBHOOK_SECRET: "webhook-secret-value",
      CLICKHOUSE_PASSWORD: "clickhouse-password-value",
      PRIVATE_KEY: "-----BEGIN RSA PRIVATE KEY-----private-key-value",
      CLICKHOUSE_URL: "ftp://admin:url-password-value@clickhouse.example.com",
      DATABASE_URL: "mysql://relay:db-password-value@db.example.com/relay",
      PORT: "abc",
    };
    const { message } = errorOf(env);
    for (const value of [env.WEBHOOK_SECRET, env.CLICKHOUSE_PASSWORD, env.PRIVATE_KEY, "url-password-value", "db-password-value"]) {
      expect(message).not.toContain(value);
    }
  });
});

describe("GitHub hosts", () => {
  it("builds API and web URLs from GHE_HOST", () => {
    expect(loadConfig({ GHE_HOST: "github.example.com" }).github).toEqual({
      apiBaseUrl: "https://github.example.com/api/v3",
      webBaseUrl: "https://github.example.com",
    });
    expect(loadConfig({ GHE_HOST: "ghe.internal:8443", GHE_PROTOCOL: "http" }).github).toEqual({
      apiBaseUrl: "http://ghe.internal:8443/api/v3",
      webBaseUrl: "http://ghe.internal:8443",
    });
  });

  it.each(["http://localhost:8080", "http://127.0.0.1:9000/", "http://127.1.2.3", "http://[::1]:1234/issuer"])(
    "allows the loopback http issuer %s",
    (issuer) => {
      expect(loadConfig({ GITHUB_OIDC_ISSUER: issuer }).callback.oidcIssuer).toBe(issuer.replace(/\/$/, ""));
    },
  );

  it("rejects a non-loopback http issuer and says why", () => {
    const [problem] = problemsOf({ GITHUB_OIDC_ISSUER: "http://issuer.example.com" });
    expect(problem).toMatch(/^GITHUB_OIDC_ISSUER: "http:\/\/issuer\.example\.com" uses http on a non-loopback host/);
    expect(problem).toContain("trust anchor");
  });

  it("strips the issuer's trailing slash", () => {
    const config = loadConfig({ GITHUB_OIDC_ISSUER: "https://ghe.example.com/_services/token/" });
    expect(config.callback.oidcIssuer).toBe("https://ghe.example.com/_services/token");
  });
});

describe("freezing", () => {
  it("freezes the config and every nested object", () => {
    const config = loadConfig({ CLICKHOUSE_URL: "https://ch.example.com", ALLOWLIST_REPO: "org/config" });
    const objects: object[] = [config];
    for (let i = 0; i < objects.length; i++) {
      const current = objects[i]!;
      expect(Object.isFrozen(current)).toBe(true);
      for (const child of Object.values(current)) {
        if (typeof child === "object" && child !== null) objects.push(child as object);
      }
    }
    expect(objects.length).toBeGreaterThanOrEqual(9);
    expect(Reflect.set(config.allowlist.source, "kind", "file")).toBe(false);
  });
});

describe("allowlist source", () => {
  it("reads a local file when ALLOWLIST_REPO is unset", () => {
    expect(loadConfig({ ALLOWLIST_FILE: "config/allowlist.yml" }).allowlist.source).toEqual({
      kind: "file",
      file: path.resolve("config/allowlist.yml"),
    });
  });

  it("reads the config repo when ALLOWLIST_REPO is set", () => {
    expect(loadConfig({ ALLOWLIST_REPO: "pytorch/relay-config" }).allowlist.source).toEqual({
      kind: "repo",
      repo: "pytorch/relay-config",
      path: "allowlist.yml",
      ref: undefined,
    });
    expect(
      loadConfig({ ALLOWLIST_REPO: "org/config", ALLOWLIST_PATH: "relay/allowlist.yml", ALLOWLIST_REF: "refs/heads/prod" })
        .allowlist.source,
    ).toEqual({ kind: "repo", repo: "org/config", path: "relay/allowlist.yml", ref: "refs/heads/prod" });
  });
});

describe("health audit", () => {
  it("opens its issues in the config repo by default, every 24 hours after 2 failing weeks", () => {
    expect(loadConfig({ ALLOWLIST_REPO: "pytorch/relay-config" }).audit).toEqual({ repo: "pytorch/relay-config", windows: 2, intervalMs: 24 * 3_600_000 });
  });

  it("reads its repo, windows and interval, and is off with a local allowlist file and no repo, or with 0 hours", () => {
    expect(loadConfig({ ALLOWLIST_REPO: "org/config", RELAY_AUDIT_REPO: "org/relay-health", RELAY_AUDIT_WINDOWS: "12", RELAY_AUDIT_HOURS: "168" }).audit).toEqual({
      repo: "org/relay-health",
      windows: 12,
      intervalMs: 168 * 3_600_000,
    });
    expect(loadConfig({ RELAY_AUDIT_REPO: "org/relay-health", RELAY_AUDIT_WINDOWS: "1" }).audit).toEqual({ repo: "org/relay-health", windows: 1, intervalMs: 24 * 3_600_000 });
    expect(loadConfig({ RELAY_AUDIT_WINDOWS: "3" }).audit).toBeUndefined();
    expect(loadConfig({ ALLOWLIST_REPO: "org/config", RELAY_AUDIT_HOURS: "0" }).audit).toBeUndefined();
  });

  it("says what a bad setting should be", () => {
    expect(problemsOf({ RELAY_AUDIT_REPO: "relay-config", RELAY_AUDIT_WINDOWS: "13", RELAY_AUDIT_HOURS: "daily" })).toEqual([
      'RELAY_AUDIT_REPO: "relay-config" is not an owner/repo name; set it to the repository where the health audit opens its issues (e.g. my-org/relay-config), or unset it to use ALLOWLIST_REPO',
      'RELAY_AUDIT_WINDOWS: "13" is not a number of consecutive failing weeks before the health audit opens an issue; set it to an integer between 1 and 12 (default 2)',
      'RELAY_AUDIT_HOURS: "daily" is not a health audit interval in hours (0 turns it off); set it to an integer between 0 and 168 (default 24)',
    ]);
  });
});

describe("clickhouse", () => {
  it("keeps the state in PostgreSQL when DATABASE_URL is set, in the public schema unless DATABASE_SCHEMA says otherwise", () => {
    expect(loadConfig({ DATABASE_URL: "postgres://relay:pw@db.example.com:5432/relay" }).database).toEqual({
      kind: "postgres",
      url: "postgres://relay:pw@db.example.com:5432/relay",
      schema: "public",
      leaderCheckMs: 5000,
    });
    expect(loadConfig({ DATABASE_URL: "postgresql://db/relay", DATABASE_SCHEMA: "relay_prod", RELAY_LEADER_CHECK_SECONDS: "2" }).database).toMatchObject({
      schema: "relay_prod",
      leaderCheckMs: 2000,
    });
  });

  it("uses a server when CLICKHOUSE_URL is set", () => {
    const config = loadConfig({
      CLICKHOUSE_URL: "https://ch.example.com:8443",
      CLICKHOUSE_USER: "relay",
      CLICKHOUSE_PASSWORD: "pw",
      CLICKHOUSE_DATABASE: "hud",
    });
    expect(config.clickhouse).toEqual({
      kind: "server",
      url: "https://ch.example.com:8443",
      user: "relay",
      password: "pw",
      database: "hud",
    });
  });

  it("defaults the server's user and password", () => {
    expect(loadConfig({ CLICKHOUSE_URL: "http://localhost:8123" }).clickhouse).toEqual({
      kind: "server",
      url: "http://localhost:8123",
      user: "default",
      password: "",
      database: "default",
    });
  });

  it("embeds chDB under DATA_DIR otherwise", () => {
    expect(loadConfig({ DATA_DIR: "state", CLICKHOUSE_DATABASE: "hud" }).clickhouse).toEqual({
      kind: "embedded",
      path: path.resolve("state", "clickhouse"),
      database: "hud",
    });
  });
});

describe("RELAY_PUBLIC_URL", () => {
  it("drops trailing slashes and derives the callback URL", () => {
    const config = loadConfig({ RELAY_PUBLIC_URL: "https://relay.example.com/" });
    expect(config.publicUrl).toBe("https://relay.example.com");
    expect(config.callback.url).toBe("https://relay.example.com/relay/callback");
  });

  it("keeps a path prefix", () => {
    const config = loadConfig({ RELAY_PUBLIC_URL: "https://example.com/ci-relay//" });
    expect(config.callback.url).toBe("https://example.com/ci-relay/relay/callback");
  });
});

describe("downstream App", () => {
  const PEM = "-----BEGIN RSA PRIVATE KEY-----downstream-key-value";

  it("is absent unless DOWNSTREAM_APP_ID is set (one App does everything)", () => {
    expect(loadConfig({}).downstreamApp).toBeUndefined();
  });

  it("reads the ID, one key and the webhook secret", () => {
    expect(loadConfig({ DOWNSTREAM_APP_ID: "7", DOWNSTREAM_PRIVATE_KEY: PEM, DOWNSTREAM_WEBHOOK_SECRET: "ds-hook" }).downstreamApp).toEqual({
      appId: 7,
      privateKey: PEM,
      privateKeyPath: undefined,
      webhookSecret: "ds-hook",
    });
    expect(loadConfig({ DOWNSTREAM_APP_ID: "7", DOWNSTREAM_PRIVATE_KEY_PATH: "keys/downstream.pem" }).downstreamApp).toMatchObject({
      appId: 7,
      privateKeyPath: "keys/downstream.pem",
    });
  });

  it("needs exactly one key, and an ID whenever another DOWNSTREAM_* variable is set", () => {
    const oneKey = "DOWNSTREAM_PRIVATE_KEY: set exactly one of DOWNSTREAM_PRIVATE_KEY (PEM) and DOWNSTREAM_PRIVATE_KEY_PATH when DOWNSTREAM_APP_ID is set";
    expect(problemsOf({ DOWNSTREAM_APP_ID: "7" })).toEqual([oneKey]);
    expect(problemsOf({ DOWNSTREAM_APP_ID: "7", DOWNSTREAM_PRIVATE_KEY: PEM, DOWNSTREAM_PRIVATE_KEY_PATH: "k.pem" })).toEqual([oneKey]);
    expect(problemsOf({ DOWNSTREAM_WEBHOOK_SECRET: "ds-hook" })).toEqual([
      "DOWNSTREAM_APP_ID: not set, but other DOWNSTREAM_* variables are; set it to the downstream App's ID, or unset them all to use one App",
    ]);
  });

  it("rejects an ID that is not a number, without echoing the key", () => {
    const { problems, message } = errorOf({ DOWNSTREAM_APP_ID: "relay-downstream", DOWNSTREAM_PRIVATE_KEY: PEM });
    expect(problems).toEqual([
      `DOWNSTREAM_APP_ID: "relay-downstream" is not a GitHub App ID; set it to the downstream App's numeric ID, or unset it to use one App`,
    ]);
    expect(message).not.toContain("downstream-key-value");
  });

  it("requires its webhook secret in production", () => {
    const env = { NODE_ENV: "production", WEBHOOK_SECRET: "hook", RELAY_TICKET_SECRET: SECRET, DOWNSTREAM_APP_ID: "7", DOWNSTREAM_PRIVATE_KEY: PEM };
    expect(problemsOf(env)).toEqual([
      "DOWNSTREAM_WEBHOOK_SECRET: not set, but required in production when DOWNSTREAM_APP_ID is set; set it to the downstream App's webhook secret",
    ]);
    expect(loadConfig({ ...env, DOWNSTREAM_WEBHOOK_SECRET: "ds-hook" }).downstreamApp?.webhookSecret).toBe("ds-hook");
  });
});

describe("webhook body budget", () => {
  it("defaults to 100 MiB and refuses a budget below the largest allowed webhook", () => {
    expect(loadConfig({}).http.webhookInflightBytes).toBe(104_857_600);
    expect(problemsOf({ RELAY_WEBHOOK_MAX_BYTES: "2048", RELAY_WEBHOOK_INFLIGHT_BYTES: "1024" })).toEqual([
      "RELAY_WEBHOOK_INFLIGHT_BYTES: is below RELAY_WEBHOOK_MAX_BYTES (2048), so the largest allowed webhook could never be read; raise it or lower RELAY_WEBHOOK_MAX_BYTES",
    ]);
  });
});
