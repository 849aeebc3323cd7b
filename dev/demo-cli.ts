// `npm run demo` runs the offline demo (dev/demo.ts) and exits; `npm run demo -- --serve` keeps the relay
// up for a browser until Ctrl-C. The relay's own logs are silent; TEST_LOG_LEVEL=info shows them.
import { runDemo } from "./demo.js";

const args = process.argv.slice(2);
if (args.some((arg) => arg !== "--serve")) {
  process.stderr.write("usage: npm run demo [-- --serve]\n");
  process.exit(2);
}
const serve = args.includes("--serve");
const print = (line: string) => process.stdout.write(`${line}\n`);

try {
  const demo = await runDemo({ print, keepRunning: serve });
  if (serve) {
    print("\nThe relay keeps running; press Ctrl-C to stop it.");
    await new Promise((resolve) => process.once("SIGINT", resolve));
    await demo.stop();
  }
} catch (error) {
  process.stderr.write(`\ndemo failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
