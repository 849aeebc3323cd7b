// The deployment artefacts (Dockerfile, compose.yaml, deploy/Caddyfile, .env.example; docs/deploy.md)
// checked without building or starting anything: the compose file's shape, that no secret is written into
// it, that every variable it hands the relay is one src/config.ts reads, the runtime image's user and
// health check, the proxy's routes against the relay's, .env.example against src/config.ts, the App
// manifests against the doc's tables, and one Node version policy across engines, image and doc.
// `docker compose config` validates the file too where the compose plugin is installed.
import { spawnSync } from "node:child_process";
import { readdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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

  it("builds every stage on the same Node image", () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const images = stages.map((stage) => /^FROM\s+(node:\S+)/i.exec(stage[0]!)?.[1]);
    expect(images[0]).toMatch(/^node:\d+-/);
    for (const image of images) expect(image).toBe(images[0]);
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

/** A section of docs/deploy.md: from its heading to the next heading of the same or a higher level. */
function deploySection(heading: string): string {
  const doc = read("docs/deploy.md");
  const start = doc.indexOf(`\n${heading}\n`);
  expect(start, `docs/deploy.md has no "${heading}"`).toBeGreaterThan(-1);
  const level = /^#+/.exec(heading)![0];
  const next = doc.slice(start + heading.length + 2).search(new RegExp(`^#{1,${level.length}} `, "m"));
  return next === -1 ? doc.slice(start) : doc.slice(start, start + heading.length + 2 + next);
}

describe(".env.example", () => {
  // Read by Probot or its helpers, not by src/config.ts; each is documented in .env.example anyway.
  const NOT_IN_CONFIG: Record<string, { file: string; reads: string }> = {
    PRIVATE_KEY: { file: "node_modules/@probot/get-private-key/dist-src/index.js", reads: "env.PRIVATE_KEY" },
    PRIVATE_KEY_PATH: { file: "node_modules/@probot/get-private-key/dist-src/index.js", reads: "env.PRIVATE_KEY_PATH" },
    REDIS_URL: { file: "node_modules/probot/lib/create-probot.js", reads: "REDIS_URL" },
    WEBHOOK_PROXY_URL: { file: "src/server/start.ts", reads: "env.WEBHOOK_PROXY_URL" },
  };
  /** `NAME=` lines, commented out or not. */
  const documented = new Set([...read(".env.example").matchAll(/^#? ?([A-Z][A-Z0-9_]*)=/gm)].map((match) => match[1]!));

  it("documents every variable src/config.ts reads", () => {
    const missing = [...configVariables()].filter((name) => !documented.has(name));
    expect(missing, "add them to .env.example, with their default and range").toEqual([]);
  });

  it("documents nothing the relay does not read", () => {
    const known = configVariables();
    const unread = [...documented].filter((name) => !known.has(name) && !(name in NOT_IN_CONFIG));
    expect(unread, "variables in .env.example that neither src/config.ts nor Probot reads").toEqual([]);
    for (const [name, { file, reads }] of Object.entries(NOT_IN_CONFIG)) {
      expect(documented, name).toContain(name);
      expect(read(file), `${file} no longer reads ${name}`).toContain(reads);
    }
  });
});

describe("App registration in docs/deploy.md", () => {
  const section = deploySection("### Permissions and events");
  /** The rows of the table whose header starts with `| <first> |`: first column → the next two. */
  function table(first: string): Record<string, [string, string]> {
    const start = section.indexOf(`| ${first} |`);
    expect(start, `no table headed "${first}"`).toBeGreaterThan(-1);
    const rows = section.slice(start).split("\n\n")[0]!.split("\n").slice(2);
    return Object.fromEntries(
      rows.map((row) => {
        const [name, one, downstream] = row.split("|").slice(1, 4).map((cell) => cell.trim());
        return [name!.replace(/`/g, ""), [one!, downstream!]];
      }),
    );
  }
  const manifest = (file: string) => parse(read(file)) as { default_permissions: Record<string, string>; default_events: string[] };
  const main = manifest("app.yml");
  const downstream = manifest("app-downstream.yml");

  it("lists exactly the permissions of app.yml and app-downstream.yml", () => {
    const rows = table("Permission");
    const names = new Set([...Object.keys(main.default_permissions), ...Object.keys(downstream.default_permissions)]);
    expect(Object.keys(rows).sort()).toEqual([...names].sort());
    for (const [name, [one, second]] of Object.entries(rows)) {
      expect(one, `${name} in app.yml`).toBe(main.default_permissions[name] ?? "—");
      expect(second, `${name} in app-downstream.yml`).toBe(downstream.default_permissions[name] ?? "—");
    }
  });

  it("lists exactly the events of app.yml and app-downstream.yml", () => {
    const rows = table("Event");
    expect(Object.keys(rows).sort()).toEqual([...new Set([...main.default_events, ...downstream.default_events])].sort());
    for (const [name, [one, second]] of Object.entries(rows)) {
      expect(one, `${name} in app.yml`).toBe(main.default_events.includes(name) ? "yes" : "—");
      expect(second, `${name} in app-downstream.yml`).toBe(downstream.default_events.includes(name) ? "yes" : "—");
    }
  });
});

describe("deploy/Caddyfile routes", () => {
  const caddyfile = read("deploy/Caddyfile");
  const patterns = /^\s*@public\s+path\s+(.+)$/m.exec(caddyfile)?.[1]?.trim().split(/\s+/) ?? [];
  /** Caddy's path matcher: exact, or a prefix with a trailing `*`; case-insensitive. */
  const matches = (pattern: string, path: string) =>
    pattern.endsWith("*") ? path.toLowerCase().startsWith(pattern.slice(0, -1).toLowerCase()) : path.toLowerCase() === pattern.toLowerCase();

  /** Every route path in src/ (`:name` segments filled in), the webhook route at config.ts's default path. */
  function relayRoutes(): string[] {
    const dir = path.join(ROOT, "src");
    const files = readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((file) => file.endsWith(".ts") && !file.startsWith("action"));
    const paths = files.flatMap((file) =>
      [...readFileSync(path.join(dir, file), "utf8").matchAll(/\b(?:path|page|api):\s*(?:[\w.]+\s*\?\?\s*)?"(\/[^"]*)"/g)].map((match) => match[1]!),
    );
    const webhookPath = /WEBHOOK_PATH:[\s\S]*?\.default\("([^"]+)"\)/.exec(read("src/config.ts"))?.[1];
    expect(webhookPath).toBe("/api/github/webhooks");
    return [...new Set([...paths, webhookPath!])].map((route) => route.replace(/:\w+/g, "x"));
  }

  it("passes on every route of the relay but /metrics, and nothing else", () => {
    const webhook = patterns.find((pattern) => pattern.startsWith("{$WEBHOOK_PATH"));
    // The webhook path is the relays' WEBHOOK_PATH (compose.yaml hands Caddy the same value), by default config.ts's.
    expect(webhook).toBe("{$WEBHOOK_PATH:/api/github/webhooks}");
    expect(environment(services.proxy!).WEBHOOK_PATH).toBe("${WEBHOOK_PATH:-/api/github/webhooks}");
    const resolved = patterns.map((pattern) => (pattern === webhook ? "/api/github/webhooks" : pattern));

    const routes = relayRoutes();
    // Guard against a pattern that silently matches nothing.
    for (const route of ["/relay/callback", "/github/callback", "/api/gate/x/x/pull/x", "/hud", "/hud/x/x", "/api/hud/summary", "/readyz", "/metrics"]) {
      expect(routes).toContain(route);
    }
    const passed = (route: string) => resolved.some((pattern) => matches(pattern, route));
    expect(routes.filter((route) => route !== "/metrics" && !passed(route)), "routes the proxy would answer 404").toEqual([]);
    expect(passed("/metrics"), "/metrics must stay off the public proxy").toBe(false);
    expect(resolved.filter((pattern) => !routes.some((route) => matches(pattern, route))), "proxy patterns no route needs").toEqual([]);
    // Whatever is not passed on is answered by Caddy itself.
    expect(caddyfile).toMatch(/handle @public \{[\s\S]*reverse_proxy[\s\S]*\n\thandle \{\n\t\trespond 404\n\t\}/);
  });
});

describe("Node version", () => {
  const engines = (JSON.parse(read("package.json")) as { engines: { node: string } }).engines.node;
  /** The majors of an `^N.x.y || ^M.x.y` range: one per LTS line. */
  const majors = engines.split("||").map((range) => Number(/^\s*\^(\d+)\.\d+\.\d+\s*$/.exec(range)?.[1]));
  const image = /^FROM\s+(node:(\d+)-\S+)/m.exec(read("Dockerfile"));

  it("lists LTS lines only in engines, the test machine's among them", () => {
    expect(majors.every((major) => Number.isInteger(major) && major % 2 === 0), `engines "${engines}" is not a list of ^N.x.y LTS lines`).toBe(true);
    expect(majors).toContain(Number(process.versions.node.split(".")[0]));
  });

  it("runs the image on a line engines lists and the pinned better-sqlite3 declares", () => {
    const major = Number(image?.[2]);
    expect(majors).toContain(major);
    const betterSqlite = (JSON.parse(read("node_modules/better-sqlite3/package.json")) as { engines: { node: string } }).engines.node;
    const declared = betterSqlite.split("||").map((range) => range.trim());
    for (const line of majors) expect(declared, `better-sqlite3 declares ${betterSqlite}`).toContain(`${line}.x`);
  });

  it("states the same image and engines in docs/deploy.md", () => {
    const section = deploySection("## Node version");
    expect(section).toContain(`\`${image?.[1]}\``);
    expect(section).toContain(`**Node ${image?.[2]}**`);
    expect(section).toContain(`\`${engines}\``);
    for (const line of majors) expect(section, `the table has no row for Node ${line}`).toMatch(new RegExp(`^\\| Node ${line} \\|`, "m"));
  });
});
