// `npm start`: the relay's own server. Without App credentials it hands over to Probot's `run()`, whose
// setup page registers the App from app.yml; in production, or with an invalid configuration, it stops
// with the configuration's problems instead.
import { subscribe } from "node:diagnostics_channel";
import { existsSync } from "node:fs";
import type { ServerResponse } from "node:http";
import { getPrivateKey } from "@probot/get-private-key";
import { run } from "probot";
import { ConfigError, loadConfig, type RelayConfig } from "../config.js";
import { createApp } from "../index.js";
import { createLogger } from "../logging.js";
import { startServer } from "./start.js";
import { loadSmeeClient } from "./webhook-proxy.js";

if (existsSync(".env")) process.loadEnvFile(".env");

try {
  if (process.env.APP_ID && privateKey()) await serve();
  else await setUp();
} catch (error) {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
}

/** The App's private key as Probot reads it; a key that is there but unreadable is a configuration problem, not a crash. */
function privateKey(): string | null {
  try {
    return getPrivateKey({ env: process.env });
  } catch (error) {
    const message = (error instanceof Error ? error.message : String(error)).replace(/^\[@probot\/get-private-key\]\s*/, "");
    throw new ConfigError([`PRIVATE_KEY / PRIVATE_KEY_PATH: ${message}`]);
  }
}

async function serve(): Promise<void> {
  const running = await startServer({ env: process.env });
  const stop = () => {
    running.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

async function setUp(): Promise<void> {
  // Probot's setup page only runs outside production; there it would throw its own error with a stack trace.
  // The rest of the configuration is checked now too, not silently ignored until the App exists.
  const checked = checkedConfig();
  const problems = checked instanceof ConfigError ? [...checked.problems] : [];
  if (process.env.NODE_ENV === "production") {
    problems.unshift(
      "APP_ID / PRIVATE_KEY: not set, but required in production, where Probot's setup page does not run; register the App (docs/deploy.md, \"Register the App\") and set both",
    );
  }
  if (checked instanceof ConfigError || problems.length > 0) throw new ConfigError(problems);
  // Probot's setup server is not ours to wrap; its responses get the header on their way out.
  subscribe("http.server.request.start", (message) => {
    (message as { response: ServerResponse }).response.setHeader("x-content-type-options", "nosniff");
  });
  // The setup page registers the App with a new smee.io channel as its webhook URL (written to .env as
  // WEBHOOK_PROXY_URL), made with the installed smee-client rather than one Probot would download.
  const SmeeClient = await loadSmeeClient();
  await run(createApp(), { log: await createLogger(checked.log), ...(SmeeClient && { SmeeClient }) });
}

/** The configuration, or the error naming its problems. */
function checkedConfig(): RelayConfig | ConfigError {
  try {
    return loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
}
