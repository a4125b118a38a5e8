/**
 * When the server's connection closes: give up at once if it never got running (a start-up
 * failure repeats identically, so retrying only stacks up errors), otherwise restart a crashed
 * server at most `maxRestarts` times within `windowMs`.
 */
export type CloseDecision = 'restart' | 'startupFailed' | 'gaveUp';

export class RestartPolicy {
  private restarts: number[] = [];

  constructor(
    private readonly maxRestarts = 2,
    private readonly windowMs = 3 * 60 * 1000,
    private readonly now: () => number = Date.now,
  ) {}

  onClosed(wasRunning: boolean): CloseDecision {
    if (!wasRunning) {
      return 'startupFailed';
    }
    const t = this.now();
    this.restarts = this.restarts.filter((at) => t - at < this.windowMs);
    if (this.restarts.length >= this.maxRestarts) {
      return 'gaveUp';
    }
    this.restarts.push(t);
    return 'restart';
  }

  /** Restarts counted in the current window. */
  get recentRestarts(): number {
    return this.restarts.length;
  }

  /** A manual restart starts a fresh budget. */
  reset(): void {
    this.restarts = [];
  }
}
