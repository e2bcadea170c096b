import { connect, type ConnectionOptions, type TLSSocket } from "node:tls";

type WriteCallback = (error?: Error | null) => void;

/**
 * tls.connect for ldapts whose socket zeroes each outgoing LDAP message once TLS has taken it:
 * bind requests (the agent's bind password) and modify requests (unicodePwd values) are
 * encoded by ldapts into buffers this code never sees otherwise.
 */
export function zeroingTlsConnect(port: number, host: string, options: ConnectionOptions): TLSSocket {
  const socket = connect(port, host, options);
  const write = socket.write.bind(socket) as (chunk: unknown, encodingOrCallback?: unknown, callback?: unknown) => boolean;
  const patched = (chunk: unknown, encodingOrCallback?: unknown, callback?: unknown): boolean => {
    const done = (typeof encodingOrCallback === "function" ? encodingOrCallback : callback) as WriteCallback | undefined;
    const encoding = typeof encodingOrCallback === "function" ? undefined : encodingOrCallback;
    const wipe: WriteCallback = (error) => {
      if (Buffer.isBuffer(chunk)) chunk.fill(0);
      done?.(error);
    };
    return encoding === undefined ? write(chunk, wipe) : write(chunk, encoding, wipe);
  };
  socket.write = patched;
  return socket;
}
