// Local development: forwards a smee.io channel (WEBHOOK_PROXY_URL) to the relay's webhook route, so an App
// registered with that channel as its webhook URL reaches a relay on a laptop. smee-client is a development
// dependency: a production install (`npm ci --omit=dev`, the Docker image) has none, and says so.
import type { Logger } from "pino";
import type SmeeClientClass from "smee-client";

export interface WebhookProxy {
  stop(): Promise<void>;
}

/** The smee client class, or undefined when it is not installed. */
export async function loadSmeeClient(): Promise<typeof SmeeClientClass | undefined> {
  try {
    return (await import("smee-client")).default;
  } catch {
    return undefined;
  }
}

export async function startWebhookProxy(source: string, target: string, log: Logger): Promise<WebhookProxy | undefined> {
  const SmeeClient = await loadSmeeClient();
  if (!SmeeClient) {
    log.warn("WEBHOOK_PROXY_URL is set but smee-client is not installed (a development dependency: run `npm ci` without --omit=dev); webhooks are not forwarded");
    return undefined;
  }
  const proxy = log.child({ component: "webhook-proxy" });
  const client = new SmeeClient({ source, target, logger: { info: (message: string) => proxy.info(message), error: (message: string) => proxy.error(message) } });
  await client.start();
  proxy.info({ source, target }, "forwarding webhooks from the smee channel");
  return { stop: () => client.stop() };
}
