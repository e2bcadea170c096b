import type { PipelinePolicy } from "@azure/core-rest-pipeline";

/**
 * Counts HTTP calls the Table SDK makes (retries included), process-wide: the figure the
 * benchmark reports as "Table storage calls per 1,000 requests". A counter, nothing more.
 */
let calls = 0;

export const tableCallCounterPolicy: PipelinePolicy = {
  name: "writebackTableCallCounter",
  async sendRequest(request, next) {
    calls += 1;
    return next(request);
  },
};

export function tableCallCount(): number {
  return calls;
}
