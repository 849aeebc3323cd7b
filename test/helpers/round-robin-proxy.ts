// A round-robin HTTP proxy on loopback, the load balancer in front of several relay replicas in tests:
// each request goes to the next target in turn, its body and the answer streamed through. A target whose
// connection fails (refused: the replica is gone) is skipped and the next one tried, before any of the
// body was sent, so the request is not lost; a target that dies while answering makes the proxy answer
// 502 (the client retries, as GitHub's redelivery and the report action do).
import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export interface ProxyTarget {
  host: string;
  port: number;
}

export interface RoundRobinProxy {
  /** http://127.0.0.1:<port> */
  url: string;
  port: number;
  /** Requests answered by each target (by port), 502s excluded. */
  handled: Map<number, number>;
  /** Connections to a target that failed (it was skipped). */
  skipped: number;
  close(): Promise<void>;
}

// Hop-by-hop headers (RFC 9110, 7.6.1): they describe one connection, not the request.
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"]);

function forwardable(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name.toLowerCase())));
}

/** Starts the proxy on 127.0.0.1 (an ephemeral port unless `port` is given) in front of `targets`. */
export async function startRoundRobinProxy(targets: readonly ProxyTarget[], port = 0): Promise<RoundRobinProxy> {
  if (targets.length === 0) throw new Error("a proxy needs at least one target");
  let next = 0;
  const handled = new Map<number, number>();
  const sockets = new Set<Socket>();
  const proxy: RoundRobinProxy = { url: "", port: 0, handled, skipped: 0, close };

  const fail = (response: ServerResponse, message: string) => {
    if (response.headersSent) {
      response.destroy();
      return;
    }
    response.writeHead(502, { "content-type": "text/plain; charset=utf-8" });
    response.end(message);
  };

  /** Tries targets from `first`, at most once each, until one accepts the connection. */
  const forward = (incoming: IncomingMessage, response: ServerResponse, first: number, tried: number): void => {
    if (tried >= targets.length) {
      // Nothing took the connection: drain the body so the client reads the answer.
      incoming.resume();
      fail(response, "no replica accepted the connection");
      return;
    }
    const target = targets[(first + tried) % targets.length]!;
    let connected = false;
    // A connection per request (no keep-alive pool): a pooled socket to a replica that was just killed
    // would fail after the body was sent.
    const outgoing = httpRequest({
      host: target.host,
      port: target.port,
      method: incoming.method,
      path: incoming.url,
      headers: forwardable(incoming.headers),
      agent: false,
    });
    outgoing.on("socket", (socket) => {
      const start = () => {
        connected = true;
        incoming.pipe(outgoing);
      };
      if (socket.connecting) socket.once("connect", start);
      else start();
    });
    outgoing.on("response", (answer) => {
      handled.set(target.port, (handled.get(target.port) ?? 0) + 1);
      response.writeHead(answer.statusCode ?? 502, answer.statusMessage, forwardable(answer.headers));
      answer.pipe(response);
      answer.on("error", () => response.destroy());
    });
    outgoing.on("error", (error) => {
      if (!connected) {
        // Nothing of the body went out: the next target gets the whole request.
        proxy.skipped += 1;
        forward(incoming, response, first, tried + 1);
        return;
      }
      incoming.unpipe(outgoing);
      incoming.resume();
      fail(response, `the replica failed: ${error.message}`);
    });
  };

  const server = createServer((incoming, response) => {
    const first = next;
    next = (next + 1) % targets.length;
    forward(incoming, response, first, 0);
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  proxy.port = (server.address() as AddressInfo).port;
  proxy.url = `http://127.0.0.1:${proxy.port}`;

  let closed: Promise<void> | undefined;
  function close(): Promise<void> {
    closed ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const socket of sockets) socket.destroy();
    });
    return closed;
  }
  return proxy;
}
