// torchci's results API (`POST /api/crcr/results`) played on loopback for the crcr export's tests: records
// each request and answers as told (200 by default).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface Received {
  path: string;
  headers: IncomingMessage["headers"];
  body: { untrusted: { callback_payload: { workflow: { job_name: string; status: string } } } } & Record<string, unknown>;
}

export class TorchciStandIn {
  readonly received: Received[] = [];
  answer: (body: Received["body"], res: ServerResponse) => void = (_body, res) => res.writeHead(200).end('{"ok":true}');
  port = 0;
  #server: Server | undefined;

  /** Listens on 127.0.0.1 (`port`: again where it listened before, after close()). */
  async listen(port = 0): Promise<void> {
    const server = createServer((req, res) => {
      let text = "";
      req.on("data", (chunk: Buffer) => (text += chunk.toString()));
      req.on("end", () => {
        const body = JSON.parse(text) as Received["body"];
        this.received.push({ path: req.url ?? "", headers: req.headers, body });
        this.answer(body, res);
      });
    });
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    this.#server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  /** Stops listening and drops every connection: torchci is down. */
  async close(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/api/crcr/results`;
  }

  /** The job names of the records received, in order. */
  jobs(): string[] {
    return this.received.map((request) => request.body.untrusted.callback_payload.workflow.job_name);
  }
}
