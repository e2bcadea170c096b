import type { Clock } from "../../../shared/ports/clock.port.js";

/** A clock the test moves by hand. */
export class ManualClock implements Clock {
  constructor(private t: number = Date.parse("2026-03-01T08:00:00Z")) {}
  now(): Date {
    return new Date(this.t);
  }
  advance(ms: number): void {
    this.t += ms;
  }
  set(date: Date): void {
    this.t = date.getTime();
  }
}

export const pw = (s: string): Buffer => Buffer.from(s, "utf8");
export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
