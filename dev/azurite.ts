import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { connect } from "node:net";
import { freePort, stopChild, waitFor } from "./processes.js";

const DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

export interface AzuriteHandle {
  connectionString: string;
  /** Restart on the same port (in-memory data is lost; on-disk data is kept). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

function connectionString(port: number): string {
  return `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${DEV_KEY};TableEndpoint=http://127.0.0.1:${port}/devstoreaccount1;`;
}

async function launch(port: number, location: string | undefined): Promise<ChildProcess> {
  const require = createRequire(import.meta.url);
  const bin = require.resolve("azurite/dist/src/table/main.js");
  // Run the table service directly (no npx wrapper), so stopping the child stops Azurite.
  const persistence = location === undefined ? ["--inMemoryPersistence"] : ["--location", location];
  const child = spawn(process.execPath, [bin, ...persistence, "--skipApiVersionCheck", "--tableHost", "127.0.0.1", "--tablePort", String(port), "--silent", "--disableTelemetry"], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  await waitFor(
    () =>
      new Promise<boolean>((resolve) => {
        const s = connect(port, "127.0.0.1", () => {
          s.destroy();
          resolve(true);
        });
        s.on("error", () => resolve(false));
      }),
    15000,
    "Azurite",
  );
  return child;
}

/**
 * Starts Azurite's table service on loopback (a free port unless one is given): in memory,
 * or in `location` on disk when data must survive a restart (fault tests).
 */
export async function startAzurite(fixedPort?: number, options: { location?: string } = {}): Promise<AzuriteHandle> {
  const port = fixedPort ?? (await freePort());
  let child = await launch(port, options.location);
  return {
    connectionString: connectionString(port),
    async restart() {
      // SIGINT is Azurite's graceful stop: it saves its on-disk database first (SIGTERM does not).
      await stopChild(child, 5000, "SIGINT");
      child = await launch(port, options.location);
    },
    async stop() {
      await stopChild(child, 5000, "SIGINT");
    },
  };
}
