// The one allowlist parser: walks the YAML AST for structure, validates leaves with schema.ts, and
// reports every problem with the line and column of the node it is about.
import { z } from "zod";
import { LineCounter, isAlias, isMap, isNode, isPair, isScalar, isSeq, parseDocument, visit } from "yaml";
import type { Document, Node, Pair, Scalar, YAMLError, YAMLMap } from "yaml";
import { isRepoSlug } from "../github/repo-name.js";
import { policyConflict, resolvePolicy } from "./policy.js";
import {
  BACKEND_NAME,
  BackendNameSchema,
  EntryOptionsSchema,
  LevelRequirementsSchema,
  OncallsSchema,
  VersionSchema,
  describeValue,
} from "./schema.js";
import type { EntryOptions } from "./schema.js";
import { LEVELS } from "./types.js";
import type {
  AllowlistEntry,
  AllowlistIssue,
  AllowlistParseResult,
  Level,
  LevelRequirements,
} from "./types.js";

export const MAX_ALLOWLIST_BYTES = 1024 * 1024;

const TOP_LEVEL_KEYS = ["version", ...LEVELS, "requirements", "relay"];

export interface ParseOptions {
  /**
   * The file is also read by torchci (pytorch/test-infra's `lib/crcrAllowlist.ts`: PyTorch's HUD, merge
   * gate and oncall bot): refuse the forms its parser rejects or misreads (RELAY_PROFILE=pytorch,
   * docs/pytorch.md). Oncalls stay in the level lists, options go under `relay:`.
   */
  torchci?: boolean;
}

/** A device group, and whether it lists several repos (then each names itself, and all share the device's label). */
interface DeviceGroup {
  name: string;
  shared: boolean;
}

// After these YAML errors the document is still the one the author meant, so checking goes on;
// after any other, the structure is a guess and further messages would be noise.
const RECOVERABLE_YAML_ERRORS = new Set(["DUPLICATE_KEY", "BAD_SCALAR_START"]);

export function parseAllowlist(text: string, options: ParseOptions = {}): AllowlistParseResult {
  try {
    const size = Buffer.byteLength(text, "utf8");
    if (size > MAX_ALLOWLIST_BYTES) {
      return failure(`the allowlist is ${size} bytes; the limit is ${MAX_ALLOWLIST_BYTES} bytes (1 MiB)`);
    }
    return new AllowlistReader(text, options).read();
  } catch (error) {
    // The contract is "never throws": a bug or a pathological document becomes one issue.
    return failure(`could not read the allowlist: ${error instanceof Error ? error.message : String(error)}`);
  }
}

export function formatIssue(issue: AllowlistIssue, file: string): string {
  return `${file}:${issue.line}:${issue.col}: ${issue.message}`;
}

function failure(message: string): AllowlistParseResult {
  return { ok: false, issues: [{ line: 1, col: 1, endLine: 1, endCol: 1, message }] };
}

/** A map key: its node (for positions) and its text. */
interface Key {
  node: Node;
  text: string;
}

/** Where a repo or a name was first seen, for "already listed/used" messages. */
interface FirstSeen {
  repo: string;
  line: number;
}

interface ScalarAt {
  node: Scalar;
  /** The key, when the scalar is the value of a map pair. */
  pairKey?: string;
}

class AllowlistReader {
  private readonly lineCounter = new LineCounter();
  private readonly doc: Document.Parsed;
  private readonly issues: AllowlistIssue[] = [];
  private readonly entries: AllowlistEntry[] = [];
  private readonly repos = new Map<string, FirstSeen & { level: Level }>();
  private readonly names = new Map<string, FirstSeen>();
  private readonly requirements: Partial<Record<Level, LevelRequirements>> = {};
  private readonly duplicateKeyOffsets = new Set<number>();
  /** The `relay:` section: options by lower-cased repo, with the node they were read from. */
  private readonly relayOptions = new Map<string, { options: EntryOptions; node: Node; used: boolean }>();

  constructor(
    private readonly text: string,
    private readonly options: ParseOptions,
  ) {
    this.doc = parseDocument(text, { lineCounter: this.lineCounter, prettyErrors: false });
  }

  read(): AllowlistParseResult {
    for (const error of this.doc.errors) this.reportYamlError(error);
    if (this.doc.errors.every((error) => RECOVERABLE_YAML_ERRORS.has(error.code))) {
      this.readTop(this.deref(this.doc.contents));
    }
    if (this.issues.length > 0) {
      return { ok: false, issues: this.issues.sort((a, b) => a.line - b.line || a.col - b.col) };
    }
    const byRepo = new Map(this.entries.map((entry) => [entry.key, entry]));
    return { ok: true, allowlist: { entries: this.entries, byRepo, requirements: this.requirements } };
  }

  // --- structure -------------------------------------------------------------------------------

  private readTop(node: Node | null): void {
    if (!hasValue(node)) {
      if (this.options.torchci) this.torchciProblem(node, 'an empty allowlist: torchci refuses a file without a map at its root; write at least one level key, e.g. "L4:"');
      return;
    }
    if (!isMap(node)) {
      const keys = TOP_LEVEL_KEYS.join(", ");
      this.report(node, `the allowlist must be a map with the keys ${keys}; found ${this.describe(node)}`);
      return;
    }
    // `relay:` first, wherever it is in the file: its options apply to the entries the levels list.
    const pairs = this.pairs(node).map((pair) => ({ key: this.keyOf(pair, node), value: this.deref(pair.value) }));
    for (const { key, value } of pairs) if (key.text === "relay") this.readRelaySection(value);
    for (const { key, value } of pairs) {
      if (key.text === "version") this.validate(value ?? key.node, VersionSchema, "version");
      else if (isLevel(key.text)) this.readLevel(key.text, value);
      else if (key.text === "requirements") this.readRequirements(value);
      else if (key.text !== "relay") this.unknownKey(key, "top-level key", TOP_LEVEL_KEYS);
    }
    for (const [repo, { node: at, used }] of this.relayOptions) {
      if (!used) this.report(at, `relay: ${repo} is not listed at any level; list it under L1..L4, or remove its options`);
    }
  }

  /**
   * `relay: {owner/repo: {name, <policy fields>}}`: the relay's own options of listed repos, kept apart
   * from the level lists so that a parser reading only those (torchci's) reads the file unchanged.
   */
  private readRelaySection(node: Node | null): void {
    if (!hasValue(node)) return;
    if (!isMap(node)) {
      this.report(node, `relay must be a map from owner/repo to options, e.g. "relay: {example-org/backend: {name: npu}}"; found ${this.describe(node)}`);
      return;
    }
    for (const pair of this.pairs(node)) {
      const key = this.keyOf(pair, node);
      const value = this.deref(pair.value);
      if (!isRepoSlug(key.text)) {
        this.report(key.node, `relay: "${key.text}" is not an owner/repo name; the section maps listed repos to their options`);
        continue;
      }
      if (!isMap(value)) {
        this.report(value ?? key.node, `relay: the value of ${key.text} must be a map of options, e.g. {block_pr: false}; found ${this.describe(value)}`);
        continue;
      }
      const options = this.validate(value, EntryOptionsSchema, "option");
      if (!options) continue;
      if (options.oncalls !== undefined) {
        this.report(asNode(value.get("oncalls", true)) ?? value, `relay: oncalls of ${key.text} belong in its level's list ("- ${key.text}: "@alice, bob""), where every reader of the file finds them`);
        continue;
      }
      this.relayOptions.set(key.text.toLowerCase(), { options, node: key.node, used: false });
    }
  }

  /** A level is empty, a list of repo items, or a map of device groups. */
  private readLevel(level: Level, node: Node | null): void {
    if (!hasValue(node)) return;
    if (isSeq(node)) {
      if (this.options.torchci && level === "L3") {
        this.torchciProblem(node, 'L3 is a map of device groups for torchci ("L3: {npu: {owner/repo: [oncall]}}"); it refuses a list there, even an empty one');
      }
      for (const item of node.items) this.readItem(level, this.deref(item), node, undefined);
    } else if (isMap(node)) {
      if (this.options.torchci && level !== "L3") {
        this.torchciProblem(node, `${level} is a list for torchci ("- owner/repo: "@oncall""); device groups are read under L3 only`);
      }
      for (const pair of this.pairs(node)) this.readDeviceGroup(level, pair, node);
    } else {
      this.report(
        node,
        `${level} must be a list of repos ("- owner/repo") or a map of device groups ` +
          `("npu: {owner/repo: [oncall]}"); found ${this.describe(node)}`,
      );
    }
  }

  private readDeviceGroup(level: Level, pair: Pair, parent: YAMLMap): void {
    const key = this.keyOf(pair, parent);
    if (isRepoSlug(key.text)) {
      this.report(
        key.node,
        `${key.text} is a repo, but ${level} is written as a map of device groups; ` +
          `list it as "- ${key.text}" or put it under a device name ("npu:")`,
      );
      return;
    }
    const name = this.deviceName(key);
    const value = this.deref(pair.value);
    if (!hasValue(value)) return;
    if (isMap(value)) {
      const repos = this.pairs(value);
      const device = name === undefined ? undefined : { name, shared: repos.length > 1 };
      for (const repoPair of repos) {
        this.readRepo(level, this.keyOf(repoPair, value), this.deref(repoPair.value), device);
      }
    } else if (isSeq(value)) {
      if (this.options.torchci) this.torchciProblem(value, `device group ${key.text} maps repos to oncalls for torchci ("${key.text}: {owner/repo: [oncall]}"), not a list`);
      const device = name === undefined ? undefined : { name, shared: value.items.length > 1 };
      for (const item of value.items) this.readItem(level, this.deref(item), value, device);
    } else {
      this.report(
        value,
        `device group ${key.text} must map repos to oncalls or options, ` +
          `e.g. "${key.text}: {owner/repo: [oncall]}"; found ${this.describe(value)}`,
      );
    }
  }

  private deviceName(key: Key): string | undefined {
    if (key.text.trim() === "") {
      this.report(key.node, 'empty device name; name the device group, e.g. "npu:"');
      return undefined;
    }
    return this.validate(key.node, BackendNameSchema, "device name", key.text);
  }

  /** A list item: `owner/repo`, or a single-key map `owner/repo: <oncalls or options>`. */
  private readItem(level: Level, item: Node | null, list: Node, device: DeviceGroup | undefined): void {
    if (isMap(item) && item.items.length > 0) {
      this.readMapItem(level, item, device);
    } else if (isScalar(item) && item.value !== null) {
      this.readRepo(level, { node: item, text: this.keyText(item) }, null, device);
    } else {
      this.report(
        item ?? list,
        `each list item is "owner/repo" or "owner/repo: <oncalls or options>"; found ${this.describe(item)}`,
      );
    }
  }

  private readMapItem(level: Level, item: YAMLMap, device: DeviceGroup | undefined): void {
    const [first, second] = item.items;
    if (!first) return;
    const repo = this.keyOf(first, item);
    if (second) {
      const extra = this.keyOf(second, item);
      this.report(
        extra.node,
        `a list item names exactly one repo, but this one also has the key ${extra.text}; ` +
          `put options under the repo ("- ${repo.text}: {${extra.text}: ...}") or start a new item with "-"`,
      );
    }
    this.readRepo(level, repo, this.deref(first.value), device);
  }

  private readRepo(level: Level, key: Key, value: Node | null, device: DeviceGroup | undefined): void {
    const repo = key.text;
    const validRepo = isRepoSlug(repo);
    if (!validRepo) {
      this.report(
        key.node,
        `"${repo}" is not an owner/repo name; write it as in the repo's URL, e.g. example-org/example-repo`,
      );
    }
    const inline = this.entryOptions(repo, value, device !== undefined);
    if (!validRepo || !this.isFirstListing(repo, level, key.node) || !inline) return;
    const relay = this.relayOptions.get(repo.toLowerCase());
    if (relay) relay.used = true;
    const { oncalls: _oncalls, ...inlineOptions } = inline;
    if (relay && Object.keys(inlineOptions).length > 0) {
      this.report(key.node, `${repo} has options both here and under relay: (line ${this.position(relay.node).line}); keep them in one place`);
      return;
    }
    const options = relay ? { ...inline, ...relay.options } : inline;

    const { oncalls = [], name: explicitName, legacy_callbacks: legacyCallbacks, ...overrides } = options;
    const nameNode = (isMap(value) && asNode(value.get("name", true))) || relay?.node || key.node;
    const name = this.entryName(repo, device, explicitName, nameNode);
    if (name === undefined) return;

    const policy = resolvePolicy(level, overrides);
    const conflict = policyConflict(policy);
    if (conflict) this.report(key.node, `${repo}: ${conflict}`);
    if (level === "L4" && oncalls.length === 0) {
      this.report(
        key.node,
        `${repo} is L4 but has no oncalls; L4 needs an oncall rotation, e.g. - ${repo}: "@alice,bob"`,
      );
    }
    const position = this.position(key.node);
    const entry = { repo, key: repo.toLowerCase(), level, name, oncalls, overrides, policy, position, ...(legacyCallbacks && { legacyCallbacks }) };
    this.entries.push(device === undefined ? entry : { ...entry, device: device.name });
  }

  /** The value after `owner/repo:`: nothing, oncalls (string or list), or an options map. */
  private entryOptions(repo: string, value: Node | null, inGroup: boolean): EntryOptions | undefined {
    if (!hasValue(value)) return {};
    if (isMap(value)) {
      if (this.options.torchci) {
        this.torchciProblem(value, `torchci reads no oncalls from an options map: write ${repo}'s oncalls here ("${repo}: "@alice, bob"" or a list) and its options under the top-level relay: section`);
      }
      return this.validate(value, EntryOptionsSchema, "option");
    }
    if (this.options.torchci && inGroup && isScalar(value)) {
      this.torchciProblem(value, `torchci reads L3 oncalls from a list only: write ${repo}: [${String(value.value).split(",").map((handle) => handle.trim()).filter(Boolean).join(", ")}]`);
    }
    if (isSeq(value) || (isScalar(value) && typeof value.value === "string")) {
      const oncalls = this.validate(value, OncallsSchema, "oncalls");
      return oncalls && { oncalls };
    }
    this.report(
      value,
      `the value of ${repo} must be oncalls ("@alice, bob" or a list) or a map of options; ` +
        `found ${this.describe(value)}`,
    );
    return undefined;
  }

  private isFirstListing(repo: string, level: Level, node: Node): boolean {
    const earlier = this.repos.get(repo.toLowerCase());
    if (earlier) {
      const where = `line ${earlier.line} (${earlier.level})`;
      this.report(node, `${repo} is already listed at ${where}; a repo has exactly one level`);
      return false;
    }
    this.repos.set(repo.toLowerCase(), { repo, level, line: this.position(node).line });
    return true;
  }

  /**
   * Explicit `name` > the device group (when it lists this repo alone) > derived from the repo; unique
   * case-insensitively. The repos of a group that lists several share its label, not a name.
   */
  private entryName(
    repo: string,
    device: DeviceGroup | undefined,
    explicit: string | undefined,
    at: Node,
  ): string | undefined {
    if (explicit !== undefined && device !== undefined && !device.shared) {
      this.report(
        at,
        `name is not allowed inside a device group of one repo: the device key "${device.name}" is the backend's name; ` +
          `remove name, or list ${repo} outside the group`,
      );
      return undefined;
    }
    const name = explicit ?? (device && !device.shared ? device.name : undefined) ?? deriveName(repo);
    if (!BACKEND_NAME.test(name)) {
      const fix = `give it one: ${repo}: {name: my-backend}`;
      this.report(at, `cannot derive a backend name from ${repo} (got "${name}"); ${fix}`);
      return undefined;
    }
    const earlier = this.names.get(name.toLowerCase());
    if (earlier) {
      const fix = device && !device.shared
        ? "the device key is the name of a group's only backend: rename the group, or give the other backend a distinct `name:`"
        : "give one of them a distinct `name:`";
      this.report(at, `name '${name}' is already used by ${earlier.repo} (line ${earlier.line}); ${fix}`);
      return undefined;
    }
    this.names.set(name.toLowerCase(), { repo, line: this.position(at).line });
    return name;
  }

  private readRequirements(node: Node | null): void {
    if (!hasValue(node)) return;
    if (!isMap(node)) {
      this.report(node, `requirements must be a map from level (L1..L4) to thresholds; found ${this.describe(node)}`);
      return;
    }
    for (const pair of this.pairs(node)) {
      const key = this.keyOf(pair, node);
      const value = this.deref(pair.value);
      if (!isLevel(key.text)) this.unknownKey(key, "requirements key", LEVELS);
      else if (isMap(value)) this.readLevelRequirements(key.text, value);
      else if (hasValue(value)) {
        const found = this.describe(value);
        this.report(value, `requirements.${key.text} must be a map of thresholds, e.g. "window_days: 7"; found ${found}`);
      }
    }
  }

  private readLevelRequirements(level: Level, node: YAMLMap): void {
    const requirements = this.validate(node, LevelRequirementsSchema, "requirement");
    if (requirements) this.requirements[level] = requirements;
  }

  // --- leaves ------------------------------------------------------------------------------------

  /**
   * Validates a leaf with a zod schema and reports each zod issue at the YAML node its path leads
   * to, prefixed with the key it concerns. Unknown keys are reported at the key node.
   */
  private validate<T>(node: Node, schema: z.ZodType<T>, label: string, input = this.toJS(node)): T | undefined {
    const result = schema.safeParse(input);
    if (result.success) return result.data;
    for (const issue of result.error.issues) {
      if (issue.code === "unrecognized_keys" && isMap(node)) {
        const allowed = schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
        for (const key of issue.keys) this.unknownKey(this.keyNamed(node, key), label, allowed);
      } else {
        const field = issue.path.findLast((segment) => typeof segment === "string") ?? label;
        this.report(nodeAt(node, issue.path), `${field}: ${issue.message}`);
      }
    }
    return undefined;
  }

  /** A form torchci refuses or misreads (ParseOptions.torchci). */
  private torchciProblem(node: Node | null, message: string): void {
    const [start, end] = node?.range ?? [0, 0];
    this.addIssue(start, end, `${message} (RELAY_PROFILE=pytorch: torchci reads this file too)`);
  }

  private unknownKey(key: Key, noun: string, allowed: readonly string[]): void {
    const guess = suggest(key.text, allowed);
    const hint = guess ? ` (did you mean ${guess}?)` : "";
    this.report(key.node, `unknown ${noun} "${key.text}"${hint}; allowed: ${allowed.join(", ")}`);
  }

  // --- YAML errors -------------------------------------------------------------------------------

  private reportYamlError(error: YAMLError): void {
    const [start, end] = error.pos;
    const scalar = this.scalarAt(start);
    if (error.code === "DUPLICATE_KEY") {
      this.duplicateKeyOffsets.add(start);
      const key = scalar ? this.keyText(scalar.node) : this.text.slice(start, end);
      this.addIssue(start, end, `duplicate key ${key}: a key appears once per map; merge the two`);
    } else if (error.code === "BAD_SCALAR_START" && this.text[start] === "@") {
      this.addIssue(start, end, `values starting with "@" must be quoted, e.g. ${quotedExample(scalar)}`);
    } else {
      this.addIssue(start, end, `invalid YAML: ${error.message.split("\n")[0]}`);
    }
  }

  /** The scalar starting at `offset`, with the key of the pair it is the value of. */
  private scalarAt(offset: number): ScalarAt | undefined {
    let found: ScalarAt | undefined;
    visit(this.doc, {
      Scalar: (role, node, path) => {
        if (node.range?.[0] !== offset) return undefined;
        const parent = path.at(-1);
        const pairKey = role === "value" && isPair(parent) && isNode(parent.key) ? this.keyText(parent.key) : undefined;
        found = { node, pairKey };
        return visit.BREAK;
      },
    });
    return found;
  }

  // --- YAML helpers ------------------------------------------------------------------------------

  /** The map's pairs, without those whose key YAML already reported as a duplicate. */
  private pairs(map: YAMLMap): Pair[] {
    return map.items.filter(
      (pair) => !(isNode(pair.key) && this.duplicateKeyOffsets.has(pair.key.range?.[0] ?? -1)),
    );
  }

  private keyOf(pair: Pair, parent: Node): Key {
    const node = asNode(pair.key) ?? asNode(pair.value) ?? parent;
    return { node, text: isNode(pair.key) ? this.keyText(pair.key) : "" };
  }

  private keyNamed(map: YAMLMap, text: string): Key {
    const pair = map.items.find((candidate) => isNode(candidate.key) && this.keyText(candidate.key) === text);
    return { node: (pair && asNode(pair.key)) ?? map, text };
  }

  /** String scalars by value, empty ones as "", anything else by its source text (`1.0`, `[a]`). */
  private keyText(node: Node): string {
    if (isScalar(node) && typeof node.value === "string") return node.value;
    if (isScalar(node) && node.value === null) return "";
    const [start, end] = node.range ?? [0, 0];
    return this.text.slice(start, end);
  }

  /** Follows `*alias` to its anchored node, so shared values (`&oncalls [...]`) work. */
  private deref(value: unknown): Node | null {
    if (isAlias(value)) return value.resolve(this.doc) ?? value;
    return asNode(value) ?? null;
  }

  private toJS(node: Node | null): unknown {
    return node === null ? null : (node.toJS(this.doc) as unknown);
  }

  private describe(node: Node | null): string {
    return describeValue(this.toJS(node));
  }

  // --- positions ---------------------------------------------------------------------------------

  private position(node: Node): { line: number; col: number } {
    return this.lineCounter.linePos(node.range?.[0] ?? 0);
  }

  private report(node: Node, message: string): void {
    const [start, end] = node.range ?? [0, 0];
    this.addIssue(start, end, message);
  }

  private addIssue(start: number, end: number, message: string): void {
    const { line, col } = this.lineCounter.linePos(start);
    const { line: endLine, col: endCol } = this.lineCounter.linePos(end);
    this.issues.push({ line, col, endLine, endCol, message });
  }
}

/** `key: "@value"` for the scalar YAML refused to read unquoted. */
function quotedExample(scalar: ScalarAt | undefined): string {
  if (!scalar) return 'owner/repo: "@alice,bob"';
  const value = JSON.stringify(String(scalar.node.value));
  return scalar.pairKey === undefined ? value : `${scalar.pairKey}: ${value}`;
}

function asNode(value: unknown): Node | undefined {
  return isNode(value) ? value : undefined;
}

function isLevel(text: string): text is Level {
  return (LEVELS as readonly string[]).includes(text);
}

/** False for a missing value and for an empty one (`key:` with nothing after it, or `~`). */
function hasValue(node: Node | null): node is Node {
  return node !== null && !(isScalar(node) && node.value === null);
}

/** The deepest node along a zod issue path (a string of comma-separated oncalls stops the walk). */
function nodeAt(node: Node, path: readonly PropertyKey[]): Node {
  let current = node;
  for (const segment of path) {
    if (!isMap(current) && !isSeq(current)) break;
    const next: unknown = current.get(segment, true);
    if (!isNode(next)) break;
    current = next;
  }
  return current;
}

/** `owner/Torch_NPU` → `torch_npu`: the repo part, lower-cased, other characters as '-'. */
function deriveName(repo: string): string {
  const repoPart = repo.split("/")[1] ?? "";
  return repoPart
    .toLowerCase()
    .replace(/[^a-z0-9._-]/g, "-")
    .replace(/^-+|-+$/g, "");
}

/** The allowed key a typo most likely meant: same letters ignoring case and '-'/'_', or 1–2 edits away. */
function suggest(key: string, allowed: readonly string[]): string | undefined {
  const normalize = (text: string) => text.toLowerCase().replace(/[-_]/g, "");
  const wanted = normalize(key);
  const exact = allowed.find((candidate) => normalize(candidate) === wanted);
  if (exact || wanted.length < 5) return exact;
  return allowed.find((candidate) => editDistance(normalize(candidate), wanted) <= 2);
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
