// Integer ranges of the ClickHouse column types HUD values end in (src/hud/migrations.ts). ClickHouse
// does not refuse a larger value: 2^32 + 5 inserted into a UInt32 is stored as 5. So the callback schema
// and the HUD row schema refuse it first, naming the field.
import { z } from "zod";

export const UINT32_MAX = 4_294_967_295;

/** A UInt32 column's value. (UInt64 columns take any z.int(): it stays within Number.MAX_SAFE_INTEGER.) */
export const uint32 = () => z.int().nonnegative().max(UINT32_MAX);
