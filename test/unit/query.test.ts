import { describe, expect, it } from "vitest";
import { z } from "zod";
import { daysParam, parseQuery } from "../../src/http/query.js";

const Query = z.strictObject({ days: daysParam(30, 7) });
const parse = (search: string) => parseQuery(Query, new URL(`http://relay.test/x?${search}`));

describe("parseQuery", () => {
  it("takes a valid query, applying defaults", () => {
    expect(parse("days=30")).toEqual({ ok: true, value: { days: 30 } });
    expect(parse("")).toEqual({ ok: true, value: { days: 7 } });
  });

  it("names a repeated parameter, an unknown one with what is accepted, and a bad value", () => {
    expect(parse("days=1&days=2")).toEqual({ ok: false, problem: "query parameter days is given more than once" });
    expect(parse("range=7")).toEqual({ ok: false, problem: "unknown query parameter range; accepted: days" });
    expect(parse("days=31")).toEqual({ ok: false, problem: "days must be a whole number of days from 1 to 30" });
    expect(parse("days=1.5")).toEqual({ ok: false, problem: "days must be a whole number of days from 1 to 30" });
  });
});
