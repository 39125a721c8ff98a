/** Time source (milliseconds), injected so affinity expiry is testable. */
export interface Clock {
  now(): number;
}

/** Wall-clock time from `Date.now()`. */
export const systemClock: Clock = { now: () => Date.now() };
