import type { TenantKeyRing } from "../shared/ports/tenant-key-ring.port.js";
import type { DemoAdAccount } from "./demo-tenant.js";

/** What a running local stack offers its users (the `npm start` banner) and the e2e tests. */
export interface LocalStackHandle {
  apiBase: string;
  portalUrl: string;
  tenantId: string;
  /** The agent's directory: the embedded one, or a Samba AD DC reached over LDAPS (its demo accounts by sAMAccountName). */
  directory:
    | { kind: "embedded"; domain: string }
    | {
        kind: "samba";
        domain: string;
        url: string;
        /** The DC's CA (a copy in the agent's folder) and the name its certificate carries. */
        caFile: string;
        servername: string;
        bindDn: string;
        usersOu: string;
        /** True when the stack provisioned the DC (and stops it); false for a DC handed in. */
        provisioned: boolean;
        accounts: ReadonlyMap<string, DemoAdAccount>;
      };
  adminToken: string;
  operateToken: string;
  /** Mints tokens from the stack's dev issuer (tests: other roles, tenants, lifetimes). */
  mintToken(claims: { tenantId: string; roles: string[]; lifetimeSeconds?: number; audience?: string }): Promise<string>;
  agent: {
    /** SIGKILL: no goodbye, messages in flight stay locked until their lock expires. */
    kill(): Promise<void>;
    start(): Promise<void>;
    running(): boolean;
    /** Everything the agent wrote to stdout/stderr so far (its log file, across restarts). */
    output(): string;
    /** Where the agent's log goes (the state folder's agent/agent.log). */
    logFile: string;
    /** The agent's process id while it runs (memory figures). */
    pid(): number | undefined;
  };
  /** Counters for the benchmark: Key Vault GETs served, Table SDK calls made, Service Bus peer counters. */
  metrics(): Promise<{ keyVaultGets: number; tableCalls: number; tableRounds: number; serviceBus: Record<string, number> }>;
  /** Everything the function app logged so far. */
  functionLogs(): string;
  /** Audit rows of the demo tenant, newest first. */
  auditRows(): Promise<Record<string, unknown>[]>;
  /** Fault injection for tests: restart a peer on its port (in-flight connections drop). */
  faults: { restartServiceBus(): Promise<void>; restartAzurite(): Promise<void> };
  /**
   * The stack's own namespace connection (Manage) and key ring: what only the cloud side
   * holds. Tests use it to play an attacker who kept an old package key.
   */
  inside: { serviceBusConnectionString: string; keyRing: TenantKeyRing };
  settings: { heartbeatWindowSeconds: number; replyTimeoutMs: number; messageTtlSeconds: number };
  stop(): Promise<void>;
}
