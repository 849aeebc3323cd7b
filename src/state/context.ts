// What the state core needs besides the store: the allowlist in force, how check runs are rendered,
// and the time of the event.
import type { Allowlist } from "../allowlist/types.js";
import type { DesiredCheckSettings } from "../checks/desired.js";

export interface StateSettings extends DesiredCheckSettings {
  /** How long an in-progress check-run state waits, so a burst of reports becomes one write. */
  checkUpdateDelayMs: number;
}

export interface StateContext {
  allowlist: Allowlist | undefined;
  settings: StateSettings;
  now: number;
  /** The upstream installation, when the event names it (webhooks); otherwise the outbox looks it up at send time. */
  upstreamInstallationId?: number;
}
