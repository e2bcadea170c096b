import { readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { join, normalize } from "node:path";

const TYPES: Record<string, string> = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".json": "application/json", ".css": "text/css" };

/** Serves the demo page's files under `/portal/`, plus generated JSON documents. */
export function staticFiles(dir: string, generated: Record<string, () => unknown>) {
  return (req: IncomingMessage, res: ServerResponse): boolean => {
    const path = new URL(req.url ?? "/", "http://local").pathname;
    if (path === "/" || path === "/portal") {
      res.writeHead(302, { Location: "/portal/" }).end();
      return true;
    }
    if (!path.startsWith("/portal/")) return false;
    const name = path.slice("/portal/".length) || "index.html";
    const make = generated[name];
    if (make !== undefined) {
      res.writeHead(200, { "Content-Type": "application/json", "Cache-Control": "no-store" }).end(JSON.stringify(make()));
      return true;
    }
    const file = normalize(join(dir, name));
    if (!file.startsWith(dir) || !/^[\w.-]+$/.test(name)) return false;
    try {
      const body = readFileSync(file);
      res.writeHead(200, { "Content-Type": TYPES[name.slice(name.lastIndexOf("."))] ?? "application/octet-stream", "Cache-Control": "no-store" }).end(body);
      return true;
    } catch {
      return false;
    }
  };
}
