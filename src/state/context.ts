// What the state core needs besides the store: the allowlist in force, how check runs are rendered,
// and the time of the event.
import type { Allowlist } from "../allowlist/types.js";
import type { DesiredCheckSettings } from "../checks/desired.js";

export interface StateSettings extends DesiredCheckSettings {
  /** How long an in-progress check-run state waits, so a burst of reports becomes one write. */
  checkUpdateDelayMs: number;
  /** How long an aggregate whose reported jobs are done waits for word that the run ended, when no run is known (RELAY_RUN_END_WAIT_MINUTES). */
  runEndWaitMs: number;
  /** The same wait when GitHub's events show a run (its jobs may wait for hardware): the job timeout. */
  trackedRunWaitMs: number;
  /** RELAY_ONCALL_COMMENTS: comment on a PR when an L4 or labelled L3 backend fails on it (src/checks/oncall-comment.ts). */
  oncallComments?: boolean;
  /** Lower-cased downstream repos with an oncall webhook (RELAY_ONCALL_WEBHOOKS; the URLs stay with the outbox worker). */
  oncallWebhooks?: ReadonlySet<string>;
  /** Results are also exported in hud.pytorch.org's crcr_workflow_job shape (src/export/): queue a row beside each HUD row. */
  crcrExport?: boolean;
}

export interface StateContext {
  allowlist: Allowlist | undefined;
  settings: StateSettings;
  now: number;
  /** The upstream installation, when the event names it (webhooks); otherwise the outbox looks it up at send time. */
  upstreamInstallationId?: number;
}
