/**
 * The second client lane: Microsoft's Python SDKs (Debian python3-azure, python3-uamqp, for
 * /usr/bin/python3) against the peers — azure-servicebus over AMQPS to the Service Bus peer on
 * 5671 (the SDK always dials 5671: run it in its own network namespace when others may hold
 * the port), azure-keyvault-secrets against the Key Vault peer as `npm run emulator:keyvault`
 * serves it (any well-formed bearer token). Prints unittest's summary and a closing line:
 *
 *   python SDK lane: N passed, N failed, N skipped
 *
 *   npm run test:python               both files
 *   npm run test:python -- test_keyvault
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startKeyVaultPeer } from "../../emulators/keyvault/peer.js";
import type { QueueDef } from "../../emulators/servicebus/config.js";
import { startServiceBusPeer } from "../../emulators/servicebus/peer.js";

const PYTHON = process.env.PYTHON_SDK_INTERPRETER ?? "/usr/bin/python3";
const ROOT_POLICY = { name: "RootManageSharedAccessKey", key: "cHl0aG9uLWxhbmUtb25seS1ub3QtYS1zZWNyZXQta2V5LTAwMDAwMDAwMDA=", rights: ["Manage", "Send", "Listen"] as ("Manage" | "Send" | "Listen")[] };
/** Each Python test takes queues of its own (test_servicebus.py: QUEUES_PER_KIND of each kind). */
const QUEUES_PER_KIND = 20;
const KINDS: Record<string, Omit<QueueDef, "name">> = {
  plain: { lockDuration: "PT30S", maxDeliveryCount: 10 },
  twice: { lockDuration: "PT30S", maxDeliveryCount: 2 },
  "short-lock": { lockDuration: "PT3S", maxDeliveryCount: 10 },
  expiring: { deadLetteringOnMessageExpiration: true },
  sessions: { requiresSession: true, lockDuration: "PT30S" },
  "sessions-short": { requiresSession: true, lockDuration: "PT3S" },
};
const QUEUES: QueueDef[] = Object.entries(KINDS).flatMap(([kind, def]) => Array.from({ length: QUEUES_PER_KIND }, (_, i) => ({ name: `py-${kind}-${i + 1}`, ...def })));

const dir = mkdtempSync(join(tmpdir(), "python-lane-"));
const serviceBus = await startServiceBusPeer({ port: 0, tls: { port: Number(process.env.SB_TLS_PORT ?? 5671) }, config: { policies: [ROOT_POLICY], queues: QUEUES } });
const keyVault = await startKeyVaultPeer({ tokens: "well-formed" });
const sbCa = join(dir, "servicebus-ca.pem");
const kvCa = join(dir, "keyvault-ca.pem");
writeFileSync(sbCa, serviceBus.tls?.caPem ?? "");
writeFileSync(kvCa, keyVault.caPem);

const tests = process.argv.slice(2);
const child = spawn(PYTHON, ["-m", "unittest", "-v", ...(tests.length > 0 ? tests : ["test_servicebus", "test_keyvault"])], {
  cwd: import.meta.dirname,
  stdio: ["ignore", "inherit", "pipe"],
  env: {
    ...process.env,
    PYTHONDONTWRITEBYTECODE: "1",
    SB_CONNECTION_STRING: serviceBus.connectionString(ROOT_POLICY.name, { tls: true }),
    SB_BAD_KEY_CONNECTION_STRING: serviceBus.connectionString(ROOT_POLICY.name, { tls: true }).replace(ROOT_POLICY.key, Buffer.from("not-the-key").toString("base64")),
    SB_CA_FILE: sbCa,
    KV_URL: keyVault.url,
    KV_CA_FILE: kvCa,
  },
});
// unittest reports on stderr: pass it through and keep it to count the outcomes.
let report = "";
child.stderr?.on("data", (chunk: Buffer) => {
  process.stderr.write(chunk);
  report += chunk.toString("utf8");
});
const code: number = await new Promise((done) => {
  child.on("error", (e) => {
    console.error(`cannot run ${PYTHON}: ${e.message} (Debian packages python3-azure and python3-uamqp provide the SDKs)`);
    done(1);
  });
  child.on("exit", (c, s) => done(c ?? (s === null ? 1 : 128)));
});
await serviceBus.stop();
await keyVault.stop();
rmSync(dir, { recursive: true, force: true });

// unittest's own closing lines: "Ran N tests in …s", then "OK (skipped=S)" or "FAILED (failures=F, errors=E, skipped=S)".
const ran = Number(/^Ran (\d+) tests? in /m.exec(report)?.[1] ?? 0);
const outcome = (name: string) => Number(new RegExp(`^(?:OK|FAILED) \\(.*\\b${name}=(\\d+)`, "m").exec(report)?.[1] ?? 0);
const failed = outcome("failures") + outcome("errors") + outcome("unexpected successes");
const skipped = outcome("skipped") + outcome("expected failures");
const passed = ran - failed - skipped;
console.log(`python SDK lane: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(code !== 0 || failed > 0 || passed === 0 ? 1 : 0);
