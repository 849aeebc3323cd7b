// A Probot instance for tests: a throwaway App key, no retries or throttling, silent logs.
import { generateKeyPairSync } from "node:crypto";
import { pino } from "pino";
import { Probot, ProbotOctokit } from "probot";

export const testLog = pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });

let privateKey: string | undefined;

/** An RSA key in PEM, generated once per test process. */
export function testPrivateKey(): string {
  privateKey ??= generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs1", format: "pem" }).toString();
  return privateKey;
}

/**
 * Probot's Octokit without its retry and throttling plugins. The override must be a function: Probot
 * passes its own `throttle` options to every instance, and object defaults lose to instance options, so
 * `defaults({ throttle: { enabled: false } })` left installation clients spacing writes 1 s apart.
 */
export const TestOctokit = ProbotOctokit.defaults((options: Record<string, unknown>) => ({
  ...options,
  retry: { enabled: false },
  throttle: { enabled: false },
}));

export function testProbot(options: { baseUrl?: string } = {}): Probot {
  return new Probot({
    ...options,
    appId: 1,
    privateKey: testPrivateKey(),
    log: testLog,
    Octokit: TestOctokit,
  });
}
