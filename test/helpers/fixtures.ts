// Real webhook payloads from @octokit/webhooks-examples, cloned so tests can adjust them freely.
import { createRequire } from "node:module";

interface ExampleGroup {
  name: string;
  examples: Array<Record<string, unknown>>;
}

const require = createRequire(import.meta.url);
const groups = require("@octokit/webhooks-examples") as ExampleGroup[];

// Payload types are loose on purpose: tests edit fields the way GitHub would send them.
export type Payload = Record<string, any>;

/** Every example payload of `event`, deep-cloned. */
export function webhookExamples(event: string): Payload[] {
  const group = groups.find((candidate) => candidate.name === event);
  if (!group) throw new Error(`no @octokit/webhooks-examples payloads for ${event}`);
  return structuredClone(group.examples);
}

/** The first example of `event` for which `match` holds, deep-cloned. */
export function webhookExample(event: string, match: (payload: Payload) => boolean = () => true): Payload {
  const group = groups.find((candidate) => candidate.name === event);
  const example = group?.examples.find((payload) => match(payload));
  if (!example) throw new Error(`no @octokit/webhooks-examples payload for ${event} matching the filter`);
  return structuredClone(example);
}
