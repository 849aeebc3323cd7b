// One way to put a zod failure into a message: `path.to.field: problem; other: problem`.
import type { z } from "zod";

/** `whole` names the value itself when an issue is about it rather than one of its fields. */
export function describeIssues(error: z.ZodError, whole: string): string {
  return error.issues.map((issue) => `${issue.path.join(".") || whole}: ${issue.message}`).join("; ");
}
