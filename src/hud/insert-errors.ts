// Why ClickHouse refused an insert decides what the HUD writer does with the rows it carried:
//  - outage: ClickHouse was not reached or accepts nothing right now. No ClickHouse exception at all
//    (connection refused, timeouts, an HTTP 5xx from a proxy, chDB's data directory held by another
//    session) or a server-state exception such as MEMORY_LIMIT_EXCEEDED. Every row is kept and retried.
//  - data: ClickHouse read the statement and refused a value (chDB answers a lone surrogate with
//    CANNOT_PARSE_ESCAPE_SEQUENCE, -1 in a UInt32 with CANNOT_PARSE_NUMBER, a failed CHECK with
//    VIOLATED_CONSTRAINT). Some rows are bad: they are isolated and set aside, the others written.
//  - unknown: any other ClickHouse exception. Isolated like data, but a row is set aside only after it
//    was refused on its own several times.
export type InsertErrorKind = "outage" | "data" | "unknown";

/** Every CANNOT_PARSE_* (text, number, date, escape sequence, …) is about a value of the input. */
const PARSE_ERROR = /^CANNOT_PARSE_/;

const DATA_ERRORS = new Set([
  "ARGUMENT_OUT_OF_BOUND",
  "CANNOT_CONVERT_TYPE",
  "CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN",
  "CANNOT_READ_ARRAY_FROM_TEXT",
  "DECIMAL_OVERFLOW",
  "INCORRECT_DATA",
  "INCORRECT_NUMBER_OF_COLUMNS",
  "SIZES_OF_ARRAYS_DONT_MATCH",
  "TOO_LARGE_ARRAY_SIZE",
  "TOO_LARGE_STRING_SIZE",
  "TYPE_MISMATCH",
  "UNKNOWN_ELEMENT_OF_ENUM",
  "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE",
  "VIOLATED_CONSTRAINT",
]);

/** Exceptions about the server's state, not the rows: every insert would fail the same way. */
const OUTAGE_ERRORS = new Set([
  "ABORTED",
  "ACCESS_DENIED",
  "ALL_CONNECTION_TRIES_FAILED",
  "AUTHENTICATION_FAILED",
  "CANNOT_ALLOCATE_MEMORY",
  "CANNOT_READ_FROM_SOCKET",
  "CANNOT_SCHEDULE_TASK",
  "CANNOT_WRITE_TO_SOCKET",
  "KEEPER_EXCEPTION",
  "MEMORY_LIMIT_EXCEEDED",
  "NETWORK_ERROR",
  "NOT_ENOUGH_SPACE",
  "QUERY_WAS_CANCELLED",
  "QUOTA_EXCEEDED",
  "READONLY",
  "REQUIRED_PASSWORD",
  "SERVER_OVERLOADED",
  "SOCKET_TIMEOUT",
  "TABLE_IS_DROPPED",
  "TABLE_IS_READ_ONLY",
  "TIMEOUT_EXCEEDED",
  "TOO_MANY_PARTS",
  "TOO_MANY_SIMULTANEOUS_QUERIES",
  "UNKNOWN_DATABASE",
  "UNKNOWN_TABLE",
  "UNKNOWN_USER",
]);

export function classifyInsertError(error: unknown): InsertErrorKind {
  const type = exceptionType(error);
  if (type === undefined) return "outage";
  if (PARSE_ERROR.test(type) || DATA_ERRORS.has(type)) return "data";
  return OUTAGE_ERRORS.has(type) ? "outage" : "unknown";
}

/**
 * The TYPE of a ClickHouse exception (`Code: N. DB::Exception: … (TYPE)`, parsed into a ClickHouseError).
 * Checked by shape: @clickhouse/client and chdb/connection each load their own copy of that class.
 */
function exceptionType(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined;
  const { code, type } = error as { code?: unknown; type?: unknown };
  return typeof type === "string" && typeof code === "string" && /^\d+$/.test(code) ? type : undefined;
}

/** At most this much of ClickHouse's message is kept with a refused row (it quotes the row's text). */
const MAX_REFUSAL_LENGTH = 1000;

/** `TYPE: message`, for logs and the rejected row; never for unauthenticated answers such as /readyz. */
export function describeInsertError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const type = exceptionType(error);
  const text = type === undefined ? message : `${type}: ${message}`;
  return text.length > MAX_REFUSAL_LENGTH ? `${text.slice(0, MAX_REFUSAL_LENGTH)}…` : text;
}
