import type { ServiceBusClient } from "@azure/service-bus";
import type { QueueTriggerSource } from "../functions/registry.js";

/**
 * Feeds a queue-triggered function the way the Functions host does: peekLock, complete on
 * success, abandon on failure (so the message is retried and dead-lettered after
 * maxDeliveryCount).
 */
export function serviceBusQueueTriggers(client: ServiceBusClient, maxConcurrentCalls = 16): QueueTriggerSource {
  return {
    async subscribe(queueName, handler) {
      const receiver = client.createReceiver(queueName, { receiveMode: "peekLock" });
      const subscription = receiver.subscribe(
        {
          processMessage: async (message) => {
            try {
              await handler(message.body, { messageId: typeof message.messageId === "string" ? message.messageId : undefined, deliveryCount: message.deliveryCount });
              await receiver.completeMessage(message);
            } catch {
              await receiver.abandonMessage(message).catch(() => {});
            }
          },
          processError: async () => {},
        },
        { autoCompleteMessages: false, maxConcurrentCalls },
      );
      return {
        async close() {
          await subscription.close();
          await receiver.close();
        },
      };
    },
  };
}
