// `cross-repo-ci-relay health`: each backend's figures against its level and the next, read from a running relay's
// /api/hud/health (the relay owns the HUD database; its embedded ClickHouse cannot be opened twice).
import { z } from "zod";
import { HealthViewSchema } from "../hud/views.js";
import { CLI_NAME, defineCommand, EXIT_FAILURE, EXIT_OK, writeJson } from "./command.js";
import { formatHealthMarkdown, formatHealthTable } from "./health-report.js";

/** Long enough for a 90-day window on a busy ClickHouse; the relay answers 503 itself when its database is down. */
const REQUEST_TIMEOUT_MS = 60_000;
/** The answer is a few hundred bytes per backend: anything far larger is not the relay. */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

/** --url, else $RELAY_PUBLIC_URL (read when the command runs): an http(s) URL. */
const RelayUrl = z
  .string()
  .optional()
  .transform((given, ctx) => {
    const url = given ?? process.env.RELAY_PUBLIC_URL;
    if (!url) {
      ctx.addIssue({ code: "custom", message: "needs the relay's URL: --url https://relay.example.org (or RELAY_PUBLIC_URL)" });
      return z.NEVER;
    }
    if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) {
      ctx.addIssue({ code: "custom", message: `--url must be an http(s) URL; got "${url}"` });
      return z.NEVER;
    }
    return url;
  });

export const health = defineCommand({
  name: "health",
  args: "--url <relay> [--days N] [--json | --markdown]",
  summary: "show each backend's measured health against its level and the next",
  details: [
    "Reads GET <relay>/api/hud/health?days=N from a running relay and prints, per backend (L4 first, worst",
    "first within a level): its level and verdict, the next level and its verdict there, the figures the",
    "allowlist's requirements are judged by, and which requirements it misses. Formulas: docs/levels.md.",
    "",
    "  --url URL    the relay's public URL (default: $RELAY_PUBLIC_URL)",
    "  --days N     the window, 1 to 90 days (default 7)",
    "  --json       print the relay's answer as JSON (schema: docs/schemas/hud-health.v1.json)",
    "  --markdown   print a GitHub markdown table",
    "",
    "Exits 1 when the relay cannot be reached or answers with an error.",
  ].join("\n"),
  options: { url: { type: "string" }, days: { type: "string" }, json: { type: "boolean" }, markdown: { type: "boolean" } },
  schema: z
    .object({
      positionals: z.array(z.string()).max(0, "takes no positional arguments"),
      url: RelayUrl,
      days: z.coerce
        .number()
        .int({ error: "--days must be a whole number of days from 1 to 90" })
        .min(1, "--days must be a whole number of days from 1 to 90")
        .max(90, "--days must be a whole number of days from 1 to 90")
        .default(7),
      json: z.boolean().default(false),
      markdown: z.boolean().default(false),
    })
    .refine((args) => !(args.json && args.markdown), { error: "--json and --markdown cannot be used together" }),
  async run({ url, days, json, markdown }) {
    const endpoint = new URL(`api/hud/health?days=${days}`, url.endsWith("/") ? url : `${url}/`);
    const answer = await fetchHealth(endpoint);
    if (!answer.ok) {
      process.stderr.write(`${CLI_NAME} health: ${answer.error}\n`);
      return EXIT_FAILURE;
    }
    if (json) writeJson(answer.view);
    else process.stdout.write(markdown ? formatHealthMarkdown(answer.view) : formatHealthTable(answer.view));
    return EXIT_OK;
  },
});

async function fetchHealth(endpoint: URL): Promise<{ ok: true; view: z.infer<typeof HealthViewSchema> } | { ok: false; error: string }> {
  let response: Response;
  try {
    response = await fetch(endpoint, { headers: { accept: "application/json" }, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  } catch (error) {
    const cause = (error as { cause?: { message?: string } }).cause?.message;
    return { ok: false, error: `could not reach ${endpoint.origin}: ${cause ?? (error instanceof Error ? error.message : String(error))}` };
  }
  const text = await boundedText(response, MAX_ANSWER_BYTES);
  if (text === undefined) return { ok: false, error: `${endpoint.origin} answered more than ${MAX_ANSWER_BYTES} bytes, more than a health report can be (is --url the relay?)` };
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { ok: false, error: `${endpoint.href} answered ${response.status} with something other than JSON (is --url the relay?)` };
  }
  if (!response.ok) {
    const message = (body as { error?: unknown } | null)?.error;
    return { ok: false, error: `${endpoint.href} answered ${response.status}: ${typeof message === "string" ? message : text.slice(0, 200)}` };
  }
  const view = HealthViewSchema.safeParse(body);
  if (!view.success) return { ok: false, error: `${endpoint.href} answered JSON that is not a health report (${view.error.issues[0]?.message ?? "invalid"}); is the relay older than this CLI?` };
  return { ok: true, view: view.data };
}

/** The body as text, read no further than `maxBytes` (undefined past it): a wrong URL must not fill memory. */
async function boundedText(response: Response, maxBytes: number): Promise<string | undefined> {
  if (Number(response.headers.get("content-length") ?? 0) > maxBytes) {
    await response.body?.cancel();
    return undefined;
  }
  const reader = (response.body as ReadableStream<Uint8Array> | null)?.getReader();
  if (!reader) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return Buffer.concat(chunks).toString("utf8");
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
}
