/**
 * Six-field NCRONTAB schedules ("sec min hour day month weekday", UTC) for the local runner:
 * numbers, names (Jan, Mon), "*", ranges ("1-5"), steps ("*\/10", "0-30/5") and lists, as
 * the Functions host accepts them. Day of month and weekday must both match (NCRONTAB's rule).
 */

export class ScheduleError extends Error {
  override readonly name = "ScheduleError";
}

interface FieldSpec {
  label: string;
  min: number;
  max: number;
  names?: readonly string[];
}

const FIELDS: readonly FieldSpec[] = [
  { label: "second", min: 0, max: 59 },
  { label: "minute", min: 0, max: 59 },
  { label: "hour", min: 0, max: 23 },
  { label: "day", min: 1, max: 31 },
  { label: "month", min: 1, max: 12, names: ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"] },
  { label: "weekday", min: 0, max: 6, names: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] },
];

/** A parsed schedule: for each field, which values fire. */
export interface Schedule {
  readonly text: string;
  readonly allowed: readonly (readonly boolean[])[];
}

function value(text: string, spec: FieldSpec, schedule: string): number {
  const named = spec.names?.indexOf(text.toLowerCase()) ?? -1;
  if (named >= 0) return named + spec.min;
  if (!/^\d+$/.test(text)) throw new ScheduleError(`"${schedule}": "${text}" is not a valid ${spec.label}`);
  // Sunday may be written 7 as well as 0.
  const n = spec.label === "weekday" && Number(text) === 7 ? 0 : Number(text);
  if (n < spec.min || n > spec.max) throw new ScheduleError(`"${schedule}": ${spec.label} ${text} is outside ${spec.min}-${spec.max}`);
  return n;
}

function parseField(field: string, spec: FieldSpec, schedule: string): boolean[] {
  const allowed = new Array<boolean>(spec.max + 1).fill(false);
  for (const part of field.split(",")) {
    const [range = "", stepText, extra] = part.split("/");
    if (extra !== undefined || range === "") throw new ScheduleError(`"${schedule}": "${part}" is not a valid ${spec.label} item`);
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1 || (stepText !== undefined && !/^\d+$/.test(stepText))) {
      throw new ScheduleError(`"${schedule}": "${part}" has an invalid step`);
    }
    let from: number;
    let to: number;
    if (range === "*") {
      from = spec.min;
      to = spec.max;
    } else if (range.includes("-")) {
      const [a = "", b = ""] = range.split("-");
      from = value(a, spec, schedule);
      to = value(b, spec, schedule);
      if (from > to) throw new ScheduleError(`"${schedule}": ${spec.label} range ${range} runs backwards`);
    } else {
      from = value(range, spec, schedule);
      // "5/15" means from 5 on, every 15.
      to = stepText === undefined ? from : spec.max;
    }
    for (let v = from; v <= to; v += step) allowed[v] = true;
  }
  return allowed;
}

export function parseSchedule(text: string): Schedule {
  const fields = text.trim().split(/\s+/);
  if (fields.length !== 6) throw new ScheduleError(`"${text}" is not a six-field NCRONTAB schedule (sec min hour day month weekday)`);
  return { text, allowed: fields.map((f, i) => parseField(f, FIELDS[i] as FieldSpec, text)) };
}

/**
 * The first firing strictly after `after`. Skips whole months, days, hours and minutes that
 * cannot match, so any schedule is found in a few thousand steps at most; one that does not
 * fire within four years (say, 30 February) is a configuration error.
 */
export function nextOccurrence(schedule: string | Schedule, after: Date): Date {
  const s = typeof schedule === "string" ? parseSchedule(schedule) : schedule;
  const [sec, min, hour, day, month, weekday] = s.allowed as [boolean[], boolean[], boolean[], boolean[], boolean[], boolean[]];
  const t = new Date(Math.floor(after.getTime() / 1000) * 1000 + 1000);
  const limit = after.getTime() + 4 * 366 * 24 * 3600 * 1000;
  while (t.getTime() <= limit) {
    if (!month[t.getUTCMonth() + 1]) {
      t.setUTCMonth(t.getUTCMonth() + 1, 1);
      t.setUTCHours(0, 0, 0, 0);
    } else if (!day[t.getUTCDate()] || !weekday[t.getUTCDay()]) {
      t.setUTCDate(t.getUTCDate() + 1);
      t.setUTCHours(0, 0, 0, 0);
    } else if (!hour[t.getUTCHours()]) {
      t.setUTCHours(t.getUTCHours() + 1, 0, 0, 0);
    } else if (!min[t.getUTCMinutes()]) {
      t.setUTCMinutes(t.getUTCMinutes() + 1, 0, 0);
    } else if (!sec[t.getUTCSeconds()]) {
      t.setUTCSeconds(t.getUTCSeconds() + 1, 0);
    } else {
      return t;
    }
  }
  throw new ScheduleError(`"${s.text}" never fires`);
}
