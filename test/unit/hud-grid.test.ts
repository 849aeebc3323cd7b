// The history grid's pure parts: keyset pages and their cursors (src/hud/grid.ts), the assembly of a page's
// rows, and the short, distinct column labels of its rotated headers (src/hud/pages/column-labels.ts).
import { describe, expect, it } from "vitest";
import { formatCursor, gridPage, historyGrid, jobColumn, NEWEST, parseCursor, type RowKey } from "../../src/hud/grid.js";
import { columnLabels, MAX_LABEL } from "../../src/hud/pages/column-labels.js";
import type { DispatchRow, JobRow } from "../../src/hud/queries/rows.js";
import { job } from "./hud-fixtures.js";

const SHA = (n: number) => n.toString(16).padStart(40, "0");
/** Keys newest first, as the query reads them for the newest page and for `before`. */
const keys = (count: number, from = 0): RowKey[] => Array.from({ length: count }, (_, index) => ({ at: 1_000_000 - (from + index) * 1000, prNumber: 500 - from - index, headSha: SHA(from + index) }));

describe("cursors", () => {
  it("round-trips a row key, pushes (PR 0) and non-hex shas included", () => {
    for (const key of [
      { at: 1_763_640_000_000, prNumber: 101, headSha: SHA(7) },
      { at: 0, prNumber: 0, headSha: "trunk-a" },
    ]) {
      expect(parseCursor(formatCursor(key))).toEqual(key);
    }
    expect(formatCursor({ at: 1_763_640_000_000, prNumber: 101, headSha: "abc" })).toBe("1763640000000_101_abc");
  });

  it("is no cursor when a part is missing or not a number", () => {
    for (const text of ["", "1_2", "x_1_abc", "1_x_abc", "1_2_", "1_2_a b", "-1_2_abc", `${"9".repeat(16)}_1_abc`]) expect([text, parseCursor(text)]).toEqual([text, undefined]);
  });
});

describe("grid pages", () => {
  it("shows the first 50 of 51 rows read and points past the last one; the newest page has nothing newer", () => {
    const read = keys(51);
    const { keys: shown, page } = gridPage(read, NEWEST)!;
    expect(shown).toEqual(read.slice(0, 50));
    expect(page).toEqual({ newer: null, older: formatCursor(read[49]!) });
  });

  it("says there is no more when the read ends within the page", () => {
    expect(gridPage(keys(50), NEWEST)!.page).toEqual({ newer: null, older: null });
    expect(gridPage([], NEWEST)).toEqual({ keys: [], page: { newer: null, older: null } });
  });

  it("pages older rows from a cursor, linking back to the rows just newer", () => {
    const read = keys(20, 50);
    const { keys: shown, page } = gridPage(read, { before: keys(50)[49]! })!;
    expect(shown).toEqual(read);
    expect(page).toEqual({ newer: formatCursor(read[0]!), older: null });
  });

  it("pages newer rows oldest first, shown newest first; reaching the newest rows is the newest page", () => {
    // The 51 rows just newer than the 52nd, read oldest first: the 50 oldest of them are the page.
    const ascending = keys(51).reverse();
    const { keys: shown, page } = gridPage(ascending, { after: keys(52)[51]! })!;
    expect(shown).toEqual(keys(51).slice(1));
    expect(page).toEqual({ newer: formatCursor(shown[0]!), older: formatCursor(shown[49]!) });
    expect(gridPage(keys(50).reverse(), { after: keys(51)[50]! })).toBeUndefined();
  });
});

describe("a page's grid", () => {
  const dispatch = (prNumber: number | null, headSha: string, overrides: Partial<DispatchRow> = {}): DispatchRow => ({
    deliveryId: `d${prNumber}`,
    downstreamRepo: "acme/npu",
    backendName: "npu",
    level: "L4",
    eventType: prNumber === null ? "push" : "pull_request",
    prNumber,
    headSha,
    outcome: "sent",
    reason: "",
    createdAt: 100,
    title: `title ${prNumber}`,
    author: "alice",
    ...overrides,
  });
  const jobRow = (prNumber: number | null, headSha: string, name: string, at: number, conclusion = "success"): JobRow => ({
    downstreamRepo: "acme/npu",
    backendName: "npu",
    level: "L4",
    prNumber,
    headSha,
    deliveryId: `d${prNumber}`,
    eventType: prNumber === null ? "push" : "pull_request",
    at,
    cell: job({ workflowName: "ci", jobName: name, conclusion }),
  });

  it("has the page's rows in its order, each with its cells, and ignores rows of other pages", () => {
    const page = { keys: [{ at: 300, prNumber: 0, headSha: "t1" }, { at: 200, prNumber: 7, headSha: "s7" }], page: { newer: null, older: "200_7_s7" } };
    const grid = historyGrid(
      page,
      [jobRow(7, "s7", "test", 210, "failure"), jobRow(7, "s7", "test", 260), jobRow(null, "t1", "build", 310), jobRow(8, "s8", "lint", 400)],
      [dispatch(7, "s7", { title: "newer title", createdAt: 250 }), dispatch(7, "s7", { createdAt: 200 }), dispatch(8, "s8")],
      { column: jobColumn },
    );
    expect(grid.columns).toEqual(["ci / build", "ci / test"]);
    expect(grid.rows.map((row) => [row.prNumber, row.headSha, row.at, row.eventType, row.title, Object.keys(row.cells)])).toEqual([
      [null, "t1", new Date(300).toISOString(), "push", null, ["ci / build"]],
      [7, "s7", new Date(200).toISOString(), "pull_request", "newer title", ["ci / test"]],
    ]);
    // The latest attempt wins the cell.
    expect(grid.rows[1]!.cells["ci / test"]!.conclusion).toBe("success");
    expect(grid.page).toEqual(page.page);
  });

  it("marks a row whose dispatch left no job, and ignores skipped dispatches", () => {
    const grid = historyGrid({ keys: [{ at: 100, prNumber: 9, headSha: "s9" }], page: { newer: null, older: null } }, [], [dispatch(9, "s9", { reason: "never_reported" }), dispatch(9, "s9", { outcome: "skipped", title: "skipped" })], {
      column: jobColumn,
    });
    expect(grid.rows.map((row) => [row.title, row.missing?.kind])).toEqual([["title 9", "never_reported"]]);
  });
});

describe("column labels", () => {
  /** Every label distinct and at most MAX_LABEL characters unless a longer one was needed to tell it apart. */
  function expectDistinct(columns: string[]): string[] {
    const { labels } = columnLabels(columns);
    expect(new Set(labels).size).toBe(columns.length);
    return labels;
  }

  it("elides the workflow every column shares and keeps short shard names whole", () => {
    const columns = ["pytorch-pr / build (npu)", "pytorch-pr / test (npu, 1/4)", "pytorch-pr / test (npu, 2/4)", "pytorch-pr / test (npu, 3/4)", "pytorch-pr / test (npu, 4/4)"];
    expect(columnLabels(columns)).toEqual({
      prefix: "pytorch-pr / ",
      labels: ["build (npu)", "test (npu, 1/4)", "test (npu, 2/4)", "test (npu, 3/4)", "test (npu, 4/4)"],
    });
  });

  it("keeps the start and the shard of long names, all distinct", () => {
    const columns = [1, 2, 3, 4, 5].map((shard) => `linux-jammy-py3.10-gcc11 / test (default, ${shard}/5, linux.4xlarge)`);
    columns.push("linux-jammy-py3.10-gcc11 / build", "linux-jammy-py3.10-gcc11 / test (distributed, 1/3, linux.8xlarge.nvidia.gpu)");
    const labels = expectDistinct(columns);
    expect(columnLabels(columns).prefix).toBe("linux-jammy-py3.10-gcc11 / ");
    // The shards' common end (", linux.4xlarge)") would collide at MAX_LABEL: they keep a little more, up to their shard.
    expect(labels).toEqual([1, 2, 3, 4, 5].map((shard) => `test (d…${shard}/5, linux.4xlarge)`).concat(["build", "test (d…arge.nvidia.gpu)"]));
    expect(labels.at(-1)!.length).toBeLessThanOrEqual(MAX_LABEL);
  });

  it("tells apart backends' shards on a trunk grid, where no prefix is shared", () => {
    const columns = [
      ...[1, 2, 3, 4].map((shard) => `npu · pytorch-pr / test (npu, ${shard}/4, ascend-910b)`),
      ...[1, 2].map((shard) => `xpu · xpu-ci / test (xpu, ${shard}/2, linux.idc.xpu)`),
      "tpu · ci / test",
    ];
    expect(columnLabels(columns)).toEqual({
      prefix: "",
      labels: [
        ...[1, 2, 3, 4].map((shard) => `npu · p…${shard}/4, ascend-910b)`),
        ...[1, 2].map((shard) => `xpu · x…${shard}/2, linux.idc.xpu)`),
        "tpu · ci / test",
      ],
    });
    expectDistinct(columns);
    // Shorter shard names keep their whole job name after the backend.
    expect(columnLabels(["npu · pytorch-pr / test (npu, 1/4)", "npu · pytorch-pr / test (npu, 2/4)", "tpu · pytorch-pr / test (tpu, 1/1)"]).labels).toEqual([
      "npu · p…test (npu, 1/4)",
      "npu · p…test (npu, 2/4)",
      "tpu · p…test (tpu, 1/1)",
    ]);
  });

  it("widens only the labels that would collide, up to the whole name", () => {
    // The same long end, differing only well before it.
    const columns = ["wf / job-alpha-0001-with-a-very-long-common-tail", "wf / job-alpha-0002-with-a-very-long-common-tail", "wf / short"];
    const labels = expectDistinct(columns);
    expect(labels[2]).toBe("short");
    expect(labels.slice(0, 2)).toEqual(["job-alp…1-with-a-very-long-common-tail", "job-alp…2-with-a-very-long-common-tail"]);
  });

  it("says nothing is shared by one column, and keeps a column that is only the prefix of another whole", () => {
    expect(columnLabels(["ci / test (npu, 1/4)"])).toEqual({ prefix: "", labels: ["ci / test (npu, 1/4)"] });
    expect(columnLabels(["ci / a", "ci / b / c"]).prefix).toBe("ci / ");
    expect(columnLabels(["ci / build", "nightly / build"]).prefix).toBe("");
  });
});
