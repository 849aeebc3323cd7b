// Starts the relay's own HTTP server: the Probot instance (credentials by Probot's rules), the app, and a
// node:http server with limits. Probot's webhook middleware is never mounted: the relay's webhook route
// bounds and verifies deliveries before reading them whole (docs/security.md).
import type { Server } from "node:http";
import { createProbot } from "probot";
import type { Logger } from "pino";
import { loadConfig } from "../config.js";
import { createApp, type RunningParts } from "../index.js";
import { createLogger } from "../logging.js";
import { createHttpServer, listen } from "./http-server.js";
import { createRequestHandler, type Handler } from "./request-handler.js";
import { startWebhookProxy } from "./webhook-proxy.js";

/** Probot options that win over the environment (tests: appId, privateKey, secret, baseUrl, Octokit). */
export type ProbotOverrides = NonNullable<NonNullable<Parameters<typeof createProbot>[0]>["overrides"]>;

export interface StartOptions {
  /** The environment to configure from (APP_ID, PRIVATE_KEY…, and the relay's variables). */
  env: Record<string, string | undefined>;
  /** Default: a redacting logger from LOG_LEVEL and LOG_FORMAT. */
  log?: Logger;
  probot?: Omit<ProbotOverrides, "log">;
  /** Default: HOST, else localhost (as Probot). */
  host?: string;
  /** Default: PORT; 0 picks a free port. */
  port?: number;
}

export interface RunningServer {
  url: string;
  server: Server;
  /** The relay's background work (absent only if the app did not start it). */
  relay?: RunningParts;
  /** Stops taking connections, stops the background work, then waits for open requests to finish. */
  stop(): Promise<void>;
}

export async function startServer(options: StartOptions): Promise<RunningServer> {
  const config = loadConfig(options.env);
  const log = options.log ?? (await createLogger(config.log));
  const probot = createProbot({ env: options.env, overrides: { ...options.probot, log } });

  let relay: RunningParts | undefined;
  const handlers: Handler[] = [];
  const app = createApp({ mode: "server", config, onRunning: (parts) => (relay = parts), gracefulShutdown: false });
  await probot.load(app, { cwd: process.cwd(), addHandler: (handler) => handlers.push(handler) });

  const server = createHttpServer(config.http, createRequestHandler(handlers, log));
  const host = options.host ?? config.host ?? "localhost";
  let port: number;
  try {
    port = await listen(server, options.port ?? config.port, host);
  } catch (error) {
    await relay?.stop();
    throw error;
  }
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  log.info({ component: "server", url }, `Listening on ${url}`);
  const proxySource = options.env.WEBHOOK_PROXY_URL;
  const proxy = proxySource ? await startWebhookProxy(proxySource, `${url}${config.webhookPath}`, log) : undefined;

  let stopping: Promise<void> | undefined;
  const stop = async () => {
    await proxy?.stop();
    const closed = new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    await relay?.stop();
    // Keep-alive connections that went idle while the background work stopped.
    server.closeIdleConnections();
    await closed;
  };
  return { url, server, ...(relay && { relay }), stop: () => (stopping ??= stop()) };
}
