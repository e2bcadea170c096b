/**
 * An LDAPS proxy to a real DC that passes itself off as another DC: it terminates TLS with the
 * DC's own certificate (so the agent's verification against the CA and servername passes),
 * forwards every LDAP message unchanged to the DC over LDAPS, except that the rootDSE entry
 * it relays names another host (a same-length rewrite of dnsHostName). It counts the requests
 * that pass through it by LDAP operation, so a test can tell whether a write went this way.
 * Loopback only.
 */
import { createServer, connect as tlsConnect, type TLSSocket } from "node:tls";

/** LDAP protocolOp tags (RFC 4511, [APPLICATION n]). */
const OP = { bindRequest: 0x60, searchRequest: 0x63, searchResultEntry: 0x64, modifyRequest: 0x66 } as const;

interface Tlv {
  tag: number;
  contentStart: number;
  length: number;
}

/** A BER tag-length at `pos`, or undefined when `buf` does not hold it yet. */
function tlv(buf: Buffer, pos: number): Tlv | undefined {
  if (buf.length < pos + 2) return undefined;
  const tag = buf[pos]!;
  const first = buf[pos + 1]!;
  if (first < 0x80) return { tag, contentStart: pos + 2, length: first };
  const n = first & 0x7f;
  if (n === 0 || n > 4 || buf.length < pos + 2 + n) return undefined;
  return { tag, contentStart: pos + 2 + n, length: buf.readUIntBE(pos + 2, n) };
}

interface LdapMessage {
  bytes: Buffer;
  messageId: number;
  op: number;
  /** The protocolOp's content offset inside `bytes`. */
  opContent: number;
}

/** Splits complete LDAPMessages off the front of `buf`; returns them and the rest. */
function messages(buf: Buffer): { complete: LdapMessage[]; rest: Buffer } {
  const complete: LdapMessage[] = [];
  let pos = 0;
  for (;;) {
    const outer = tlv(buf, pos);
    if (outer === undefined || buf.length < outer.contentStart + outer.length) break;
    const bytes = buf.subarray(pos, outer.contentStart + outer.length);
    const id = tlv(bytes, outer.contentStart - pos);
    const op = id === undefined ? undefined : tlv(bytes, id.contentStart + id.length);
    if (id === undefined || op === undefined) throw new Error("not an LDAP message");
    complete.push({ bytes: Buffer.from(bytes), messageId: bytes.readUIntBE(id.contentStart, Math.min(id.length, 6)), op: op.tag, opContent: op.contentStart });
    pos = outer.contentStart + outer.length;
  }
  return { complete, rest: buf.subarray(pos) };
}

export interface ImpersonatingProxy {
  url: string;
  /** LDAP requests seen, by name (bind, search, modify). */
  readonly requests: { bind: number; search: number; modify: number };
  /** TLS connections accepted. */
  connections(): number;
  close(): Promise<void>;
}

/**
 * Starts the proxy on 127.0.0.1 (any port). `claim` is [the DC's real dnsHostName, the name to
 * report instead]; both must have the same length (the BER lengths stay valid).
 */
export async function startImpersonatingProxy(o: {
  upstream: { host: string; port: number; ca: Buffer; servername: string };
  key: Buffer;
  cert: Buffer;
  claim: [string, string];
}): Promise<ImpersonatingProxy> {
  const [real, claimed] = o.claim;
  if (real.length !== claimed.length) throw new Error("the claimed name must have the real name's length");
  const pattern = new RegExp(real.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), "gi");
  const requests = { bind: 0, search: 0, modify: 0 };
  const sockets = new Set<TLSSocket>();
  let accepted = 0;
  const server = createServer({ key: o.key, cert: o.cert, minVersion: "TLSv1.2" }, (client) => {
    accepted += 1;
    const upstream = tlsConnect(o.upstream.port, o.upstream.host, { ca: o.upstream.ca, servername: o.upstream.servername });
    sockets.add(client).add(upstream);
    const rootDseSearches = new Set<number>();
    let fromClient: Buffer = Buffer.alloc(0);
    let fromServer: Buffer = Buffer.alloc(0);
    const fail = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("data", (chunk: Buffer) => {
      const { complete, rest } = messages(Buffer.concat([fromClient, chunk]));
      fromClient = rest;
      for (const m of complete) {
        if (m.op === OP.bindRequest) requests.bind += 1;
        if (m.op === OP.modifyRequest) requests.modify += 1;
        if (m.op === OP.searchRequest) {
          requests.search += 1;
          // SearchRequest ::= SEQUENCE { baseObject LDAPDN, ... }: an empty base is the rootDSE.
          const base = tlv(m.bytes, m.opContent);
          if (base !== undefined && base.length === 0) rootDseSearches.add(m.messageId);
        }
        upstream.write(m.bytes);
      }
    });
    upstream.on("data", (chunk: Buffer) => {
      const { complete, rest } = messages(Buffer.concat([fromServer, chunk]));
      fromServer = rest;
      for (const m of complete) {
        const out = m.op === OP.searchResultEntry && rootDseSearches.has(m.messageId) ? Buffer.from(m.bytes.toString("latin1").replace(pattern, claimed), "latin1") : m.bytes;
        client.write(out);
      }
    });
    client.on("error", fail).on("close", fail);
    upstream.on("error", fail).on("close", fail);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `ldaps://127.0.0.1:${port}`,
    requests,
    connections: () => accepted,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
