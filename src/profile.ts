// Deployment profiles (RELAY_PROFILE): one setting for the values a deployment must share with the tools
// around it. `default` keeps the relay's neutral names; `pytorch` is for pytorch/pytorch, whose own tooling
// (torchci: hud.pytorch.org, the merge bot, the oncall bot, the ciflow label trigger) already reads the
// production relay's formats (docs/pytorch.md). An explicitly set variable still wins over its profile.

export const PROFILE_NAMES = ["default", "pytorch"] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

export interface Profile {
  /** RELAY_LABEL_PREFIX's default: the PR label of a label-only backend is `<prefix><device or name>`. */
  labelPrefix: string;
  /** RELAY_TRUST_LABEL's default: the label that lets a PR of an untrusted author be dispatched. */
  trustLabel: string;
  /** Read the allowlist the way torchci also reads it (parse.ts ParseOptions.torchci). */
  torchciAllowlist: boolean;
  /** Name check runs (and set their external_id) as the production relay does (src/checks/aggregate.ts). */
  crcrCheckNames: boolean;
}

export const PROFILES: Readonly<Record<ProfileName, Readonly<Profile>>> = {
  default: { labelPrefix: "ciflow/oot/", trustLabel: "ciflow/oot-approved", torchciAllowlist: false, crcrCheckNames: false },
  pytorch: {
    // torchci's ciflow trigger ignores exactly the labels starting with "ciflow/crcr/" and acts on every
    // other "ciflow/" label (lib/bot/ciflowPushTrigger.ts): backends' labels are the production relay's
    // `ciflow/crcr/<device>`, and the trust label is no ciflow label at all.
    labelPrefix: "ciflow/crcr/",
    trustLabel: "crcr-approved",
    torchciAllowlist: true,
    // torchci's merge gate blocks on L4 check runs named crcr/<owner>/<repo>/… that are pending or failed;
    // its oncall bot and Dr.CI read the same names.
    crcrCheckNames: true,
  },
};
