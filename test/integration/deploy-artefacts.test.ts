// The deployment artefacts (Dockerfile, compose.yaml, deploy/Caddyfile; docs/deploy.md) checked without
// building or starting anything: the compose file's shape, that no secret is written into it, that every
// variable it hands the relay is one src/config.ts reads, and the runtime image's user, health check and
// base images. `docker compose config` validates the file too where the compose plugin is installed.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const read = (file: string) => readFileSync(path.join(ROOT, file), "utf8");

interface Service {
  image?: string;
  build?: unknown;
  environment?: Record<string, string | number | boolean | null> | string[];
  env_file?: string | Array<string | { path: string }>;
  depends_on?: string[] | Record<string, { condition?: string }>;
  volumes?: Array<string | { source?: string; target?: string }>;
  healthcheck?: { test?: string | string[] };
}

// Compose resolves `<<:` merge keys (the relays share one x-relay block); so does this parse.
const compose = parse(read("compose.yaml"), { merge: true }) as { services: Record<string, Service> };
const services = compose.services;
const RELAYS = ["relay-1", "relay-2"];

/** A service's environment as key → value (compose accepts a map or a list of KEY=VALUE). */
function environment(service: Service): Record<string, string | undefined> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(env.map((entry) => {
      const at = entry.indexOf("=");
      return at === -1 ? [entry, undefined] : [entry.slice(0, at), entry.slice(at + 1)];
    }));
  }
  return Object.fromEntries(Object.entries(env).map(([key, value]) => [key, value === null ? undefined : String(value)]));
}

/** The variables src/config.ts validates: the keys of its `EnvVars` object. */
function configVariables(): Set<string> {
  const source = read("src/config.ts");
  const start = source.indexOf("const EnvVars = z.object({");
  const end = source.indexOf("\n});", start);
  expect(start, "src/config.ts no longer declares `const EnvVars = z.object({`").toBeGreaterThan(-1);
  return new Set([...source.slice(start, end).matchAll(/^ {2}([A-Z][A-Z0-9_]*):/gm)].map((match) => match[1]!));
}

/** A `${VAR}` reference, with compose's `:-default`, `-default`, `:?error` and `?error` forms. */
const REFERENCE = /^\$\{[A-Za-z_][A-Za-z0-9_]*(?::?[-?][^}]*)?\}$/;
const SECRET_KEY = /SECRET|PASSWORD|PRIVATE_KEY|TOKEN/;

describe("compose.yaml", () => {
  it("has two relay replicas, a proxy, PostgreSQL and ClickHouse", () => {
    for (const name of [...RELAYS, "proxy", "postgres", "clickhouse"]) expect(services, name).toHaveProperty(name);
    expect(services.proxy!.image).toMatch(/^caddy:2/);
    expect(services.postgres!.image).toMatch(/^postgres:17/);
    expect(services.clickhouse!.image).toMatch(/^clickhouse\/clickhouse-server:\d/);
    expect(services.postgres!.healthcheck?.test).toEqual(expect.arrayContaining([expect.stringContaining("pg_isready")]));
    expect(services.clickhouse!.healthcheck?.test).toBeDefined();
  });

  it("runs both replicas from the Dockerfile, on the shared PostgreSQL and ClickHouse server", () => {
    for (const name of RELAYS) {
      const relay = services[name]!;
      const env = environment(relay);
      expect(relay.build, name).toBeDefined();
      expect(env.DATABASE_URL, name).toMatch(/^postgres(?:ql)?:\/\/[^@]+@postgres:5432\//);
      expect(env.CLICKHOUSE_URL, name).toMatch(/^https?:\/\/clickhouse:8123\/?$/);
      expect(relay.env_file, `${name} takes its secrets from an env_file`).toBeDefined();
      expect(relay.depends_on, name).toMatchObject({ postgres: { condition: "service_healthy" } });
    }
    expect(environment(services["relay-1"]!)).toEqual(environment(services["relay-2"]!));
  });

  it("puts Caddy in front of both replicas with /readyz health checks", () => {
    const mounts = (services.proxy!.volumes ?? []).map((volume) => (typeof volume === "string" ? volume : `${volume.source}:${volume.target}`));
    expect(mounts).toContainEqual(expect.stringMatching(/^\.\/deploy\/Caddyfile:\/etc\/caddy\/Caddyfile/));
    const caddyfile = read("deploy/Caddyfile");
    expect(caddyfile).toMatch(/reverse_proxy\s+relay-1:3000\s+relay-2:3000/);
    expect(caddyfile).toMatch(/lb_policy\s+round_robin/);
    expect(caddyfile).toMatch(/health_uri\s+\/readyz/);
  });

  it("writes no secret into the file", () => {
    for (const [name, service] of Object.entries(services)) {
      for (const [key, value] of Object.entries(environment(service))) {
        if (SECRET_KEY.test(key) && value !== undefined) expect(value, `${name}: ${key}`).toMatch(REFERENCE);
        // A password inside a URL (DATABASE_URL) must be a reference too.
        const password = /^[a-z][a-z0-9+.-]*:\/\/[^/:@]+:([^@]*)@/i.exec(value ?? "")?.[1];
        if (password !== undefined) expect(password, `${name}: ${key}`).toMatch(REFERENCE);
      }
    }
    expect(read("compose.yaml")).not.toMatch(/BEGIN [A-Z ]*PRIVATE KEY|gh[pousr]_[A-Za-z0-9]{20,}/);
  });

  it("hands the relay only variables src/config.ts knows", () => {
    const known = configVariables();
    // Guard against a pattern that silently matches nothing.
    expect(known).toContain("DATABASE_URL");
    expect(known).toContain("CLICKHOUSE_URL");
    expect(known.size).toBeGreaterThan(50);
    for (const name of RELAYS) {
      const unknown = Object.keys(environment(services[name]!)).filter((key) => !known.has(key));
      expect(unknown, `${name} sets variables src/config.ts does not read`).toEqual([]);
    }
  });

  const compose_ = spawnSync("docker", ["compose", "version"], { encoding: "utf8" });
  const composeMissing =
    compose_.error !== undefined
      ? "docker is not on PATH"
      : compose_.status !== 0
        ? `the docker compose plugin is not installed (${(compose_.stderr || compose_.stdout).trim().split("\n")[0]})`
        : undefined;
  const title = `is valid for \`docker compose config -q\`${composeMissing ? ` — skipped: ${composeMissing}` : ""}`;

  it(title, ({ skip }) => {
    if (composeMissing) {
      console.warn(`deploy-artefacts: docker compose config not run: ${composeMissing}`);
      skip(composeMissing);
    }
    const dir = mkdtempSync(path.join(tmpdir(), "relay-compose-"));
    try {
      const envFile = path.join(dir, "env");
      // Throwaway values for the ${…:?} references; also the relays' env_file (RELAY_ENV_FILE), so no
      // .env is needed in the working tree.
      writeFileSync(
        envFile,
        ["POSTGRES_PASSWORD=test-only", "CLICKHOUSE_PASSWORD=test-only", "RELAY_HOST=relay.example.com", `RELAY_ENV_FILE=${envFile}`, ""].join("\n"),
      );
      const result = spawnSync("docker", ["compose", "-f", "compose.yaml", "--env-file", envFile, "config", "-q"], { cwd: ROOT, encoding: "utf8" });
      expect(result.status, result.stderr).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("Dockerfile", () => {
  // Continuation lines joined, comments dropped: one instruction a line.
  const instructions = read("Dockerfile")
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
  const stages: string[][] = [];
  for (const line of instructions) {
    if (/^FROM\s/i.test(line)) stages.push([line]);
    else stages.at(-1)?.push(line);
  }
  const runtime = stages.at(-1) ?? [];

  it("builds on the current Node LTS in every stage", () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of stages) expect(stage[0]).toMatch(/^FROM\s+node:24[-.\s]/i);
  });

  it("runs the server as a non-root user with a /readyz health check", () => {
    const users = runtime.filter((line) => /^USER\s/i.test(line)).map((line) => line.split(/\s+/)[1]);
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)).not.toMatch(/^(root|0)(:|$)/);
    const healthcheck = runtime.find((line) => /^HEALTHCHECK\s/i.test(line));
    expect(healthcheck).toMatch(/\/readyz/);
    expect(runtime.find((line) => /^CMD\s/i.test(line))).toBe('CMD ["node", "lib/server/main.js"]');
  });

  it("ships what the server reads at run time, and keeps secrets and local state out of the build", () => {
    const copies = runtime.filter((line) => /^COPY\s/i.test(line)).join("\n");
    for (const file of ["lib", "node_modules", "package.json", "app.yml", "app-downstream.yml"]) expect(copies).toContain(file);
    const ignored = read(".dockerignore").split("\n").map((line) => line.trim());
    for (const entry of ["node_modules/", "lib/", "data/", ".env", "*.pem", ".git/"]) expect(ignored).toContain(entry);
  });
});
