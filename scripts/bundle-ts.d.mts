/** Bundles `entry` (a path inside `root`) into node_modules/.cache/relay-dev/ and resolves to the bundle's path. */
export function bundleTs(root: string, entry: string): Promise<string>;
