// A backend's daily series over a window: test pass rate, jobs without an infrastructure failure, and
// queue- and run-time p50 per UTC day (pure filling of empty days happens here too, so plots have one
// point per day).
import type { HudDatabase } from "../clickhouse.js";
import type { DailyPoint } from "../views.js";
import { INFRA_FAILURE, inWindow, latestAttempts, num, select, TEST_FAILURE, windowParams, type Window } from "./sql.js";

interface DailyColumns {
  day: string;
  jobs: number | string;
  succeeded: number | string;
  test_failures: number | string;
  completed: number | string;
  infra_failures: number | string;
  queue_p50: number | null;
  run_p50: number | null;
}

const DAY_MS = 86_400_000;

export async function dailySeries(db: HudDatabase, window: Window, downstreamRepo: string): Promise<DailyPoint[]> {
  const rows = await select<DailyColumns>(
    db,
    `SELECT toString(toDate(first_report_at)) AS day,
        count() AS jobs,
        countIf(conclusion = 'success') AS succeeded,
        countIf(${TEST_FAILURE}) AS test_failures,
        countIf(status = 'completed') AS completed,
        countIf(${INFRA_FAILURE}) AS infra_failures,
        quantileExact(0.5)(queue_ms) AS queue_p50,
        quantileExact(0.5)(execution_ms) AS run_p50
      FROM (${latestAttempts(db.database, `downstream_repo = {repo:String} AND ${inWindow("first_report_at")}`)})
      GROUP BY day
      ORDER BY day`,
    { ...windowParams(window), repo: downstreamRepo.toLowerCase() },
  );
  const byDay = new Map(rows.map((row) => [row.day, row]));
  const points: DailyPoint[] = [];
  for (let day = Math.floor(window.from / DAY_MS) * DAY_MS; day < window.to; day += DAY_MS) {
    const key = new Date(day).toISOString().slice(0, 10);
    const row = byDay.get(key);
    const succeeded = num(row?.succeeded ?? 0);
    const judged = succeeded + num(row?.test_failures ?? 0);
    const completed = num(row?.completed ?? 0);
    points.push({
      day: key,
      jobs: num(row?.jobs ?? 0),
      testPassRate: judged === 0 ? null : succeeded / judged,
      infraOkRate: completed === 0 ? null : 1 - num(row?.infra_failures ?? 0) / completed,
      queueP50Ms: row?.queue_p50 ?? null,
      runP50Ms: row?.run_p50 ?? null,
    });
  }
  return points;
}
