import { randomBytes, randomUUID } from "node:crypto";
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { TokenCredential } from "@azure/core-auth";
import { selfSignedCertificate } from "../certificate.js";
import { isWellFormedToken, LocalKeyVaultCredential, newTokenSecret, verifyToken } from "./token.js";

interface SecretVersion {
  version: string;
  value: string;
  contentType: string | undefined;
  tags: Record<string, string>;
  enabled: boolean;
  created: number;
  updated: number;
}

export interface KeyVaultPeer {
  url: string;
  caPem: string;
  credential(): TokenCredential;
  /** GET requests per secret name (the "Key Vault GETs" the benchmarks count). */
  stats(): { gets: Record<string, number>; requests: number; refused: number };
  /** The next `count` requests answer `status` (429 with Retry-After: 1, or 5xx). */
  injectFaults(fault: { status: number; count: number }): void;
  stop(): Promise<void>;
  restart(): Promise<void>;
}

const NAME = /^[0-9a-zA-Z-]{1,127}$/;
const TENANT = "72f988bf-0000-0000-0000-000000000000";

export interface KeyVaultPeerOptions {
  port?: number;
  /**
   * Which bearer tokens pass: "own" — only those `credential()` mints (HS256 with a secret of
   * this process; the default for tests, which also prove a forged token is refused);
   * "well-formed" — any unexpired JWT for Key Vault, as other emulators do (the standalone peer).
   */
  tokens?: "own" | "well-formed";
}

/**
 * The Key Vault secrets REST subset that @azure/keyvault-secrets uses, over HTTPS with a
 * self-signed certificate, behind the bearer challenge: requests without a valid token are 401.
 */
export async function startKeyVaultPeer(options: KeyVaultPeerOptions = {}): Promise<KeyVaultPeer> {
  const accepts = options.tokens === "well-formed" ? (token: string) => isWellFormedToken(token) || verifyToken(secret, token) : (token: string) => verifyToken(secret, token);
  const { key, cert } = selfSignedCertificate();
  const secret = newTokenSecret();
  const secrets = new Map<string, SecretVersion[]>();
  const gets: Record<string, number> = {};
  let requests = 0;
  let refused = 0;
  let fault: { status: number; count: number } | undefined;
  let port = options.port ?? 0;
  const base = () => `https://127.0.0.1:${port}`;

  const bundle = (name: string, v: SecretVersion, withValue: boolean) => ({
    ...(withValue ? { value: v.value } : {}),
    id: `${base()}/secrets/${name}/${v.version}`,
    ...(v.contentType === undefined ? {} : { contentType: v.contentType }),
    attributes: { enabled: v.enabled, created: v.created, updated: v.updated, recoveryLevel: "Recoverable+Purgeable" },
    tags: v.tags,
  });

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    const text = body === undefined ? "" : JSON.stringify(body);
    res.writeHead(status, { "Content-Type": "application/json; charset=utf-8", "x-ms-request-id": randomUUID(), ...headers }).end(text);
  };
  const notFound = (res: ServerResponse, name: string) => send(res, 404, { error: { code: "SecretNotFound", message: `A secret with (name/id) ${name} was not found in this key vault.` } });

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    requests += 1;
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = new URL(req.url ?? "/", base());
    const query = new URLSearchParams(url.search);
    const auth = req.headers.authorization ?? "";
    if (!auth.startsWith("Bearer ")) {
      return send(res, 401, { error: { code: "Unauthorized", message: "AKV10000: Request is missing a Bearer or PoP token." } }, { "WWW-Authenticate": `Bearer authorization="https://login.microsoftonline.com/${TENANT}", resource="https://vault.azure.net"` });
    }
    if (!accepts(auth.slice("Bearer ".length))) {
      refused += 1;
      return send(res, 401, { error: { code: "Unauthorized", message: "AKV10032: Invalid issuer or token." } }, { "WWW-Authenticate": `Bearer authorization="https://login.microsoftonline.com/${TENANT}", resource="https://vault.azure.net"` });
    }
    if (fault !== undefined && fault.count > 0) {
      fault.count -= 1;
      return send(res, fault.status, { error: { code: fault.status === 429 ? "Throttled" : "ServiceUnavailable", message: "injected fault" } }, fault.status === 429 ? { "Retry-After": "1" } : {});
    }
    if (query.get("api-version") === null) return send(res, 400, { error: { code: "BadParameter", message: "The 'api-version' query parameter is missing." } });
    const parts = url.pathname.split("/").filter((p) => p !== "");
    if (parts[0] !== "secrets") return send(res, 404, { error: { code: "NotFound", message: "No such operation." } });
    const name = parts[1];
    const now = Math.floor(Date.now() / 1000);
    if (name === undefined) {
      if (req.method !== "GET") return send(res, 405, { error: { code: "MethodNotAllowed", message: "" } });
      const value = [...secrets.entries()].flatMap(([n, vs]) => {
        const last = vs[vs.length - 1];
        return last === undefined ? [] : [{ ...bundle(n, last, false), id: `${base()}/secrets/${n}` }];
      });
      return send(res, 200, { value, nextLink: null });
    }
    if (!NAME.test(name)) return send(res, 400, { error: { code: "BadParameter", message: "Invalid secret name." } });
    const versions = secrets.get(name) ?? [];
    const sub = parts[2];
    if (req.method === "PUT" && sub === undefined) {
      let body: { value?: unknown; tags?: Record<string, string>; contentType?: string; attributes?: { enabled?: boolean } };
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as typeof body;
      } catch {
        return send(res, 400, { error: { code: "BadParameter", message: "Invalid JSON." } });
      }
      if (typeof body.value !== "string") return send(res, 400, { error: { code: "BadParameter", message: "value is required." } });
      const v: SecretVersion = { version: randomBytes(16).toString("hex"), value: body.value, contentType: body.contentType, tags: body.tags ?? {}, enabled: body.attributes?.enabled ?? true, created: now, updated: now };
      secrets.set(name, [...versions, v]);
      return send(res, 200, bundle(name, v, true));
    }
    if (req.method === "GET" && sub === "versions") {
      gets[name] = (gets[name] ?? 0) + 1;
      if (versions.length === 0) return notFound(res, name);
      return send(res, 200, { value: versions.map((v) => bundle(name, v, false)), nextLink: null });
    }
    if (req.method === "GET") {
      gets[name] = (gets[name] ?? 0) + 1;
      const v = sub === undefined || sub === "" ? versions[versions.length - 1] : versions.find((x) => x.version === sub);
      if (v === undefined) return notFound(res, name);
      if (!v.enabled) return send(res, 403, { error: { code: "Forbidden", message: "Operation get is not allowed on a disabled secret.", innererror: { code: "SecretDisabled" } } });
      return send(res, 200, bundle(name, v, true));
    }
    if (req.method === "PATCH") {
      // No version (PATCH /secrets/{name}/): the latest, as the SDKs document it.
      const v = sub === undefined || sub === "" ? versions[versions.length - 1] : versions.find((x) => x.version === sub);
      if (v === undefined) return notFound(res, name);
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as { tags?: Record<string, string>; contentType?: string; attributes?: { enabled?: boolean } };
      if (body.tags !== undefined) v.tags = body.tags;
      if (body.contentType !== undefined) v.contentType = body.contentType;
      if (body.attributes?.enabled !== undefined) v.enabled = body.attributes.enabled;
      v.updated = now;
      return send(res, 200, bundle(name, v, false));
    }
    return send(res, 405, { error: { code: "MethodNotAllowed", message: "Unsupported operation." } });
  };

  let server: Server | undefined;
  const sockets = new Set<Socket>();
  const listen = async () => {
    const s = createServer({ key, cert }, (req, res) => {
      handle(req, res).catch(() => send(res, 500, { error: { code: "InternalError", message: "peer failure" } }));
    });
    s.on("connection", (socket: Socket) => {
      socket.setNoDelay(true);
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      s.once("error", reject);
      s.listen(port, "127.0.0.1", () => resolve());
    });
    const address = s.address();
    if (address !== null && typeof address === "object") port = address.port;
    server = s;
  };
  const close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
    server = undefined;
  };
  await listen();
  return {
    get url() {
      return base();
    },
    caPem: cert,
    credential: () => new LocalKeyVaultCredential(secret),
    stats: () => ({ gets: { ...gets }, requests, refused }),
    injectFaults(f) {
      fault = { ...f };
    },
    stop: close,
    async restart() {
      await close();
      await listen();
    },
  };
}
