// JUnit XML parsing for report-ci-result, on real-format reports from pytest (--junitxml) and GoogleTest
// (--gtest_output=xml).
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { JUnitError, mergeJUnit, parseJUnit } from "../../src/action/junit.js";

const fixture = (name: string) => {
  const file = path.join(import.meta.dirname, "../fixtures/junit", name);
  return { file, xml: readFileSync(file, "utf8") };
};

describe("parseJUnit", () => {
  it("reads pytest's --junitxml: failures, a setup error, skip and xfail, names as classname::name", () => {
    const { file, xml } = fixture("pytest.xml");
    expect(parseJUnit(xml, file)).toEqual({
      tests: { total: 9, passed: 4, failed: 2, skipped: 2, errors: 1 },
      failedTests: [
        "test.test_ops.TestOpsNPU::test_add_float16",
        "test.test_ops.TestOpsNPU::test_mul[shape1-bfloat16]",
        "test.test_nn.TestConv::test_conv3d",
      ],
    });
  });

  it("reads GoogleTest's XML: multiple failures in one test, disabled and GTEST_SKIP tests, names as Suite.Test", () => {
    const { file, xml } = fixture("googletest.xml");
    expect(parseJUnit(xml, file)).toEqual({
      tests: { total: 8, passed: 4, failed: 2, skipped: 2, errors: 0 },
      failedTests: ["NpuAllocatorTest.ReusesCachedBlocks", "Dtypes/NpuCastTest.RoundTrip/1"],
    });
  });

  it("accepts a lone <testsuite> root and an empty report", () => {
    const single = `<testsuite name="x" tests="2"><testcase classname="m.T" name="a"/><testcase classname="m.T" name="b"><skipped/></testcase></testsuite>`;
    expect(parseJUnit(single, "single.xml").tests).toEqual({ total: 2, passed: 1, failed: 0, skipped: 1, errors: 0 });
    expect(parseJUnit(`<?xml version="1.0"?><testsuites/>`, "empty.xml").tests).toEqual({ total: 0, passed: 0, failed: 0, skipped: 0, errors: 0 });
  });

  it("sums several files", () => {
    const a = fixture("pytest.xml");
    const b = fixture("googletest.xml");
    const merged = mergeJUnit([parseJUnit(a.xml, a.file), parseJUnit(b.xml, b.file)]);
    expect(merged.tests).toEqual({ total: 17, passed: 8, failed: 4, skipped: 4, errors: 1 });
    expect(merged.failedTests).toHaveLength(5);
  });

  it("rejects malformed XML with an error naming the file and the position", () => {
    const { file, xml } = fixture("malformed.xml");
    expect(() => parseJUnit(xml, file)).toThrow(JUnitError);
    expect(() => parseJUnit(xml, file)).toThrow(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")} is not well-formed XML \\(line 1, column \\d+\\)`));
  });

  it("rejects well-formed XML that is not a JUnit report", () => {
    expect(() => parseJUnit(`<coverage line-rate="0.9"/>`, "coverage.xml")).toThrow("coverage.xml is not a JUnit XML report: expected a <testsuites> or <testsuite> root element");
  });
});
