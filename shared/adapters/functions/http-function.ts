import { getServices } from "../../composition/services.js";
import { route, type HttpHandler, type RouteSpec } from "../../http/pipeline.js";
import { registerFunction, type HttpMethod } from "./registry.js";

export interface HttpFunctionOptions<TBody> extends RouteSpec<TBody> {
  name: string;
  methods: HttpMethod[];
  route: string;
}

/** Builds the handler through the shared pipeline and registers it; returns the handler for tests. */
export function httpFunction<TBody = undefined>(options: HttpFunctionOptions<TBody>): HttpHandler {
  const handler = route(options, getServices);
  registerFunction({ kind: "http", name: options.name, methods: options.methods, route: options.route, handler });
  return handler;
}
