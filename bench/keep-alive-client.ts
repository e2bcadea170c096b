import { connect, type Socket } from "node:net";

export interface PostResult {
  status: number;
  text: string;
}

interface Connection {
  socket: Socket;
  buffered: Buffer;
  pending: { resolve(result: PostResult): void; reject(error: Error): void } | undefined;
}

const HEADER_END = Buffer.from("\r\n\r\n");

/**
 * The load generator's HTTP/1.1 client: keep-alive sockets, one request in flight per socket,
 * each request written as one buffer, responses read by Content-Length. It shares the CPU
 * with what it measures, so it does only what the measurement needs (node:http's client cost
 * about twice as much per request here). Not a general client: no chunked responses, no
 * redirects, no TLS — the local runner answers every request with a Content-Length.
 */
export class KeepAliveClient {
  private readonly idle: Connection[] = [];

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {}

  post(path: string, headers: Record<string, string>, body: string): Promise<PostResult> {
    const payload = Buffer.from(body);
    let head = `POST ${path} HTTP/1.1\r\nHost: ${this.host}:${this.port}\r\nConnection: keep-alive\r\nContent-Length: ${payload.length}\r\n`;
    for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
    const request = Buffer.concat([Buffer.from(`${head}\r\n`), payload]);
    const connection = this.idle.pop() ?? this.open();
    return new Promise<PostResult>((resolve, reject) => {
      connection.pending = { resolve, reject };
      connection.socket.write(request);
    });
  }

  close(): void {
    for (const c of this.idle.splice(0)) c.socket.destroy();
  }

  private open(): Connection {
    const socket = connect({ host: this.host, port: this.port, noDelay: true });
    const connection: Connection = { socket, buffered: Buffer.alloc(0), pending: undefined };
    socket.on("data", (chunk: Buffer) => this.onData(connection, chunk));
    const fail = (error: Error) => {
      const pending = connection.pending;
      connection.pending = undefined;
      const i = this.idle.indexOf(connection);
      if (i >= 0) this.idle.splice(i, 1);
      socket.destroy();
      pending?.reject(error);
    };
    socket.on("error", fail);
    socket.on("close", () => fail(new Error("connection closed")));
    return connection;
  }

  private onData(connection: Connection, chunk: Buffer): void {
    connection.buffered = connection.buffered.length === 0 ? chunk : Buffer.concat([connection.buffered, chunk]);
    const end = connection.buffered.indexOf(HEADER_END);
    if (end < 0) return;
    const head = connection.buffered.toString("latin1", 0, end);
    const status = Number(head.slice(9, 12));
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (length?.[1] === undefined) {
      connection.socket.destroy(new Error("response without Content-Length"));
      return;
    }
    const total = end + HEADER_END.length + Number(length[1]);
    if (connection.buffered.length < total) return;
    const text = connection.buffered.toString("utf8", end + HEADER_END.length, total);
    connection.buffered = connection.buffered.subarray(total);
    const pending = connection.pending;
    connection.pending = undefined;
    if (/\r\nconnection:\s*close/i.test(head)) connection.socket.destroy();
    else this.idle.push(connection);
    pending?.resolve({ status, text });
  }
}
