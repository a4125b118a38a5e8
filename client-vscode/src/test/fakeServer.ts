/**
 * A scripted stand-in for the server side of `ragls/ask` (progress reports on the request's
 * workDoneToken, then the result), for the ask/chat unit tests. The real server is exercised by
 * scripts/e2e.sh.
 */
import { AskTransport, CancellationLike } from '../ask';
import { AskParams, AskResult, ProgressValue } from '../protocol';

export interface Script {
  deltas: string[];
  result?: AskResult;
  error?: { code: number; message: string };
  /** Stop after this many deltas and wait for cancellation. */
  hangAfter?: number;
  /** Percentage-only reports sent before the first delta (a local model reading the passages). */
  reading?: number[];
  /** Percentage-only reports sent after the text (a client must not show them as status again). */
  lateReading?: number[];
}

export class FakeServer implements AskTransport {
  readonly requests: { method: string; params: AskParams; token: CancellationLike }[] = [];
  private handlers = new Map<string, (value: ProgressValue) => void>();
  disposedHandlers = 0;
  cancelledRequests = 0;

  constructor(private readonly script: Script) {}

  onProgress(token: string, handler: (value: ProgressValue) => void) {
    this.handlers.set(token, handler);
    return { dispose: () => { this.handlers.delete(token); this.disposedHandlers++; } };
  }

  async sendRequest(method: string, params: AskParams, token: CancellationLike): Promise<AskResult> {
    this.requests.push({ method, params, token });
    const send = (value: ProgressValue) => {
      const h = params.workDoneToken === undefined ? undefined : this.handlers.get(String(params.workDoneToken));
      h?.(value);
    };
    const tick = () => new Promise((r) => setImmediate(r));
    await tick();
    send({ kind: 'begin', title: 'ragls', message: 'Searching…', cancellable: true, percentage: 0 });
    for (const percentage of this.script.reading ?? []) {
      await tick();
      send({ kind: 'report', percentage });
    }
    for (const [i, delta] of this.script.deltas.entries()) {
      if (this.script.hangAfter !== undefined && i >= this.script.hangAfter) {
        await new Promise<void>((resolve) => token.onCancellationRequested(() => resolve()));
        this.cancelledRequests++;
        throw { code: -32800, message: 'cancelled' };
      }
      await tick();
      send({ kind: 'report', message: delta });
    }
    for (const percentage of this.script.lateReading ?? []) {
      await tick();
      send({ kind: 'report', percentage });
    }
    send({ kind: 'end' });
    if (this.script.error) {
      throw this.script.error;
    }
    return this.script.result!;
  }
}

export function askResult(overrides: Partial<AskResult> = {}): AskResult {
  return {
    answer: '`retry_policy` retries three times [1].',
    citations: [
      {
        id: 1,
        uri: 'file:///ws/docs/retry.md',
        range: { start: { line: 2, character: 0 }, end: { line: 6, character: 0 } },
        title: 'Retry policy',
        snippet: 'retry_policy retries failed requests three times',
      },
    ],
    abstained: false,
    source: 'extractive',
    indexComplete: true,
    warnings: [],
    ...overrides,
  };
}
