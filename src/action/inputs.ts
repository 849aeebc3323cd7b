// Reading action inputs the way the runner passes them: `with: { job-name: x }` becomes the environment
// variable `INPUT_JOB-NAME` (spaces become underscores, upper-cased, hyphens kept), as @actions/core reads it.
export type Env = Readonly<Record<string, string | undefined>>;

export function inputEnvName(name: string): string {
  return `INPUT_${name.replace(/ /g, "_").toUpperCase()}`;
}

/** The trimmed input, or undefined when it is absent or empty (the runner passes unset inputs as ""). */
export function getInput(env: Env, name: string): string | undefined {
  const value = env[inputEnvName(name)]?.trim();
  return value === undefined || value === "" ? undefined : value;
}

/** true/false in YAML 1.2 core schema spellings, as core.getBooleanInput accepts them. */
export function getBooleanInput(env: Env, name: string, fallback: boolean): boolean {
  const value = getInput(env, name);
  if (value === undefined) return fallback;
  if (["true", "True", "TRUE"].includes(value)) return true;
  if (["false", "False", "FALSE"].includes(value)) return false;
  throw new ActionInputError(`input ${name}: expected true or false, got ${JSON.stringify(value)}`);
}

/** A problem with the step's configuration: the step fails with this message. */
export class ActionInputError extends Error {
  override name = "ActionInputError";
}

/** Escapes a workflow command's message (`::error::<message>`) as @actions/core does. */
export function escapeCommandData(message: string): string {
  return message.replace(/%/g, "%25").replace(/\r/g, "%0D").replace(/\n/g, "%0A");
}

/** Escapes a workflow command's property (`::error file=<value>,line=…::`) as @actions/core does. */
export function escapeCommandProperty(value: string): string {
  return escapeCommandData(value).replace(/:/g, "%3A").replace(/,/g, "%2C");
}
