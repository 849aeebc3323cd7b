// The relay's node:http server with explicit limits: stalled or slow clients are dropped within seconds
// and the number of open connections is capped.
import { createServer, type RequestListener, type Server } from "node:http";

export interface HttpLimits {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxConnections: number;
}

export function createHttpServer(limits: HttpLimits, listener: RequestListener): Server {
  const server = createServer(
    {
      // Node refuses a header timeout longer than the request timeout.
      headersTimeout: Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs),
      requestTimeout: limits.requestTimeoutMs,
      // How often the two timeouts above are checked (Node's default, 30 s, would let a stalled client
      // hold its connection up to 30 s past them).
      connectionsCheckingInterval: 1000,
    },
    listener,
  );
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  // Connections beyond the cap are accepted and closed at once (Node emits "drop").
  server.maxConnections = limits.maxConnections;
  return server;
}

/** Listens on `host:port` (port 0: any free port) and returns the bound port. */
export function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve((server.address() as { port: number }).port);
    });
  });
}
