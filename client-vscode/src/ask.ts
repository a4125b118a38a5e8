/**
 * One `ragls/ask` round trip with streaming: the answer text arrives as work-done progress
 * reports on a client-created token (each report's message is a text delta), the final result
 * as the response. Transport-agnostic (the LanguageClient in the extension, a fake in tests).
 */
import { AskParams, AskResult, Methods, ProgressValue } from './protocol';
import { describeRequestError, isCancellation } from './errors';

export interface Disposable { dispose(): unknown }

export interface CancellationLike {
  readonly isCancellationRequested: boolean;
  onCancellationRequested(listener: () => unknown): Disposable;
}

export interface AskTransport {
  sendRequest(method: string, params: AskParams, token: CancellationLike): Promise<AskResult>;
  onProgress(token: string, handler: (value: ProgressValue) => void): Disposable;
}

export interface AskCallbacks {
  /** A new piece of answer text; `full` is everything streamed so far. */
  onDelta?(delta: string, full: string): void;
  /** Progress status: "Searching…" from the begin report, then "Reading the passages… 40%" while
   *  a local model reads them (reports with a percentage and no text), until the text streams. */
  onStatus?(message: string): void;
  /** A local model's progress reading the passages (0–100), before any text streams. */
  onReading?(percentage: number): void;
}

export type AskOutcome =
  | { kind: 'answer'; result: AskResult; streamed: string }
  | { kind: 'cancelled'; streamed: string }
  | { kind: 'error'; message: string; error: unknown; streamed: string };

let tokenCounter = 0;

export function newProgressToken(): string {
  tokenCounter += 1;
  return `ragls-ask-${Date.now().toString(36)}-${tokenCounter}`;
}

/**
 * Sends the question and streams the answer. Cancelling `token` sends `$/cancelRequest` (the
 * LanguageClient does that for the request's token) and resolves at once with what was streamed,
 * so the UI never waits for the server to acknowledge.
 */
export async function runAsk(
  transport: AskTransport,
  params: AskParams,
  token: CancellationLike,
  callbacks: AskCallbacks = {},
  progressToken: string = newProgressToken(),
): Promise<AskOutcome> {
  let streamed = '';
  const progress = transport.onProgress(progressToken, (value) => {
    if (token.isCancellationRequested) {
      return;
    }
    if (value.kind === 'begin' && value.message) {
      callbacks.onStatus?.(value.message);
    } else if (value.kind === 'report' && typeof value.message === 'string' && value.message.length > 0) {
      streamed += value.message;
      callbacks.onDelta?.(value.message, streamed);
    } else if (value.kind === 'report' && typeof value.percentage === 'number' && streamed.length === 0) {
      callbacks.onReading?.(value.percentage);
      callbacks.onStatus?.(readingStatus(value.percentage));
    }
  });
  let cancelListener: Disposable | undefined;
  try {
    if (token.isCancellationRequested) {
      return { kind: 'cancelled', streamed };
    }
    const cancelled = new Promise<AskOutcome>((resolve) => {
      cancelListener = token.onCancellationRequested(() => resolve({ kind: 'cancelled', streamed }));
    });
    const answered = transport
      .sendRequest(Methods.ask, { ...params, workDoneToken: progressToken }, token)
      .then(
        (result): AskOutcome => ({ kind: 'answer', result: normaliseResult(result), streamed }),
        (error: unknown): AskOutcome =>
          isCancellation(error) || token.isCancellationRequested
            ? { kind: 'cancelled', streamed }
            : { kind: 'error', message: describeRequestError(error), error, streamed },
      );
    return await Promise.race([answered, cancelled]);
  } finally {
    cancelListener?.dispose();
    progress.dispose();
  }
}

/** The status line while the model reads the passages. */
function readingStatus(percentage: number): string {
  const clamped = Math.max(0, Math.min(100, Math.round(percentage)));
  return `Reading the passages… ${clamped}%`;
}

/** Tolerates a server that leaves out optional-looking fields, so rendering never throws. */
export function normaliseResult(raw: Partial<AskResult> | null | undefined): AskResult {
  return {
    answer: typeof raw?.answer === 'string' ? raw.answer : '',
    citations: Array.isArray(raw?.citations) ? raw!.citations : [],
    abstained: raw?.abstained === true,
    source: typeof raw?.source === 'string' ? raw.source : '',
    indexComplete: raw?.indexComplete !== false,
    warnings: Array.isArray(raw?.warnings) ? raw!.warnings.filter((w) => typeof w === 'string') : [],
  };
}

/** The question sent for "Ask About Selection" when the user types nothing. */
export function defaultSelectionQuestion(selectedText: string): string {
  const flat = selectedText.replace(/\s+/g, ' ').trim();
  const shown = flat.length > 80 ? flat.slice(0, 79) + '…' : flat;
  return `What does \`${shown.replace(/`/g, "'")}\` do, and where is it documented?`;
}
