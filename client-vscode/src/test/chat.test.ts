import * as assert from 'assert';
import * as vscode from 'vscode';
import { vscodeStub } from './vscodeStub';
import { createChatHandler, registerChatParticipant, ChatDeps } from '../chat';
import { runAsk } from '../ask';
import { askResult, FakeServer, Script } from './fakeServer';

type Call = [string, ...unknown[]];

function recordingStream() {
  const calls: Call[] = [];
  const stream = {
    markdown: (v: string) => calls.push(['markdown', v]),
    anchor: (v: unknown, title?: string) => calls.push(['anchor', v, title]),
    reference: (v: unknown) => calls.push(['reference', v]),
    progress: (v: string) => calls.push(['progress', v]),
    button: () => undefined,
    filetree: () => undefined,
    push: () => undefined,
  };
  return { calls, stream: stream as unknown as vscode.ChatResponseStream };
}

function handlerFor(script: Script, context?: ReturnType<ChatDeps['editorContext']>) {
  const server = new FakeServer(script);
  const handler = createChatHandler({
    ask: (params, token, callbacks) => runAsk(server, params, token, callbacks),
    relativePath: (uri) => uri.replace('file:///ws/', ''),
    editorContext: () => context,
  });
  return { server, handler };
}

async function run(handler: vscode.ChatRequestHandler, prompt: string, token = new vscode.CancellationTokenSource().token) {
  const { calls, stream } = recordingStream();
  const result = await handler({ prompt } as vscode.ChatRequest, { history: [] } as unknown as vscode.ChatContext, stream, token);
  return { calls, result };
}

describe('@ragls chat handler', () => {
  it('streams the answer, then anchors and references for each citation', async () => {
    const { handler, server } = handlerFor(
      { deltas: ['`retry_policy` retries ', 'three times [1].'], result: askResult() },
      { textDocument: { uri: 'file:///ws/src/client.py' } },
    );
    const { calls, result } = await run(handler, '  how are requests retried? ');
    assert.strictEqual(server.requests[0].params.question, 'how are requests retried?');
    assert.deepStrictEqual(server.requests[0].params.textDocument, { uri: 'file:///ws/src/client.py' });
    assert.deepStrictEqual(calls.slice(0, 3), [
      ['progress', 'Searching the workspace…'],
      ['markdown', '`retry_policy` retries '],
      ['markdown', 'three times [1].'],
    ]);
    const anchor = calls.find((c) => c[0] === 'anchor')!;
    const location = anchor[1] as vscode.Location;
    assert.strictEqual(location.uri.toString(), 'file:///ws/docs/retry.md');
    assert.strictEqual(location.range.start.line, 2);
    assert.strictEqual(anchor[2], 'docs/retry.md:3-6');
    const reference = calls.find((c) => c[0] === 'reference')!;
    assert.strictEqual((reference[1] as vscode.Location).uri.toString(), 'file:///ws/docs/retry.md');
    assert.deepStrictEqual(result, { metadata: { source: 'extractive', citations: 1, abstained: false } });
  });

  it('says once that a local model reads the passages, before the answer streams', async () => {
    const { handler } = handlerFor({ deltas: ['Retries back off [1].'], reading: [10, 55, 99], result: askResult() });
    const { calls } = await run(handler, 'how do retries back off?');
    assert.deepStrictEqual(calls.slice(0, 3), [
      ['progress', 'Searching the workspace…'],
      ['progress', 'Reading the passages…'],
      ['markdown', 'Retries back off [1].'],
    ]);
  });

  it('shows the same notes as the answer view, escaped', async () => {
    const { handler } = handlerFor({ deltas: [], result: askResult({ indexComplete: false, warnings: ['model failed: *boom*'] }) });
    const { calls } = await run(handler, 'q');
    const markdown = calls.filter((c) => c[0] === 'markdown').map((c) => c[1]).join('');
    assert.match(markdown, /_Indexing was still running; the answer may miss files\._/);
    assert.match(markdown, /_model failed: \\\*boom\\\*_/);
  });

  it('writes the whole answer when the server did not stream', async () => {
    const { handler } = handlerFor({ deltas: [], result: askResult({ citations: [], abstained: true, answer: 'Not covered.' }) });
    const { calls } = await run(handler, 'what is the capital of France?');
    const markdown = calls.filter((c) => c[0] === 'markdown').map((c) => c[1]).join('');
    assert.match(markdown, /^Not covered\./);
    assert.match(markdown, /does not seem to cover/);
    assert.ok(!calls.some((c) => c[0] === 'anchor'));
  });

  it('adds the authoritative final answer when it differs from the streamed text', async () => {
    const { handler } = handlerFor({ deltas: ['Retries three times [1]. And then', ' something unfinish'], result: askResult({ answer: 'Retries three times [1].' }) });
    const { calls } = await run(handler, 'q');
    const markdown = calls.filter((c) => c[0] === 'markdown').map((c) => c[1]).join('');
    assert.match(markdown, /something unfinish\n\n---\n\n_Final answer:_\n\nRetries three times \[1\]\./);
  });

  it('does not repeat an answer that streamed unchanged', async () => {
    const { handler } = handlerFor({ deltas: ['`retry_policy` retries three times [1].'], result: askResult() });
    const { calls } = await run(handler, 'q');
    assert.ok(!calls.some((c) => String(c[1]).includes('Final answer')));
  });

  it('reports errors through errorDetails', async () => {
    const { handler } = handlerFor({ deltas: [], error: { code: -32603, message: 'index is corrupt' } });
    const { result } = await run(handler, 'q');
    assert.deepStrictEqual(result, { errorDetails: { message: 'ragls: the request failed: index is corrupt' } });
  });

  it('stops on cancellation', async () => {
    const { handler } = handlerFor({ deltas: ['a', 'b'], hangAfter: 1, result: askResult() });
    const cts = new vscode.CancellationTokenSource();
    setTimeout(() => cts.cancel(), 20);
    const { result } = await run(handler, 'q', cts.token);
    assert.deepStrictEqual(result, { metadata: { cancelled: true } });
  });

  it('an empty prompt gets usage help and no request', async () => {
    const { handler, server } = handlerFor({ deltas: [], result: askResult() });
    const { calls } = await run(handler, '   ');
    assert.strictEqual(server.requests.length, 0);
    assert.match(String(calls[0][1]), /@ragls/);
  });
});

describe('registerChatParticipant', () => {
  const deps: ChatDeps = {
    ask: () => Promise.resolve({ kind: 'cancelled', streamed: '' }),
    relativePath: (u) => u,
    editorContext: () => undefined,
  };

  afterEach(() => {
    vscodeStub.chat = undefined;
  });

  it('does nothing where the Chat API is missing', () => {
    assert.strictEqual(registerChatParticipant(deps, undefined), undefined);
  });

  it('registers @ragls where it exists', () => {
    const created: string[] = [];
    vscodeStub.chat = {
      createChatParticipant: (id: string) => {
        created.push(id);
        return { iconPath: undefined, dispose() {} };
      },
    };
    const participant = registerChatParticipant(deps, vscode.Uri.file('/ext/media/icon.png'));
    assert.deepStrictEqual(created, ['ragls.chat']);
    assert.ok(participant);
  });
});
