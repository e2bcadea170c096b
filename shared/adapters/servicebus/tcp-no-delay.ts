import { createRequire } from "node:module";

interface RheaContainer {
  options: Record<string, unknown>;
}

/**
 * Turns off Nagle's algorithm on every AMQP connection the Service Bus SDK opens.
 *
 * Request/reply over AMQP writes small frames (transfer, then disposition/flow) that Nagle
 * holds back until the peer's delayed ACK: ~40 ms per hop on loopback. rhea, the AMQP
 * library under the SDK (via rhea-promise), reads the documented `tcp_no_delay` option from
 * its default container when a connection does not set it; core-amqp creates its
 * connections through that default container. Setting it there is the one switch that
 * reaches the SDK's sockets without patching code. Idempotent.
 */
export function enableTcpNoDelayForServiceBus(): boolean {
  const require = createRequire(import.meta.url);
  const coreAmqp = createRequire(require.resolve("@azure/core-amqp"));
  const rheaPromise = createRequire(coreAmqp.resolve("rhea-promise"));
  const rhea = rheaPromise("rhea") as RheaContainer;
  rhea.options.tcp_no_delay = true;
  return rhea.options.tcp_no_delay === true;
}
