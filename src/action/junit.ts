// JUnit XML → callback test counts and failed test names. Understands the two dialects backends produce most:
// pytest's --junitxml (failed names `classname::name`) and GoogleTest's --gtest_output=xml (the classname is
// the suite: `Suite.Test`; disabled tests are `status="notrun"`, GTEST_SKIP is `result="skipped"`).
import { XMLParser, XMLValidator } from "fast-xml-parser";

export interface JUnitCounts {
  total: number;
  passed: number;
  failed: number;
  skipped: number;
  errors: number;
}

export interface JUnitResult {
  tests: JUnitCounts;
  /** Failed and errored tests, in file order, all of them (callers cap the list). */
  failedTests: string[];
}

export class JUnitError extends Error {
  override name = "JUnitError";
}

type Node = Record<string, unknown>;

const ARRAY_ELEMENTS = new Set(["testsuite", "testcase", "failure", "error", "skipped"]);

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "@_",
  parseAttributeValue: false,
  parseTagValue: false,
  processEntities: true,
  isArray: (name) => ARRAY_ELEMENTS.has(name),
});

/** Parses one JUnit XML document; `file` names it in error messages. */
export function parseJUnit(xml: string, file: string): JUnitResult {
  const valid = XMLValidator.validate(xml);
  if (valid !== true) {
    const { msg, line, col } = valid.err;
    throw new JUnitError(`${file} is not well-formed XML (line ${line}, column ${col}): ${msg}`);
  }
  let document: Node;
  try {
    document = parser.parse(xml) as Node;
  } catch (error) {
    throw new JUnitError(`${file} could not be parsed as XML: ${error instanceof Error ? error.message : String(error)}`);
  }
  const roots: Node[] = [];
  if (isNode(document.testsuites)) roots.push(document.testsuites);
  else if (document.testsuites === "") roots.push({});
  for (const suite of asNodes(document.testsuite)) roots.push({ testsuite: [suite] });
  if (roots.length === 0) {
    throw new JUnitError(`${file} is not a JUnit XML report: expected a <testsuites> or <testsuite> root element`);
  }
  const result: JUnitResult = { tests: { total: 0, passed: 0, failed: 0, skipped: 0, errors: 0 }, failedTests: [] };
  for (const root of roots) collect(root, result);
  const { tests } = result;
  tests.passed = tests.total - tests.failed - tests.skipped - tests.errors;
  return result;
}

/** Sums several files' results. */
export function mergeJUnit(results: readonly JUnitResult[]): JUnitResult {
  const merged: JUnitResult = { tests: { total: 0, passed: 0, failed: 0, skipped: 0, errors: 0 }, failedTests: [] };
  for (const result of results) {
    for (const key of ["total", "passed", "failed", "skipped", "errors"] as const) merged.tests[key] += result.tests[key];
    merged.failedTests.push(...result.failedTests);
  }
  return merged;
}

// A <testsuites> or <testsuite> element: its test cases, then nested suites (some tools nest them).
function collect(element: Node, result: JUnitResult): void {
  for (const testcase of asNodes(element.testcase)) countCase(testcase, result);
  for (const suite of asNodes(element.testsuite)) collect(suite, result);
}

function countCase(testcase: Node, result: JUnitResult): void {
  const { tests } = result;
  tests.total += 1;
  const gtest = typeof testcase["@_status"] === "string" || typeof testcase["@_result"] === "string";
  if (present(testcase.failure)) {
    tests.failed += 1;
    result.failedTests.push(testName(testcase, gtest));
  } else if (present(testcase.error)) {
    tests.errors += 1;
    result.failedTests.push(testName(testcase, gtest));
  } else if (present(testcase.skipped) || testcase["@_status"] === "notrun" || testcase["@_result"] === "skipped" || testcase["@_result"] === "suppressed") {
    tests.skipped += 1;
  }
}

function testName(testcase: Node, gtest: boolean): string {
  const name = stringAttribute(testcase, "name") || "(unnamed)";
  const classname = stringAttribute(testcase, "classname");
  if (!classname) return name;
  return gtest ? `${classname}.${name}` : `${classname}::${name}`;
}

function stringAttribute(node: Node, name: string): string {
  const value = node[`@_${name}`];
  return typeof value === "string" ? value : "";
}

function present(value: unknown): boolean {
  return Array.isArray(value) && value.length > 0;
}

function isNode(value: unknown): value is Node {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

// With isArray, repeated elements are arrays; an empty element (<testsuite/>) parses as "".
function asNodes(value: unknown): Node[] {
  if (value === undefined) return [];
  const items = Array.isArray(value) ? (value as unknown[]) : [value];
  return items.map((item) => (isNode(item) ? item : {}));
}
