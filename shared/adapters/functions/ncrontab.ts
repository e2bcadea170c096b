/**
 * The next run of a six-field NCRONTAB schedule ("sec min hour day month weekday"), for the
 * local runner. Supports numbers, "*", lists and "*\/n" steps: what our schedules use.
 */
function matches(field: string, value: number): boolean {
  return field.split(",").some((part) => {
    if (part === "*") return true;
    const step = /^\*\/(\d+)$/.exec(part);
    if (step?.[1] !== undefined) return value % Number(step[1]) === 0;
    return Number(part) === value;
  });
}

export function nextOccurrence(schedule: string, after: Date): Date {
  const fields = schedule.trim().split(/\s+/);
  if (fields.length !== 6) throw new Error(`not a six-field NCRONTAB schedule: ${schedule}`);
  const [sec, min, hour, day, month, weekday] = fields as [string, string, string, string, string, string];
  const t = new Date(Math.floor(after.getTime() / 1000) * 1000 + 1000);
  // At most a year and a day of seconds; schedules that never fire are a configuration error.
  for (let i = 0; i < 366 * 24 * 3600; i++) {
    if (
      matches(month, t.getUTCMonth() + 1) &&
      matches(day, t.getUTCDate()) &&
      matches(weekday, t.getUTCDay()) &&
      matches(hour, t.getUTCHours()) &&
      matches(min, t.getUTCMinutes()) &&
      matches(sec, t.getUTCSeconds())
    ) {
      return t;
    }
    t.setTime(t.getTime() + 1000);
  }
  throw new Error(`schedule never fires: ${schedule}`);
}
