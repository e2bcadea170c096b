import type { PipelinePolicy } from "@azure/core-rest-pipeline";

/**
 * Counts HTTP calls the Table SDK makes (retries included), process-wide: the figure the
 * benchmark reports as Table calls per reset. It also counts rounds: how often a call starts
 * while no other is in flight. With one request at a time, rounds per request are the
 * sequential storage round trips a caller waits for. Counters, nothing more.
 */
let calls = 0;
let rounds = 0;
let inFlight = 0;

export const tableCallCounterPolicy: PipelinePolicy = {
  name: "writebackTableCallCounter",
  async sendRequest(request, next) {
    calls += 1;
    if (inFlight === 0) rounds += 1;
    inFlight += 1;
    try {
      return await next(request);
    } finally {
      inFlight -= 1;
    }
  },
};

export function tableCallCount(): number {
  return calls;
}

export function tableRoundCount(): number {
  return rounds;
}
