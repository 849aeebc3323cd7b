// A local stand-in for the GitHub Enterprise Server REST API (base path /api/v3), for end-to-end
// tests and an offline demo: a real node:http server on 127.0.0.1 with an ephemeral port, holding
// installations, tokens, check runs, files and webhook deliveries in memory and recording every request.
// Behaviour can be scripted per route (status sequences, delays) to exercise retries and timeouts, and
// an optional write budget per installation answers like GitHub's secondary rate limit beyond it.
import { createHash } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

const API_PREFIX = "/api/v3";
const MAX_BODY_BYTES = 1024 * 1024;
const JSON_TYPE = "application/json; charset=utf-8";
const RAW_TYPE = "application/vnd.github.raw+json; charset=utf-8";
const NOT_FOUND = { message: "Not Found" };

export interface RecordedRequest {
  method: string;
  /** Decoded path without the /api/v3 prefix and without the query string. */
  path: string;
  /** The path as sent, query string excluded (e.g. with %2F still encoded). */
  rawPath: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body; undefined when there was none (or it could not be parsed). */
  body: unknown;
  /** Installation behind the installation token; undefined for the App JWT, unknown tokens or no auth. */
  installationId: number | undefined;
  /** Authenticated as the App itself (a JWT bearer). */
  asApp: boolean;
  receivedAt: number;
  /** Set when the response was written; undefined if the server closed first. */
  respondedAt: number | undefined;
  status: number | undefined;
}

export interface ScriptStep {
  status: number;
  /** Objects are sent as JSON; strings as they are (set a content-type header if it matters). */
  body?: unknown;
  headers?: Record<string, string>;
  delayMs?: number;
}

export type PathPattern = string | RegExp;

/** A secondary-limit-like budget: installation-token writes accepted per installation in any window. */
export interface WriteLimit {
  writes: number;
  windowMs: number;
  /** 403 with a secondary-rate-limit message (default), or 429. */
  status?: 403 | 429;
  /** Send Retry-After (whole seconds until the window has room; default true). */
  retryAfter?: boolean;
}

export interface InstallOptions {
  suspended?: boolean;
  /** Account login; defaults to the owner of the first repo. */
  account?: string;
}

export interface GitHubStandIn {
  /** http://127.0.0.1:<port> */
  url: string;
  /** url + "/api/v3": Octokit's baseUrl. */
  apiUrl: string;
  /** "127.0.0.1:<port>", for GHE_HOST (with GHE_PROTOCOL=http). */
  host: string;
  /** Declares (or redeclares) an installation and the repos ("owner/name") it covers. Returns the id. */
  install(installationId: number, repos: string[], options?: InstallOptions): number;
  /** Every request received, in order. */
  requests: RecordedRequest[];
  /** Check runs created through the API, by id. */
  checkRuns: Map<number, Record<string, unknown>>;
  /** Issue and PR comments created through the API, by id ({ id, repo, issue_number, body }). */
  comments: Map<number, { id: number; repo: string; issue_number: number; body: string }>;
  /** Recorded requests matching the method ("*" for any) and path (exact string or RegExp). */
  find(method: string, path: PathPattern): RecordedRequest[];
  /** Scripts the next responses for method+path; once consumed, the default behaviour applies again. */
  script(method: string, path: PathPattern, steps: ScriptStep[]): void;
  /** Delay before answering every matching request (added to a scripted step's own delayMs). */
  setDelay(method: string, path: PathPattern, delayMs: number): void;
  /** The repo's open pull requests as "list pull requests" returns them, most recently updated first. */
  setOpenPulls(repo: string, pulls: Array<Record<string, unknown>>): void;
  /** A file served by the contents API (any ref). */
  setFile(repo: string, path: string, text: string): void;
  /** Webhook deliveries listed by GET /app/hook/deliveries, newest first as GitHub lists them. */
  setDeliveries(deliveries: Array<Record<string, unknown>>): void;
  /** Enforces a write budget per installation from now on (undefined lifts it). */
  limitWrites(limit: WriteLimit | undefined): void;
  /** Writes refused by the write budget, in order (each also in `requests`). */
  refusals: RecordedRequest[];
  close(): Promise<void>;
}

interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

interface Installation {
  id: number;
  account: string;
  /** Full names as declared (case preserved). */
  repos: string[];
  suspendedAt: string | null;
}

interface RouteContext {
  record: RecordedRequest;
  params: Record<string, string>;
}

interface Route {
  method: string;
  pattern: RegExp;
  handle: (context: RouteContext) => Reply;
}

interface Matcher {
  method: string;
  path: PathPattern;
}

export interface StandInOptions {
  /** Port to listen on (127.0.0.1); default 0, an ephemeral port. */
  port?: number;
}

export async function startGitHubStandIn(options: StandInOptions = {}): Promise<GitHubStandIn> {
  const standIn = new StandIn();
  await standIn.listen(options.port ?? 0);
  return standIn;
}

/** Turns "/repos/:owner/:repo/contents/:path*" into a RegExp with named groups (":x*" spans slashes). */
function compileRoute(template: string): RegExp {
  const source = template.replace(/:(\w+)(\*?)/g, (_match, name: string, rest: string) =>
    rest ? `(?<${name}>.+)` : `(?<${name}>[^/]+)`,
  );
  return new RegExp(`^${source}$`);
}

function matches(matcher: Matcher, method: string, path: string): boolean {
  if (matcher.method !== "*" && matcher.method.toUpperCase() !== method) return false;
  if (typeof matcher.path === "string") return matcher.path === path;
  matcher.path.lastIndex = 0;
  return matcher.path.test(path);
}

function samePattern(a: PathPattern, b: PathPattern): boolean {
  if (typeof a === "string" || typeof b === "string") return a === b;
  return a.source === b.source && a.flags === b.flags;
}

function lower(fullName: string): string {
  return fullName.toLowerCase();
}

function sha1(text: string): string {
  return createHash("sha1").update(text).digest("hex");
}

function decodePath(rawPath: string): string {
  try {
    return decodeURIComponent(rawPath);
  } catch {
    return rawPath;
  }
}

/** The credentials in an Authorization header: a JWT bearer is the App, anything else a token. */
function parseAuthorization(header: string | undefined): { token?: string; asApp: boolean } {
  const match = /^(token|bearer)\s+(\S+)$/i.exec(header ?? "");
  if (!match?.[1] || !match[2]) return { asApp: false };
  const isJwt = match[1].toLowerCase() === "bearer" && match[2].split(".").length === 3;
  return isJwt ? { asApp: true } : { token: match[2], asApp: false };
}

function normalizeFilePath(path: string): string {
  return path.replace(/^\/+/, "");
}

/** An ETag list from If-None-Match matches ours (weak validators compare equal, "*" matches anything). */
function etagMatches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  return ifNoneMatch
    .split(",")
    .map((candidate) => candidate.trim().replace(/^W\//, ""))
    .some((candidate) => candidate === "*" || candidate === etag);
}

type BodyResult = { ok: true; body: unknown } | { ok: false; reply: Reply };

async function readBody(request: IncomingMessage): Promise<BodyResult> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    // Past the cap keep draining (so the client can read our answer) but stop buffering.
    if (size <= MAX_BODY_BYTES) chunks.push(chunk);
  }
  if (size > MAX_BODY_BYTES) {
    return { ok: false, reply: { status: 413, body: { message: `Request body is larger than ${MAX_BODY_BYTES} bytes` } } };
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.trim() === "") return { ok: true, body: undefined };
  try {
    return { ok: true, body: JSON.parse(text) as unknown };
  } catch {
    return { ok: false, reply: { status: 400, body: { message: "Problems parsing JSON" } } };
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function invalid(message: string): Reply {
  return { status: 422, body: { message: `Invalid request.\n\n${message}` } };
}

class StandIn implements GitHubStandIn {
  url = "";
  apiUrl = "";
  host = "";
  readonly requests: RecordedRequest[] = [];
  readonly checkRuns = new Map<number, Record<string, unknown>>();
  readonly comments = new Map<number, { id: number; repo: string; issue_number: number; body: string }>();
  private commentCounter = 9001;
  readonly refusals: RecordedRequest[] = [];

  // A failure while answering (say, a scripted header Node rejects) drops that connection, never the server.
  private readonly server = createServer((request, response) => {
    this.handle(request, response).catch(() => response.destroy());
  });
  private readonly sockets = new Set<Socket>();
  private readonly closing = new AbortController();
  private closed: Promise<void> | undefined;
  private readonly installations = new Map<number, Installation>();
  private readonly tokens = new Map<string, number>();
  private readonly files = new Map<string, Map<string, string>>();
  private readonly scripts: Array<Matcher & { steps: ScriptStep[] }> = [];
  private readonly delays: Array<Matcher & { delayMs: number }> = [];
  private deliveries: Array<Record<string, unknown>> = [];
  private readonly pulls = new Map<string, Array<Record<string, unknown>>>();
  private writeLimit: WriteLimit | undefined;
  /** Accepted write times per installation, for the write budget. */
  private readonly writeTimes = new Map<number, number[]>();
  private tokenCounter = 0;
  private checkRunCounter = 1000;
  private readonly checkRunRepos = new Map<number, string>();
  private requestCounter = 0;

  private readonly routes: Route[] = [
    this.route("POST", "/app/installations/:id/access_tokens", (c) => this.createToken(c)),
    this.route("GET", "/app/installations", () => this.listInstallations()),
    this.route("GET", "/repos/:owner/:repo/installation", (c) => this.repoInstallation(c)),
    this.route("GET", "/installation/repositories", (c) => this.installationRepositories(c)),
    this.route("POST", "/repos/:owner/:repo/dispatches", (c) => this.dispatch(c)),
    this.route("POST", "/repos/:owner/:repo/check-runs", (c) => this.createCheckRun(c)),
    this.route("PATCH", "/repos/:owner/:repo/check-runs/:id", (c) => this.updateCheckRun(c)),
    this.route("POST", "/repos/:owner/:repo/issues/:number/comments", (c) => this.createComment(c)),
    this.route("PATCH", "/repos/:owner/:repo/issues/comments/:id", (c) => this.updateComment(c)),
    this.route("GET", "/repos/:owner/:repo/contents/:path*", (c) => this.contents(c)),
    this.route("GET", "/repos/:owner/:repo/pulls", (c) => this.listPulls(c)),
    this.route("GET", "/repos/:owner/:repo/commits/:sha", (c) => ({ status: 200, body: { sha: c.params.sha } })),
    this.route("POST", "/repos/:owner/:repo/actions/runs/:runId/rerun-failed-jobs", () => ({ status: 201, body: {} })),
    this.route("POST", "/repos/:owner/:repo/actions/runs/:runId/cancel", () => ({ status: 202, body: {} })),
    this.route("GET", "/app/hook/deliveries", (c) => this.listDeliveries(c)),
    this.route("POST", "/app/hook/deliveries/:id/attempts", (c) => this.redeliver(c)),
  ];

  async listen(port: number): Promise<void> {
    this.server.on("connection", (socket) => {
      this.sockets.add(socket);
      socket.once("close", () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, "127.0.0.1", () => resolve());
    });
    const address = this.server.address() as AddressInfo;
    this.host = `127.0.0.1:${address.port}`;
    this.url = `http://${this.host}`;
    this.apiUrl = `${this.url}${API_PREFIX}`;
  }

  install(installationId: number, repos: string[], options: InstallOptions = {}): number {
    this.installations.set(installationId, {
      id: installationId,
      account: options.account ?? repos[0]?.split("/")[0] ?? `account-${installationId}`,
      repos: [...repos],
      suspendedAt: options.suspended ? new Date().toISOString() : null,
    });
    return installationId;
  }

  find(method: string, path: PathPattern): RecordedRequest[] {
    return this.requests.filter((record) => matches({ method, path }, record.method, record.path));
  }

  script(method: string, path: PathPattern, steps: ScriptStep[]): void {
    this.scripts.push({ method: method.toUpperCase(), path, steps: [...steps] });
  }

  setDelay(method: string, path: PathPattern, delayMs: number): void {
    method = method.toUpperCase();
    const existing = this.delays.find((delay) => delay.method === method && samePattern(delay.path, path));
    if (existing) existing.delayMs = delayMs;
    else this.delays.push({ method, path, delayMs });
  }

  setFile(repo: string, path: string, text: string): void {
    const repoFiles = this.files.get(lower(repo)) ?? new Map<string, string>();
    repoFiles.set(normalizeFilePath(path), text);
    this.files.set(lower(repo), repoFiles);
  }

  /**
   * The repo's open pull requests, as "list pull requests" returns them (give them most recently
   * updated first: the relay asks for sort=updated, direction=desc).
   */
  setOpenPulls(repo: string, pulls: Array<Record<string, unknown>>): void {
    this.pulls.set(lower(repo), pulls);
  }

  setDeliveries(deliveries: Array<Record<string, unknown>>): void {
    this.deliveries = [...deliveries];
  }

  limitWrites(limit: WriteLimit | undefined): void {
    this.writeLimit = limit;
    this.writeTimes.clear();
  }

  close(): Promise<void> {
    this.closed ??= new Promise<void>((resolve) => {
      this.closing.abort();
      this.server.close(() => resolve());
      for (const socket of this.sockets) socket.destroy();
    });
    return this.closed;
  }

  // --- request handling -------------------------------------------------------------------------

  private route(method: string, template: string, handle: Route["handle"]): Route {
    return { method, pattern: compileRoute(template), handle };
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const receivedAt = Date.now();
    const url = new URL(request.url ?? "/", "http://stand-in");
    const rawPath = url.pathname.startsWith(`${API_PREFIX}/`) ? url.pathname.slice(API_PREFIX.length) : url.pathname;
    const auth = parseAuthorization(request.headers.authorization);
    const record: RecordedRequest = {
      method: (request.method ?? "GET").toUpperCase(),
      path: decodePath(rawPath),
      rawPath,
      query: Object.fromEntries(url.searchParams),
      headers: request.headers,
      body: undefined,
      installationId: auth.token === undefined ? undefined : this.tokens.get(auth.token),
      asApp: auth.asApp,
      receivedAt,
      respondedAt: undefined,
      status: undefined,
    };
    this.requests.push(record);
    // Decided on arrival, as a rate limiter in front of the API would.
    const refusal = this.overWriteLimit(record);

    let reply: Reply;
    try {
      const body = await readBody(request);
      if (body.ok) {
        record.body = body.body;
        const step = refusal ? undefined : this.nextScriptStep(record);
        await this.wait(receivedAt + this.delayFor(record) + (step?.delayMs ?? 0));
        reply = refusal ?? step ?? this.defaultReply(record);
      } else {
        reply = body.reply;
      }
    } catch (error) {
      if (this.closing.signal.aborted) return;
      reply = { status: 500, body: { message: `stand-in error: ${String(error)}` } };
    }
    if (this.closing.signal.aborted || response.destroyed) return;
    this.send(response, record, reply);
  }

  /** The refusal for a write past the installation's budget (recorded in `refusals`), or undefined. */
  private overWriteLimit(record: RecordedRequest): Reply | undefined {
    const limit = this.writeLimit;
    const installationId = record.installationId;
    if (!limit || installationId === undefined || record.method === "GET" || record.method === "HEAD") return undefined;
    const recent = (this.writeTimes.get(installationId) ?? []).filter((at) => at > record.receivedAt - limit.windowMs);
    this.writeTimes.set(installationId, recent);
    if (recent.length < limit.writes) {
      recent.push(record.receivedAt);
      return undefined;
    }
    this.refusals.push(record);
    // A slot frees when the oldest write that still counts leaves the window.
    const freesAt = (recent[recent.length - limit.writes] ?? record.receivedAt) + limit.windowMs;
    const seconds = Math.max(1, Math.ceil((freesAt - record.receivedAt) / 1000));
    const headers = limit.retryAfter === false ? undefined : { "retry-after": String(seconds) };
    const message =
      limit.status === 429 ? "Too Many Requests" : "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.";
    return { status: limit.status ?? 403, body: { message }, ...(headers && { headers }) };
  }

  private nextScriptStep(record: RecordedRequest): ScriptStep | undefined {
    const script = this.scripts.find((entry) => entry.steps.length > 0 && matches(entry, record.method, record.path));
    return script?.steps.shift();
  }

  private delayFor(record: RecordedRequest): number {
    return this.delays
      .filter((delay) => matches(delay, record.method, record.path))
      .reduce((total, delay) => total + delay.delayMs, 0);
  }

  /** Resolves at the deadline (by the wall clock, so respondedAt − receivedAt ≥ delay), or on close. */
  private async wait(deadline: number): Promise<void> {
    const signal = this.closing.signal;
    while (!signal.aborted && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const onAbort = (): void => {
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        }, deadline - Date.now());
        signal.addEventListener("abort", onAbort, { once: true });
      });
    }
  }

  private defaultReply(record: RecordedRequest): Reply {
    for (const route of this.routes) {
      if (route.method !== record.method) continue;
      const match = route.pattern.exec(record.path);
      if (match) return route.handle({ record, params: { ...match.groups } });
    }
    return { status: 404, body: { message: "Not Found (stand-in: no route)" } };
  }

  private send(response: ServerResponse, record: RecordedRequest, reply: Reply): void {
    const headers: Record<string, string> = {
      "x-github-request-id": `STANDIN:${(++this.requestCounter).toString(16).toUpperCase().padStart(6, "0")}`,
    };
    let payload: string | undefined;
    if (typeof reply.body === "string") {
      payload = reply.body;
    } else if (reply.body !== undefined && reply.status !== 204 && reply.status !== 304) {
      payload = JSON.stringify(reply.body);
      headers["content-type"] = JSON_TYPE;
    }
    Object.assign(headers, reply.headers);
    record.status = reply.status;
    record.respondedAt = Date.now();
    response.writeHead(reply.status, headers);
    response.end(payload);
  }

  // --- installations and tokens -----------------------------------------------------------------

  private installationFor(owner: string, repo: string): Installation | undefined {
    const fullName = lower(`${owner}/${repo}`);
    return [...this.installations.values()].find((installation) => installation.repos.some((name) => lower(name) === fullName));
  }

  private covers(installationId: number | undefined, owner: string, repo: string): boolean {
    const fullName = lower(`${owner}/${repo}`);
    const installation = installationId === undefined ? undefined : this.installations.get(installationId);
    return installation?.repos.some((name) => lower(name) === fullName) ?? false;
  }

  private describeInstallation(installation: Installation): Record<string, unknown> {
    return { id: installation.id, account: { login: installation.account }, suspended_at: installation.suspendedAt };
  }

  private createToken({ params }: RouteContext): Reply {
    const installation = this.installations.get(Number(params.id));
    if (!installation) return { status: 404, body: NOT_FOUND };
    if (installation.suspendedAt) return { status: 403, body: { message: "This installation has been suspended" } };
    const token = `ghs_inst_${installation.id}_${++this.tokenCounter}`;
    this.tokens.set(token, installation.id);
    const expiresAt = new Date(Date.now() + 60 * 60 * 1000).toISOString();
    return { status: 201, body: { token, expires_at: expiresAt, permissions: {}, repository_selection: "selected" } };
  }

  private listInstallations(): Reply {
    return { status: 200, body: [...this.installations.values()].map((installation) => this.describeInstallation(installation)) };
  }

  private repoInstallation({ params }: RouteContext): Reply {
    const installation = this.installationFor(params.owner ?? "", params.repo ?? "");
    return installation ? { status: 200, body: this.describeInstallation(installation) } : { status: 404, body: NOT_FOUND };
  }

  private installationRepositories({ record }: RouteContext): Reply {
    const installation = record.installationId === undefined ? undefined : this.installations.get(record.installationId);
    if (!installation) return { status: 401, body: { message: "Bad credentials" } };
    const repositories = installation.repos.map((fullName) => {
      const [owner = "", name = ""] = fullName.split("/");
      return { full_name: fullName, name, owner: { login: owner } };
    });
    return { status: 200, body: { total_count: repositories.length, repositories } };
  }

  // --- repository endpoints ---------------------------------------------------------------------

  private dispatch({ record, params }: RouteContext): Reply {
    if (!this.covers(record.installationId, params.owner ?? "", params.repo ?? "")) return { status: 404, body: NOT_FOUND };
    const body = isRecord(record.body) ? record.body : {};
    if (typeof body.event_type !== "string" || body.event_type === "") {
      return invalid("For 'properties/event_type', nil is not a string.");
    }
    if (body.client_payload !== undefined) {
      if (!isRecord(body.client_payload)) return invalid("For 'properties/client_payload', it is not an object.");
      const keys = Object.keys(body.client_payload).length;
      if (keys > 10) return invalid(`No more than 10 properties are allowed; ${keys} were supplied.`);
    }
    return { status: 204 };
  }

  private createCheckRun({ record, params }: RouteContext): Reply {
    const body = isRecord(record.body) ? record.body : {};
    if (typeof body.name !== "string" || typeof body.head_sha !== "string") {
      return invalid("'name' and 'head_sha' are required strings.");
    }
    const id = this.checkRunCounter++;
    const fullName = `${params.owner}/${params.repo}`;
    const conclusion = body.conclusion ?? null;
    const run: Record<string, unknown> = {
      ...body,
      id,
      name: body.name,
      head_sha: body.head_sha,
      status: body.status ?? (conclusion === null ? "queued" : "completed"),
      conclusion,
      external_id: body.external_id ?? null,
      details_url: body.details_url ?? null,
      html_url: `${this.url}/${fullName}/runs/${id}`,
    };
    this.checkRuns.set(id, run);
    this.checkRunRepos.set(id, lower(fullName));
    return { status: 201, body: run };
  }

  private updateCheckRun({ record, params }: RouteContext): Reply {
    const id = Number(params.id);
    const run = this.checkRuns.get(id);
    if (!run || this.checkRunRepos.get(id) !== lower(`${params.owner}/${params.repo}`)) return { status: 404, body: NOT_FOUND };
    const body = isRecord(record.body) ? record.body : {};
    const changes = Object.fromEntries(Object.entries(body).filter(([key]) => key !== "id" && key !== "html_url"));
    const merged: Record<string, unknown> = { ...run, ...changes };
    if (changes.conclusion !== undefined && changes.status === undefined) merged.status = "completed";
    this.checkRuns.set(id, merged);
    return { status: 200, body: merged };
  }

  private createComment({ record, params }: RouteContext): Reply {
    const body = isRecord(record.body) ? record.body.body : undefined;
    if (typeof body !== "string" || body.length === 0) return invalid("'body' is a required string.");
    const comment = { id: this.commentCounter++, repo: lower(`${params.owner}/${params.repo}`), issue_number: Number(params.number), body };
    this.comments.set(comment.id, comment);
    return { status: 201, body: comment };
  }

  private updateComment({ record, params }: RouteContext): Reply {
    const comment = this.comments.get(Number(params.id));
    if (!comment || comment.repo !== lower(`${params.owner}/${params.repo}`)) return { status: 404, body: NOT_FOUND };
    const body = isRecord(record.body) ? record.body.body : undefined;
    if (typeof body !== "string" || body.length === 0) return invalid("'body' is a required string.");
    const updated = { ...comment, body };
    this.comments.set(comment.id, updated);
    return { status: 200, body: updated };
  }

  private contents({ record, params }: RouteContext): Reply {
    const path = normalizeFilePath(params.path ?? "");
    const text = this.files.get(lower(`${params.owner}/${params.repo}`))?.get(path);
    if (text === undefined) return { status: 404, body: NOT_FOUND };
    const sha = sha1(text);
    const etag = `"${sha}"`;
    if (etagMatches(record.headers["if-none-match"], etag)) return { status: 304, headers: { etag } };
    if (/raw/i.test(record.headers.accept ?? "")) {
      return { status: 200, body: text, headers: { etag, "content-type": RAW_TYPE } };
    }
    const name = path.split("/").pop() ?? path;
    const content = Buffer.from(text).toString("base64");
    const file = { type: "file", encoding: "base64", size: Buffer.byteLength(text), name, path, sha, content };
    return { status: 200, body: file, headers: { etag } };
  }

  // --- pull requests ----------------------------------------------------------------------------

  /** Page-number pagination with a rel="next" link, and an ETag per page (304 for If-None-Match). */
  private listPulls({ record, params }: RouteContext): Reply {
    if (record.query.state !== undefined && record.query.state !== "open") return invalid("stand-in: only state=open is served");
    const all = this.pulls.get(lower(`${params.owner}/${params.repo}`)) ?? [];
    const perPage = Math.min(Math.max(Number(record.query.per_page ?? 30) || 30, 1), 100);
    const page = Math.max(Number(record.query.page ?? 1) || 1, 1);
    const items = all.slice((page - 1) * perPage, page * perPage);
    const etag = `"${sha1(JSON.stringify(items))}"`;
    if (etagMatches(record.headers["if-none-match"], etag)) return { status: 304, headers: { etag } };
    const headers: Record<string, string> = { etag };
    if (page * perPage < all.length) {
      headers.link = `<${this.apiUrl}/repos/${params.owner}/${params.repo}/pulls?state=open&per_page=${perPage}&page=${page + 1}>; rel="next"`;
    }
    return { status: 200, body: items, headers };
  }

  // --- webhook deliveries -----------------------------------------------------------------------

  /** Cursor pagination as GitHub does it: an opaque cursor in the rel="next" link. */
  private listDeliveries({ record }: RouteContext): Reply {
    const perPage = Math.min(Math.max(Number(record.query.per_page ?? 30) || 30, 1), 100);
    const start = record.query.cursor === undefined ? 0 : Number.parseInt(record.query.cursor, 10);
    if (!Number.isInteger(start) || start < 0) return invalid("Invalid cursor.");
    const page = this.deliveries.slice(start, start + perPage);
    const next = start + perPage;
    const headers: Record<string, string> = {};
    if (next < this.deliveries.length) {
      headers.link = `<${this.apiUrl}/app/hook/deliveries?per_page=${perPage}&cursor=${next}>; rel="next"`;
    }
    return { status: 200, body: page, headers };
  }

  private redeliver({ params }: RouteContext): Reply {
    const known = this.deliveries.some((delivery) => String(delivery.id) === params.id);
    return known ? { status: 202, body: {} } : { status: 404, body: NOT_FOUND };
  }
}
