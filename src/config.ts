// Environment → typed, frozen configuration: the single home of environment parsing.
// Every problem is collected and reported at once, naming the variable, what is wrong and the fix.
// Secret values are described (their length), never echoed.
import { randomBytes } from "node:crypto";
import path from "node:path";
import { z } from "zod";
import { PROFILE_NAMES, PROFILES, type ProfileName } from "./profile.js";
import { isRepoSlug } from "./github/repo-name.js";
import { describeIssues } from "./validation/describe-issues.js";

export class ConfigError extends Error {
  override readonly name = "ConfigError";

  constructor(readonly problems: string[]) {
    super(`Invalid relay configuration:\n${problems.map((problem) => `  - ${problem}`).join("\n")}`);
  }
}

/** A check on a set variable: `ok` accepts the value; `problem` says what is wrong and the fix. */
type Rule = readonly [ok: (value: string) => boolean, problem: (value: string) => string];

/** A string variable; the first rule it breaks is its problem. */
function checked(...rules: Rule[]) {
  return z.string().superRefine((value, ctx) => {
    const broken = rules.find(([ok]) => !ok(value));
    if (broken) ctx.addIssue(broken[1](value));
  });
}

/** Quote a non-secret value for a message, masking the user:password@ part of a URL. */
const quote = (value: string) => JSON.stringify(value.replace(/\/\/[^/@]*@/, "//***@"));

function integer(noun: string, min: number, max: number, fallback: number) {
  return checked([
    (value) => /^\d+$/.test(value) && Number(value) >= min && Number(value) <= max,
    (value) =>
      `${quote(value)} is not ${noun}; set it to an integer between ${min} and ${max} (default ${fallback})`,
  ])
    .transform(Number)
    .default(fallback);
}

function flag(fallback: boolean) {
  return checked([
    (value) => value === "true" || value === "false",
    (value) => `${quote(value)} is not a boolean; set it to true or false (default ${fallback})`,
  ])
    .transform((value) => value === "true")
    .default(fallback);
}

/** A repository_dispatch event_type: GitHub allows 1–100 characters. */
function eventType(fallback: string) {
  return checked([
    (value) => value.length <= 100 && !/\s/.test(value),
    (value) => `${quote(value)} is not a dispatch event type; use at most 100 characters without whitespace (default ${fallback})`,
  ]).default(fallback);
}

const BuildkitePipelines = z
  .array(
    z.strictObject({
      organizationId: z.string().min(1),
      pipelineId: z.string().min(1),
      repo: z.string().refine(isRepoSlug, "must be an owner/repo name"),
      requiredClaims: z.record(z.string(), z.array(z.string()).min(1)).optional(),
    }),
  )
  .refine(
    (pipelines) => new Set(pipelines.map((p) => `${p.organizationId}/${p.pipelineId}`)).size === pipelines.length,
    "lists the same organizationId/pipelineId twice",
  );

/** RELAY_BUILDKITE_PIPELINES: a JSON array mapping Buildkite pipelines (by immutable ids) to repos. */
function parseBuildkitePipelines(value: string, ctx: z.RefinementCtx) {
  let json: unknown;
  try {
    json = JSON.parse(value);
  } catch {
    ctx.addIssue({ code: "custom", message: "is not JSON; set it to a JSON array of {organizationId, pipelineId, repo, requiredClaims?}" });
    return z.NEVER;
  }
  const parsed = BuildkitePipelines.safeParse(json);
  if (!parsed.success) {
    const problems = describeIssues(parsed.error, "value");
    ctx.addIssue({ code: "custom", message: `is not a valid pipeline mapping (${problems}); see docs/callback.md` });
    return z.NEVER;
  }
  return parsed.data;
}

/**
 * RELAY_ONCALL_WEBHOOKS: a JSON object mapping downstream repos to their oncall's Slack-compatible
 * incoming-webhook URL. The URLs are secrets (whoever has one can post): messages name the repo only.
 */
function parseOncallWebhooks(value: string, ctx: z.RefinementCtx): Record<string, string> {
  let json: unknown;
  try {
    json = JSON.parse(value);
  } catch {
    ctx.addIssue({ code: "custom", message: 'is not JSON; set it to a JSON object {"owner/repo": "https://hooks.example.com/…"}' });
    return z.NEVER;
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    ctx.addIssue({ code: "custom", message: 'is not a JSON object; set it to {"owner/repo": "https://hooks.example.com/…"}' });
    return z.NEVER;
  }
  const webhooks: Record<string, string> = {};
  for (const [repo, url] of Object.entries(json)) {
    const parsed = typeof url === "string" ? httpUrl(url) : undefined;
    if (!isRepoSlug(repo)) ctx.addIssue({ code: "custom", message: `has key ${quote(repo)}, which is not an owner/repo name` });
    else if (!parsed || (parsed.protocol !== "https:" && !isLoopback(parsed.hostname))) {
      ctx.addIssue({ code: "custom", message: `maps ${repo} to something that is not an https URL (the value is not shown: webhook URLs are secrets)` });
    } else webhooks[repo.toLowerCase()] = parsed.href;
  }
  return webhooks;
}

/** An absolute URL. Whitespace is refused because URL() would silently trim it. */
function safeUrl(value: string): URL | undefined {
  return /\s/.test(value) || !URL.canParse(value) ? undefined : new URL(value);
}

/** Absolute http(s) URL. */
function httpUrl(value: string): URL | undefined {
  const url = safeUrl(value);
  return url?.protocol === "http:" || url?.protocol === "https:" ? url : undefined;
}

const noQueryOrFragment: Rule = [
  (value) => !/[?#]/.test(value),
  (value) => `${quote(value)} has a query or fragment; remove everything from the "?" or "#" on`,
];

const withoutTrailingSlash = (url: string) => url.replace(/\/+$/, "");

const isLoopback = (hostname: string) =>
  hostname === "localhost" || hostname === "[::1]" || /^127(?:\.\d{1,3}){3}$/.test(hostname);

const secret = checked([
  (value) => value.length >= 32,
  (value) => `is ${value.length} characters; use at least 32 (generate one with \`openssl rand -hex 32\`)`,
]);

const HOST_PORT =
  /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*(?::\d{1,5})?$/;
const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal"];
// GitHub's author_association values (REST "pulls" objects).
const AUTHOR_ASSOCIATIONS = [
  "OWNER",
  "MEMBER",
  "COLLABORATOR",
  "CONTRIBUTOR",
  "FIRST_TIME_CONTRIBUTOR",
  "FIRST_TIMER",
  "MANNEQUIN",
  "NONE",
];
const DEFAULT_TRUSTED = ["OWNER", "MEMBER", "COLLABORATOR"];
const OIDC_ISSUER = "https://token.actions.githubusercontent.com";
const CRCR_TABLE = "default.crcr_workflow_job";

const EnvVars = z.object({
  NODE_ENV: z.string().optional(),
  PORT: integer("a port number", 1, 65535, 3000),
  HOST: z.string().optional(),

  UPSTREAM_REPO: checked([
    isRepoSlug,
    (value) => `${quote(value)} is not an owner/repo name; set it to the upstream repository (default pytorch/pytorch)`,
  ]).default("pytorch/pytorch"),

  ALLOWLIST_REPO: checked([
    isRepoSlug,
    (value) =>
      `${quote(value)} is not an owner/repo name; set it to the config repo holding the allowlist (e.g. my-org/relay-config), or unset it to read ALLOWLIST_FILE`,
  ]).optional(),
  ALLOWLIST_PATH: checked([
    (value) => !value.startsWith("/") && !value.includes("\\") && !value.split("/").includes(".."),
    (value) =>
      `${quote(value)} is not a path inside the config repo; use a relative path with "/" separators and no leading "/" or ".." segments (default allowlist.yml)`,
  ]).default("allowlist.yml"),
  ALLOWLIST_REF: checked([
    (value) => !/\s/.test(value) && !value.includes(".."),
    (value) =>
      `${quote(value)} is not a git ref; use a branch, tag or commit sha without whitespace or "..", or unset it to read the config repo's default branch`,
  ]).optional(),
  RELAY_PROMOTION_HEALTH: checked([
    (value) => ["neutral", "failure", "off"].includes(value),
    (value) =>
      `${quote(value)} is not a promotion health policy; set it to neutral (a promoted backend that misses its new level makes the allowlist check neutral), failure (it fails the check) or off (no health review)`,
  ]).default("neutral"),
  RELAY_L4_APPROVERS: checked([
    (value) => value.split(/[\s,]+/).filter(Boolean).every((handle) => /^@?[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/.test(handle)),
    (value) =>
      `${quote(value)} is not a list of GitHub logins; write users separated by commas, e.g. "@alice, bob" (teams are not supported: list their members)`,
  ])
    .transform((value) => value.split(/[\s,]+/).filter(Boolean).map((handle) => handle.replace(/^@/, "")))
    .optional(),
  RELAY_AUDIT_REPO: checked([
    isRepoSlug,
    (value) =>
      `${quote(value)} is not an owner/repo name; set it to the repository where the health audit opens its issues (e.g. my-org/relay-config), or unset it to use ALLOWLIST_REPO`,
  ]).optional(),
  RELAY_AUDIT_WINDOWS: integer("a number of consecutive failing weeks before the health audit opens an issue", 1, 12, 2),
  // A week at most: an audit less often than the windows it judges would skip weeks.
  RELAY_AUDIT_HOURS: integer("a health audit interval in hours (0 turns it off)", 0, 24 * 7, 24),
  ALLOWLIST_FILE: z
    .string()
    .transform((file) => path.resolve(file))
    .prefault("./allowlist.yml"),
  // A day at most: far below setTimeout's ~24.8-day ceiling.
  ALLOWLIST_REFRESH_SECONDS: integer("a refresh interval in seconds", 10, 86_400, 300),

  RELAY_PROFILE: checked([
    (value) => (PROFILE_NAMES as readonly string[]).includes(value),
    (value) => `${quote(value)} is not a profile; set it to ${PROFILE_NAMES.join(" or ")} (default default; docs/pytorch.md)`,
  ]).default("default"),
  RELAY_LABEL_PREFIX: checked([
    (value) => !/\s/.test(value),
    (value) =>
      `${quote(value)} contains whitespace; labels are "<prefix><name>" and matched exactly, so remove it (default ciflow/oot/, ciflow/crcr/ in the pytorch profile)`,
  ]).optional(),
  RELAY_CHECK_PREFIX: checked([
    (value) => value.trim() === value,
    (value) =>
      `${quote(value)} starts or ends with whitespace; check runs are named "<prefix> / <name>", so remove it (default oot)`,
  ]).default("oot"),

  RELAY_PR_EVENT_TYPE: eventType("pytorch-pr-trigger"),
  RELAY_PUSH_EVENT_TYPE: eventType("pytorch-push-trigger"),
  RELAY_PR_CLOSED_EVENT_TYPE: eventType("pytorch-pr-closed"),
  RELAY_DISPATCH_DRAFTS: flag(false),
  RELAY_TRUSTED_ASSOCIATIONS: checked([
    (value) => value.split(",").every((part) => AUTHOR_ASSOCIATIONS.includes(part.trim())),
    (value) =>
      `${quote(value)} is not a comma-separated list of author associations; use some of ${AUTHOR_ASSOCIATIONS.join(", ")} (default ${DEFAULT_TRUSTED.join(",")})`,
  ])
    .transform((value) => value.split(",").map((part) => part.trim()))
    .prefault(DEFAULT_TRUSTED.join(",")),
  RELAY_TRUST_LABEL: checked([
    (value) => value.trim() === value && value.length <= 50,
    (value) => `${quote(value)} is not a label name; use at most 50 characters without leading or trailing spaces (default ciflow/oot-approved, crcr-approved in the pytorch profile)`,
  ]).optional(),
  // Long enough for a downstream to re-run a job days later and still report.
  RELAY_TICKET_TTL_HOURS: integer("a ticket lifetime in hours", 1, 24 * 90, 24 * 14),
  RELAY_OUTBOX_CONCURRENCY: integer("a number of concurrent GitHub requests", 1, 100, 16),
  RELAY_WRITES_PER_MINUTE: integer("a per-installation write budget per minute", 1, 10_000, 80),
  RELAY_WRITES_PER_HOUR: integer("a per-installation write budget per hour", 1, 100_000, 500),
  RELAY_OUTBOX_MAX_AGE_HOURS: integer("a maximum task age in hours", 1, 24 * 7, 12),
  RELAY_GITHUB_TIMEOUT_SECONDS: integer("a GitHub request timeout in seconds", 1, 300, 30),
  RELAY_REDELIVERY_MINUTES: integer("a redelivery interval in minutes (0 turns it off)", 0, 24 * 60, 10),
  RELAY_INSTALLATION_RECHECK_MINUTES: integer("an installation recheck interval in minutes", 1, 24 * 60, 10),
  RELAY_RECONCILE_MINUTES: integer("a dispatch reconciler interval in minutes (0 turns it off)", 0, 24 * 60, 30),
  RELAY_RECONCILE_LOOKBACK_DAYS: integer("a number of days", 1, 90, 7),
  RELAY_RECONCILE_HEADS_PER_PASS: integer("a number of PR heads dispatched per reconciler pass", 1, 1000, 20),

  RELAY_CALLBACK_RATE_LIMIT: integer("a number of callbacks per minute per repo", 1, 100_000, 120),
  RELAY_JOB_TIMEOUT_HOURS: integer("a job timeout in hours", 1, 24 * 7, 6),
  RELAY_START_TIMEOUT_MINUTES: integer("a start timeout in minutes", 1, 24 * 60 * 7, 120),
  RELAY_RUN_END_WAIT_MINUTES: integer("a wait in minutes for word that a run ended", 1, 24 * 60, 30),
  RELAY_CHECK_UPDATE_DELAY_SECONDS: integer("a delay in seconds for in-progress check-run updates", 0, 600, 5),
  RELAY_NONBLOCKING_FAILURE_CONCLUSION: checked([
    (value) => value === "neutral",
    (value) => `${quote(value)} is not supported; set it to neutral, or leave it unset to show conclusions as reported`,
  ]).optional(),
  RELAY_TRUNK_FAILURE_CONCLUSION: checked([
    (value) => value === "neutral" || value === "failure",
    (value) =>
      `${quote(value)} is not a trunk failure policy; set it to neutral (a PR-blocking backend whose every failure also fails on trunk does not block the PR) or failure (the default: it blocks)`,
  ]).default("failure"),
  RELAY_ONCALL_WEBHOOKS: z
    .string()
    .transform((value, ctx) => parseOncallWebhooks(value, ctx))
    .optional(),
  RELAY_ONCALL_COMMENTS: checked([
    (value) => value === "on" || value === "off",
    (value) => `${quote(value)} is not on or off; set it to on to comment on a PR (mentioning the oncalls) when an L4 or labelled L3 backend fails on it`,
  ]).default("off"),
  RELAY_BUILDKITE_PIPELINES: z
    .string()
    .transform((value, ctx) => parseBuildkitePipelines(value, ctx))
    .optional(),
  RELAY_BUILDKITE_AUDIENCE: z.string().default("cross-repo-ci-relay"),
  RELAY_BUILDKITE_ISSUER: checked([
    (value) => httpUrl(value)?.protocol === "https:",
    (value) => `${quote(value)} is not an https URL; set it to Buildkite's OIDC issuer (default https://agent.buildkite.com)`,
  ])
    .transform(withoutTrailingSlash)
    .default("https://agent.buildkite.com"),

  RELAY_PUBLIC_URL: checked(
    [
      (value) => httpUrl(value) !== undefined,
      (value) =>
        `${quote(value)} is not an absolute http(s) URL; set it to the relay's public base URL, e.g. https://relay.example.com (default http://localhost:<PORT>)`,
    ],
    noQueryOrFragment,
  )
    .transform(withoutTrailingSlash)
    .optional(),
  DATA_DIR: z
    .string()
    .transform((dir) => path.resolve(dir))
    .prefault("./data"),
  RELAY_STATE_RETENTION_DAYS: integer("a retention in days", 1, 365, 14),
  DATABASE_URL: checked([
    (value) => /^postgres(ql)?:$/.test(safeUrl(value)?.protocol ?? ""),
    (value) =>
      `${quote(value)} is not a PostgreSQL URL; set it to postgres://user:password@host:5432/database, or unset it to keep the state in SQLite under DATA_DIR`,
  ]).optional(),
  RELAY_LEADER_CHECK_SECONDS: integer("a leader check interval in seconds", 1, 300, 5),
  DATABASE_SCHEMA: checked([
    (value) => /^[a-z_][a-z0-9_]{0,62}$/.test(value),
    (value) => `${quote(value)} is not a schema name; use lower-case letters, digits and "_", not starting with a digit (default public)`,
  ]).default("public"),

  CLICKHOUSE_URL: checked([
    (value) => httpUrl(value) !== undefined,
    (value) =>
      `${quote(value)} is not an http(s) URL; set it to the ClickHouse server's HTTP endpoint (e.g. https://clickhouse.example.com:8443), or unset it to use embedded chDB under DATA_DIR`,
  ]).optional(),
  CLICKHOUSE_USER: z.string().default("default"),
  CLICKHOUSE_PASSWORD: z.string().default(""),
  CLICKHOUSE_DATABASE: checked([
    (value) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(value),
    (value) =>
      `${quote(value)} is not a database identifier; use letters, digits and "_", not starting with a digit (default default)`,
  ]).default("default"),

  RELAY_HUD_BATCH_ROWS: integer("a number of rows per ClickHouse insert", 1, 100_000, 1000),
  RELAY_HUD_FLUSH_MS: integer("a flush interval in milliseconds", 10, 600_000, 2000),
  RELAY_HUD_RETENTION_DAYS: integer("a retention in days", 1, 36_500, 365),

  // The crcr export to hud.pytorch.org (docs/pytorch.md, "HUD rows for hud.pytorch.org"): one destination at a time.
  CRCR_CLICKHOUSE_URL: checked([
    (value) => httpUrl(value) !== undefined,
    (value) =>
      `${quote(value)} is not an http(s) URL; set it to the HTTP endpoint of the ClickHouse server holding crcr_workflow_job (e.g. https://clickhouse.example.com:8443), or unset it`,
  ]).optional(),
  CRCR_CLICKHOUSE_USER: z.string().optional(),
  CRCR_CLICKHOUSE_PASSWORD: z.string().optional(),
  CRCR_CLICKHOUSE_TABLE: checked([
    (value) => /^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$/.test(value),
    (value) => `${quote(value)} is not <database>.<table>; use letters, digits and "_" in both names (default ${CRCR_TABLE})`,
  ]).optional(),
  TORCHCI_RESULTS_URL: checked(
    [
      (value) => httpUrl(value) !== undefined,
      (value) => `${quote(value)} is not an absolute http(s) URL; set it to torchci's results API, e.g. https://hud.pytorch.org/api/crcr/results`,
    ],
    noQueryOrFragment,
    [
      (value) => {
        const url = httpUrl(value);
        return url?.protocol === "https:" || isLoopback(url?.hostname ?? "");
      },
      (value) =>
        `${quote(value)} uses http on a non-loopback host; the API token goes with every request, so use https (http is allowed only for localhost, 127.0.0.0/8 and [::1])`,
    ],
  ).optional(),
  TORCHCI_API_TOKEN: checked([
    (value) => /^[\x21-\x7e]+$/.test(value),
    () => "has characters an HTTP header cannot carry (whitespace, control or non-ASCII characters); the value is not shown: it is a secret",
  ]).optional(),

  CALLBACK_AUDIENCE: z.string().default("cross-repo-ci-relay"),
  // The audience the production relay's action requests (`core.getIDToken("pytorch-cross-repo-ci-relay")`).
  RELAY_LEGACY_CALLBACK_AUDIENCE: z.string().min(1).default("pytorch-cross-repo-ci-relay"),
  GITHUB_OIDC_ISSUER: checked(
    [
      (value) => httpUrl(value) !== undefined,
      (value) => `${quote(value)} is not an absolute http(s) URL; set it to the Actions OIDC issuer (default ${OIDC_ISSUER})`,
    ],
    noQueryOrFragment,
    [
      (value) => {
        const url = httpUrl(value);
        return url?.protocol === "https:" || isLoopback(url?.hostname ?? "");
      },
      (value) =>
        `${quote(value)} uses http on a non-loopback host; the issuer's JWKS is the trust anchor for callback tokens, so it must be fetched over https (http is allowed only for localhost, 127.0.0.0/8 and [::1])`,
    ],
  )
    .transform(withoutTrailingSlash)
    .default(OIDC_ISSUER),

  RELAY_TICKET_SECRET: secret.optional(),
  RELAY_TICKET_SECRET_PREVIOUS: secret.optional(),
  WEBHOOK_SECRET: z.string().optional(),
  // Accepted beside WEBHOOK_SECRET while a new webhook secret is rolled out (docs/security.md).
  WEBHOOK_SECRET_PREVIOUS: z.string().min(1).optional(),

  // Limits of the public HTTP surface (docs/security.md). GitHub caps webhook payloads at 25 MB.
  RELAY_WEBHOOK_MAX_BYTES: integer("a webhook body limit in bytes", 1024, 26_214_400, 26_214_400),
  // Webhook bodies must be read whole before their signature can be checked: this bounds them all together.
  RELAY_WEBHOOK_INFLIGHT_BYTES: integer("a total of webhook body bytes in memory", 1024, 4_294_967_296, 104_857_600),
  RELAY_HTTP_HEADERS_TIMEOUT_SECONDS: integer("a header timeout in seconds", 1, 120, 10),
  RELAY_HTTP_REQUEST_TIMEOUT_SECONDS: integer("a request timeout in seconds", 1, 600, 30),
  RELAY_HTTP_KEEPALIVE_TIMEOUT_SECONDS: integer("a keep-alive timeout in seconds", 1, 600, 5),
  RELAY_HTTP_MAX_CONNECTIONS: integer("a maximum number of open connections", 1, 100_000, 1000),

  // Fair use of the upstream installation's write budget (docs/security.md).
  RELAY_MAX_JOB_CHECKS: integer("a maximum number of job check runs per backend and head", 0, 1000, 50),
  // Nightly self-reports name an upstream sha the relay verifies; these bound what that costs.
  RELAY_COMMIT_LOOKUP_TIMEOUT_SECONDS: integer("a commit lookup timeout in seconds", 1, 60, 3),
  RELAY_COMMIT_LOOKUPS_PER_HOUR: integer("a number of upstream commit lookups per hour per repo", 1, 10_000, 60),

  // An optional second App for the downstream side (dispatch, cancel): docs/security.md "Two Apps".
  DOWNSTREAM_APP_ID: checked([
    (value) => /^[1-9]\d*$/.test(value),
    (value) => `${quote(value)} is not a GitHub App ID; set it to the downstream App's numeric ID, or unset it to use one App`,
  ]).optional(),
  DOWNSTREAM_PRIVATE_KEY: z.string().optional(),
  DOWNSTREAM_PRIVATE_KEY_PATH: z.string().optional(),
  DOWNSTREAM_WEBHOOK_SECRET: z.string().min(1).optional(),

  GHE_HOST: checked([
    (value) => HOST_PORT.test(value) && URL.canParse(`https://${value}`),
    (value) =>
      `${quote(value)} is not a host[:port]; set it to your GitHub Enterprise Server's host name without scheme or path (e.g. github.example.com)`,
  ]).optional(),
  GHE_PROTOCOL: checked([
    (value) => value === "https" || value === "http",
    (value) => `${quote(value)} is not a protocol; set it to https (default) or http`,
  ]).default("https"),

  // Probot reads these itself; they are only checked here so mistakes surface with the rest.
  APP_ID: checked([
    (value) => /^[1-9]\d*$/.test(value),
    (value) => `${quote(value)} is not a GitHub App ID; set it to the numeric App ID shown on the App's settings page`,
  ]).optional(),
  WEBHOOK_PATH: checked([
    (value) => value.startsWith("/"),
    (value) => `${quote(value)} does not start with "/"; set it to a URL path (default /api/github/webhooks)`,
  ]).default("/api/github/webhooks"),
  LOG_FORMAT: checked([
    (value) => value === "json" || value === "pretty",
    (value) => `${quote(value)} is not a log format; set it to json or pretty (default: json in production, pretty otherwise)`,
  ]).optional(),
  LOG_LEVEL: checked([
    (value) => LOG_LEVELS.includes(value),
    (value) => `${quote(value)} is not a log level; set it to one of ${LOG_LEVELS.join(", ")} (Probot's default: info)`,
  ]).optional(),
});

const ConfigSchema = EnvVars.superRefine(
  (vars, ctx) => {
    if (vars.NODE_ENV !== "production") return;
    if (vars.WEBHOOK_SECRET === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["WEBHOOK_SECRET"],
        message:
          'not set, but required in production (Probot would silently verify webhooks with the secret "development"); set it to the App\'s webhook secret',
      });
    }
    if (vars.DOWNSTREAM_APP_ID !== undefined && vars.DOWNSTREAM_WEBHOOK_SECRET === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["DOWNSTREAM_WEBHOOK_SECRET"],
        message: "not set, but required in production when DOWNSTREAM_APP_ID is set; set it to the downstream App's webhook secret",
      });
    }
    if (vars.RELAY_TICKET_SECRET === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["RELAY_TICKET_SECRET"],
        message: "not set, but required in production; generate one with `openssl rand -hex 32`",
      });
    }
  },
  // Run even when other variables are invalid, so every problem is reported at once.
  { when: () => true },
)
  .superRefine(
    (vars, ctx) => {
      if (vars.RELAY_WEBHOOK_INFLIGHT_BYTES < vars.RELAY_WEBHOOK_MAX_BYTES) {
        ctx.addIssue({
          code: "custom",
          path: ["RELAY_WEBHOOK_INFLIGHT_BYTES"],
          message: `is below RELAY_WEBHOOK_MAX_BYTES (${vars.RELAY_WEBHOOK_MAX_BYTES}), so the largest allowed webhook could never be read; raise it or lower RELAY_WEBHOOK_MAX_BYTES`,
        });
      }
      const key = [vars.DOWNSTREAM_PRIVATE_KEY, vars.DOWNSTREAM_PRIVATE_KEY_PATH].filter((value) => value !== undefined);
      if (vars.DOWNSTREAM_APP_ID !== undefined && key.length !== 1) {
        ctx.addIssue({
          code: "custom",
          path: ["DOWNSTREAM_PRIVATE_KEY"],
          message: "set exactly one of DOWNSTREAM_PRIVATE_KEY (PEM) and DOWNSTREAM_PRIVATE_KEY_PATH when DOWNSTREAM_APP_ID is set",
        });
      }
      if (vars.DOWNSTREAM_APP_ID === undefined && (key.length > 0 || vars.DOWNSTREAM_WEBHOOK_SECRET !== undefined)) {
        ctx.addIssue({
          code: "custom",
          path: ["DOWNSTREAM_APP_ID"],
          message: "not set, but other DOWNSTREAM_* variables are; set it to the downstream App's ID, or unset them all to use one App",
        });
      }
    },
    { when: () => true },
  )
  .superRefine(
    (vars, ctx) => {
      const problem = (variable: string, message: string) => ctx.addIssue({ code: "custom", path: [variable], message });
      const clickhouse = vars.CRCR_CLICKHOUSE_URL === undefined ? undefined : httpUrl(vars.CRCR_CLICKHOUSE_URL);
      if (vars.CRCR_CLICKHOUSE_URL !== undefined && vars.TORCHCI_RESULTS_URL !== undefined) {
        problem("TORCHCI_RESULTS_URL", "set together with CRCR_CLICKHOUSE_URL, but results are exported to one destination; unset one of them");
      }
      if (vars.TORCHCI_RESULTS_URL !== undefined && vars.TORCHCI_API_TOKEN === undefined) {
        problem("TORCHCI_API_TOKEN", "not set, but required with TORCHCI_RESULTS_URL; set it to torchci's INTERNAL_API_TOKEN (sent as x-hud-internal-bot)");
      }
      if (vars.TORCHCI_RESULTS_URL === undefined && vars.TORCHCI_API_TOKEN !== undefined) {
        problem("TORCHCI_API_TOKEN", "set without TORCHCI_RESULTS_URL; set the URL too, or unset the token");
      }
      for (const name of ["CRCR_CLICKHOUSE_USER", "CRCR_CLICKHOUSE_PASSWORD", "CRCR_CLICKHOUSE_TABLE"] as const) {
        if (vars.CRCR_CLICKHOUSE_URL === undefined && vars[name] !== undefined) problem(name, "set without CRCR_CLICKHOUSE_URL; set the URL too, or unset it");
      }
      const separate = vars.CRCR_CLICKHOUSE_USER !== undefined || vars.CRCR_CLICKHOUSE_PASSWORD !== undefined;
      if (clickhouse && (clickhouse.username !== "" || clickhouse.password !== "") && separate) {
        problem("CRCR_CLICKHOUSE_URL", "carries credentials, and CRCR_CLICKHOUSE_USER or CRCR_CLICKHOUSE_PASSWORD is set too; give them in one place");
      }
    },
    { when: () => true },
  )
  .transform(toConfig);

/**
 * Where results go in the crcr_workflow_job shape (docs/pytorch.md); undefined when off. Credentials in
 * CRCR_CLICKHOUSE_URL move to user and password: the URL kept holds none.
 */
function crcrExportOf(vars: z.output<typeof EnvVars>) {
  if (vars.TORCHCI_RESULTS_URL !== undefined && vars.TORCHCI_API_TOKEN !== undefined) {
    return { kind: "torchci" as const, url: vars.TORCHCI_RESULTS_URL, token: vars.TORCHCI_API_TOKEN };
  }
  if (vars.CRCR_CLICKHOUSE_URL === undefined) return undefined;
  const url = new URL(vars.CRCR_CLICKHOUSE_URL);
  const inUrl = url.username !== "" || url.password !== "";
  const user = inUrl ? decodeURIComponent(url.username) || "default" : (vars.CRCR_CLICKHOUSE_USER ?? "default");
  const password = inUrl ? decodeURIComponent(url.password) : (vars.CRCR_CLICKHOUSE_PASSWORD ?? "");
  url.username = "";
  url.password = "";
  const table = vars.CRCR_CLICKHOUSE_TABLE ?? CRCR_TABLE;
  const database = table.slice(0, table.indexOf("."));
  /** `table`: `<database>.<table>`, as inserts name it. */
  return { kind: "clickhouse" as const, server: { kind: "server" as const, url: url.href, user, password, database }, table };
}

function toConfig(vars: z.output<typeof EnvVars>) {
  const publicUrl = vars.RELAY_PUBLIC_URL ?? `http://localhost:${vars.PORT}`;
  const gheBaseUrl = vars.GHE_HOST === undefined ? undefined : `${vars.GHE_PROTOCOL}://${vars.GHE_HOST}`;
  const previousSecret = vars.RELAY_TICKET_SECRET_PREVIOUS;
  const auditRepo = vars.RELAY_AUDIT_REPO ?? vars.ALLOWLIST_REPO;
  return {
    production: vars.NODE_ENV === "production",
    port: vars.PORT,
    host: vars.HOST,
    publicUrl,
    dataDir: vars.DATA_DIR,
    /** Where the state lives: SQLite under DATA_DIR (one relay process), or PostgreSQL (DATABASE_URL; several replicas). */
    database:
      vars.DATABASE_URL === undefined
        ? ({ kind: "sqlite" } as const)
        : ({ kind: "postgres", url: vars.DATABASE_URL, schema: vars.DATABASE_SCHEMA, leaderCheckMs: vars.RELAY_LEADER_CHECK_SECONDS * 1000 } as const),
    stateRetentionMs: vars.RELAY_STATE_RETENTION_DAYS * 86_400_000,
    webhookPath: vars.WEBHOOK_PATH,
    webhookSecretSet: vars.WEBHOOK_SECRET !== undefined,
    /** Secrets a webhook signature may match: the current one first, then the one being rotated out. */
    webhookSecrets: [vars.WEBHOOK_SECRET, vars.WEBHOOK_SECRET_PREVIOUS].filter((value): value is string => value !== undefined),
    http: {
      webhookMaxBytes: vars.RELAY_WEBHOOK_MAX_BYTES,
      webhookInflightBytes: vars.RELAY_WEBHOOK_INFLIGHT_BYTES,
      headersTimeoutMs: vars.RELAY_HTTP_HEADERS_TIMEOUT_SECONDS * 1000,
      requestTimeoutMs: vars.RELAY_HTTP_REQUEST_TIMEOUT_SECONDS * 1000,
      keepAliveTimeoutMs: vars.RELAY_HTTP_KEEPALIVE_TIMEOUT_SECONDS * 1000,
      maxConnections: vars.RELAY_HTTP_MAX_CONNECTIONS,
    },
    log: { level: vars.LOG_LEVEL ?? "info", format: vars.LOG_FORMAT ?? (vars.NODE_ENV === "production" ? "json" : "pretty") },
    checks: { maxJobChecksPerBackend: vars.RELAY_MAX_JOB_CHECKS },
    selfReports: { lookupTimeoutMs: vars.RELAY_COMMIT_LOOKUP_TIMEOUT_SECONDS * 1000, lookupsPerHour: vars.RELAY_COMMIT_LOOKUPS_PER_HOUR },
    downstreamApp:
      vars.DOWNSTREAM_APP_ID === undefined
        ? undefined
        : {
            appId: Number(vars.DOWNSTREAM_APP_ID),
            privateKey: vars.DOWNSTREAM_PRIVATE_KEY,
            privateKeyPath: vars.DOWNSTREAM_PRIVATE_KEY_PATH,
            webhookSecret: vars.DOWNSTREAM_WEBHOOK_SECRET,
          },
    upstream: { repo: vars.UPSTREAM_REPO },
    allowlist: {
      source:
        vars.ALLOWLIST_REPO === undefined
          ? { kind: "file" as const, file: vars.ALLOWLIST_FILE }
          : { kind: "repo" as const, repo: vars.ALLOWLIST_REPO, path: vars.ALLOWLIST_PATH, ref: vars.ALLOWLIST_REF },
      refreshSeconds: vars.ALLOWLIST_REFRESH_SECONDS,
      /** What a promoted backend missing its new level's requirements does to `allowlist / validate` (docs/levels.md). */
      promotionHealth: vars.RELAY_PROMOTION_HEALTH as "neutral" | "failure" | "off",
      /** One of them must approve an allowlist PR that brings a backend to L4; none: a note only. */
      l4Approvers: vars.RELAY_L4_APPROVERS ?? [],
    },
    /** The scheduled health audit (docs/levels.md); undefined when off: no audit repo (a local allowlist file), or RELAY_AUDIT_HOURS=0. */
    audit:
      auditRepo === undefined || vars.RELAY_AUDIT_HOURS === 0
        ? undefined
        : { repo: auditRepo, windows: vars.RELAY_AUDIT_WINDOWS, intervalMs: vars.RELAY_AUDIT_HOURS * 3_600_000 },
    /** RELAY_PROFILE and what it implies (src/profile.ts); variables set explicitly win. */
    profile: { name: vars.RELAY_PROFILE as ProfileName, torchciAllowlist: PROFILES[vars.RELAY_PROFILE as ProfileName].torchciAllowlist },
    labels: {
      prefix: vars.RELAY_LABEL_PREFIX ?? PROFILES[vars.RELAY_PROFILE as ProfileName].labelPrefix,
      checkPrefix: vars.RELAY_CHECK_PREFIX,
      /** Check runs named crcr/<owner>/<repo>/<workflow>/<job> (the pytorch profile); RELAY_CHECK_PREFIX is then unused. */
      crcrNames: PROFILES[vars.RELAY_PROFILE as ProfileName].crcrCheckNames,
    },
    dispatch: {
      prEventType: vars.RELAY_PR_EVENT_TYPE,
      pushEventType: vars.RELAY_PUSH_EVENT_TYPE,
      closedEventType: vars.RELAY_PR_CLOSED_EVENT_TYPE,
      drafts: vars.RELAY_DISPATCH_DRAFTS,
      trustedAssociations: vars.RELAY_TRUSTED_ASSOCIATIONS,
      trustLabel: vars.RELAY_TRUST_LABEL ?? PROFILES[vars.RELAY_PROFILE as ProfileName].trustLabel,
      ticketTtlSeconds: vars.RELAY_TICKET_TTL_HOURS * 3600,
    },
    outbox: {
      concurrency: vars.RELAY_OUTBOX_CONCURRENCY,
      writesPerMinute: vars.RELAY_WRITES_PER_MINUTE,
      writesPerHour: vars.RELAY_WRITES_PER_HOUR,
      maxAgeMs: vars.RELAY_OUTBOX_MAX_AGE_HOURS * 3_600_000,
      requestTimeoutMs: vars.RELAY_GITHUB_TIMEOUT_SECONDS * 1000,
    },
    redeliveryIntervalMs: vars.RELAY_REDELIVERY_MINUTES * 60_000,
    installationRecheckMs: vars.RELAY_INSTALLATION_RECHECK_MINUTES * 60_000,
    reconcile: {
      intervalMs: vars.RELAY_RECONCILE_MINUTES * 60_000,
      lookbackMs: vars.RELAY_RECONCILE_LOOKBACK_DAYS * 86_400_000,
      headsPerPass: vars.RELAY_RECONCILE_HEADS_PER_PASS,
    },
    // This module is the only place in the codebase allowed to name github.com / api.github.com.
    github:
      gheBaseUrl === undefined
        ? { apiBaseUrl: "https://api.github.com", webBaseUrl: "https://github.com" }
        : { apiBaseUrl: `${gheBaseUrl}/api/v3`, webBaseUrl: gheBaseUrl },
    callback: {
      url: `${publicUrl}/relay/callback`,
      audience: vars.CALLBACK_AUDIENCE,
      /** POST /github/callback (the production relay's body, opted-in repos only): its tokens' audience. */
      legacyAudience: vars.RELAY_LEGACY_CALLBACK_AUDIENCE,
      oidcIssuer: vars.GITHUB_OIDC_ISSUER,
      ratePerMinute: vars.RELAY_CALLBACK_RATE_LIMIT,
      checkUpdateDelayMs: vars.RELAY_CHECK_UPDATE_DELAY_SECONDS * 1000,
      jobTimeoutMs: vars.RELAY_JOB_TIMEOUT_HOURS * 3_600_000,
      startTimeoutMs: vars.RELAY_START_TIMEOUT_MINUTES * 60_000,
      runEndWaitMs: vars.RELAY_RUN_END_WAIT_MINUTES * 60_000,
      nonBlockingFailureConclusion: vars.RELAY_NONBLOCKING_FAILURE_CONCLUSION,
      /** A blocking backend's aggregate whose every failure is trunk's too (docs/levels.md, "Trunk baseline"). */
      trunkFailureConclusion: vars.RELAY_TRUNK_FAILURE_CONCLUSION as "neutral" | "failure",
      /** One comment per (PR head, backend) @-mentioning the oncalls (docs/levels.md, "Oncall comments"). */
      oncallComments: vars.RELAY_ONCALL_COMMENTS === "on",
      /** Lower-cased downstream repo → its oncall webhook URL (secret: never logged). */
      oncallWebhooks: vars.RELAY_ONCALL_WEBHOOKS ?? {},
      buildkite:
        vars.RELAY_BUILDKITE_PIPELINES === undefined
          ? undefined
          : { issuer: vars.RELAY_BUILDKITE_ISSUER, audience: vars.RELAY_BUILDKITE_AUDIENCE, pipelines: vars.RELAY_BUILDKITE_PIPELINES },
    },
    // Outside production a missing secret is replaced by a random one: tickets then die with the process.
    tickets:
      vars.RELAY_TICKET_SECRET === undefined
        ? { secret: randomBytes(32).toString("hex"), previousSecret, ephemeral: true }
        : { secret: vars.RELAY_TICKET_SECRET, previousSecret, ephemeral: false },
    clickhouse:
      vars.CLICKHOUSE_URL === undefined
        ? { kind: "embedded" as const, path: path.join(vars.DATA_DIR, "clickhouse"), database: vars.CLICKHOUSE_DATABASE }
        : {
            kind: "server" as const,
            url: vars.CLICKHOUSE_URL,
            user: vars.CLICKHOUSE_USER,
            password: vars.CLICKHOUSE_PASSWORD,
            database: vars.CLICKHOUSE_DATABASE,
          },
    hud: { batchRows: vars.RELAY_HUD_BATCH_ROWS, flushMs: vars.RELAY_HUD_FLUSH_MS, retentionDays: vars.RELAY_HUD_RETENTION_DAYS },
    /** Results also exported in hud.pytorch.org's crcr_workflow_job shape (src/export/); undefined when off. */
    crcrExport: crcrExportOf(vars),
  };
}

type DeepReadonly<T> = { readonly [K in keyof T]: DeepReadonly<T[K]> };

export type RelayConfig = DeepReadonly<z.output<typeof ConfigSchema>>;

function deepFreeze<T extends object>(value: T): DeepReadonly<T> {
  for (const child of Object.values(value)) {
    if (typeof child === "object" && child !== null) deepFreeze(child);
  }
  return Object.freeze(value);
}

export function loadConfig(env: Record<string, string | undefined> = process.env): RelayConfig {
  const set = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ""));
  const result = ConfigSchema.safeParse(set);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((issue) => `${String(issue.path[0])}: ${issue.message}`));
  }
  return deepFreeze(result.data);
}
