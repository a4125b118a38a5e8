import * as assert from 'assert';
import * as vscode from 'vscode';
import { defaultSelectionQuestion, normaliseResult, runAsk } from '../ask';
import { askResult, FakeServer } from './fakeServer';

describe('runAsk', () => {
  it('streams deltas in order and returns the result', async () => {
    const server = new FakeServer({ deltas: ['`retry_policy` ', 'retries ', 'three times [1].'], result: askResult() });
    const deltas: string[] = [];
    const statuses: string[] = [];
    const cts = new vscode.CancellationTokenSource();
    const outcome = await runAsk(server, { question: 'how are requests retried?' }, cts.token, {
      onDelta: (d, full) => { deltas.push(d); assert.strictEqual(full, deltas.join('')); },
      onStatus: (s) => statuses.push(s),
    });
    assert.strictEqual(outcome.kind, 'answer');
    assert.strictEqual(outcome.streamed, '`retry_policy` retries three times [1].');
    assert.deepStrictEqual(deltas, ['`retry_policy` ', 'retries ', 'three times [1].']);
    assert.deepStrictEqual(statuses, ['Searching…']);
    const [request] = server.requests;
    assert.strictEqual(request.method, 'ragls/ask');
    assert.strictEqual(request.params.question, 'how are requests retried?');
    assert.strictEqual(typeof request.params.workDoneToken, 'string');
    assert.strictEqual(server.disposedHandlers, 1, 'progress handler released');
  });

  it('shows the reading percentage as status until the text streams, never as answer text', async () => {
    const server = new FakeServer({
      deltas: ['Retries ', 'back off [1].'], reading: [12, 57.4, 99], lateReading: [100], result: askResult(),
    });
    const statuses: string[] = [];
    const outcome = await runAsk(server, { question: 'q' }, new vscode.CancellationTokenSource().token, {
      onStatus: (s) => statuses.push(s),
    });
    assert.strictEqual(outcome.kind, 'answer');
    assert.strictEqual(outcome.streamed, 'Retries back off [1].');
    assert.deepStrictEqual(statuses, [
      'Searching…', 'Reading the passages… 12%', 'Reading the passages… 57%', 'Reading the passages… 99%',
    ]);
  });

  it('cancel resolves at once with the partial text and cancels the request token', async () => {
    const server = new FakeServer({ deltas: ['first ', 'second ', 'third'], hangAfter: 2, result: askResult() });
    const cts = new vscode.CancellationTokenSource();
    let seen = '';
    const pending = runAsk(server, { question: 'q' }, cts.token, {
      onDelta: (_d, full) => {
        seen = full;
        if (full === 'first second ') {
          cts.cancel();
        }
      },
    });
    const outcome = await pending;
    assert.deepStrictEqual(outcome, { kind: 'cancelled', streamed: 'first second ' });
    assert.strictEqual(seen, 'first second ');
    assert.ok(server.requests[0].token.isCancellationRequested, 'the request token is what the client cancels');
  });

  it('an already-cancelled token sends nothing', async () => {
    const server = new FakeServer({ deltas: [], result: askResult() });
    const cts = new vscode.CancellationTokenSource();
    cts.cancel();
    const outcome = await runAsk(server, { question: 'q' }, cts.token);
    assert.strictEqual(outcome.kind, 'cancelled');
    assert.strictEqual(server.requests.length, 0);
  });

  it('server errors become a readable message, keeping the streamed text', async () => {
    const server = new FakeServer({ deltas: ['partial'], error: { code: -32602, message: "'question' must not be empty" } });
    const outcome = await runAsk(server, { question: ' ' }, new vscode.CancellationTokenSource().token);
    assert.strictEqual(outcome.kind, 'error');
    if (outcome.kind === 'error') {
      assert.match(outcome.message, /rejected the question: 'question' must not be empty/);
      assert.strictEqual(outcome.streamed, 'partial');
    }
  });

  it('normaliseResult fills missing fields', () => {
    assert.deepStrictEqual(normaliseResult({ answer: 'x' }), {
      answer: 'x', citations: [], abstained: false, source: '', indexComplete: true, warnings: [],
    });
    assert.strictEqual(normaliseResult(null).answer, '');
  });

  it('default selection question quotes the selection on one line', () => {
    assert.strictEqual(defaultSelectionQuestion('retry_policy(\n  3)'), 'What does `retry_policy( 3)` do, and where is it documented?');
    assert.ok(defaultSelectionQuestion('x'.repeat(200)).includes('…'));
  });
});
