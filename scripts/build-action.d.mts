// Types for scripts/build-action.mjs (imported by test/unit/action-metadata.test.ts and test/integration/action-bundles.test.ts).
/** The JavaScript actions and their entry points. */
export const BUNDLED_ACTIONS: Readonly<Record<string, string>>;
export function bundlePath(name: string): string;
export function buildAction(name: string, outfile?: string): Promise<string>;
/** The inputs and outputs tables of an action.yml, in markdown. */
export function renderTables(actionYaml: string): string;
/** `readme` with the text between the generated-tables markers replaced by the tables of `actionYaml`. */
export function withTables(readme: string, actionYaml: string, file?: string): string;
/** Every action directory with an action.yml. */
export function actionNames(): string[];
