/**
 * Contract check of the real server against this client's protocol mirror (src/protocol.ts):
 * starts `ragls --stdio` on a workspace, waits for indexing through `ragls/status`, then checks
 * hover citations, `ragls/ask` streaming (the progress deltas lead to the authoritative answer), the result
 * and status shapes, InvalidParams, and `workspace/executeCommand`. Run by scripts/e2e.sh before
 * the browser test, because a browser cannot see whether an answer streamed.
 *
 *   node out/contract/serverContract.js <workspace> <ragls command> [args…]
 *
 * RAGLS_CONTRACT_INDEX_DIR puts the index somewhere else than the user cache.
 */
import { spawn } from 'child_process';
import * as path from 'path';
import { pathToFileURL } from 'url';
import {
  createMessageConnection,
  StreamMessageReader,
  StreamMessageWriter,
  ResponseError,
} from 'vscode-languageserver-protocol/node';
import {
  AskResult, Citation, DEFAULT_SERVER_SETTINGS, ErrorCodes, FolderStatus, Methods, ModelStatus, ProgressValue, PROTOCOL_VERSION, StatusResult,
} from '../protocol';

const askResultKeys = { answer: 1, citations: 1, abstained: 1, source: 1, indexComplete: 1, warnings: 1 } satisfies Record<keyof AskResult, 1>;
const citationKeys = { id: 1, uri: 1, range: 1, title: 1, snippet: 1 } satisfies Record<keyof Citation, 1>;
const statusKeys = { version: 1, protocolVersion: 1, folders: 1, model: 1 } satisfies Record<keyof StatusResult, 1>;
// `error` is there only when a folder cannot be indexed.
const folderKeys = {
  uri: 1, indexDir: 1, files: 1, chunks: 1, pendingChanges: 1, indexing: 1, lastUpdate: 1, skipped: 1, redactedSecrets: 1, watcher: 1,
} satisfies Record<Exclude<keyof FolderStatus, 'error'>, 1>;
const modelKeys = {
  state: 1, detail: 1, path: 1, adapters: 1, warnings: 1, processId: 1, rssMb: 1, recentCrashes: 1, lastCrash: 1,
} satisfies Record<keyof ModelStatus, 1>;

const t0 = Date.now();
const failures: string[] = [];

function log(message: string): void {
  console.error(`[contract ${((Date.now() - t0) / 1000).toFixed(1)}s] ${message}`);
}

function check(ok: unknown, what: string): void {
  if (!ok) {
    failures.push(what);
    log(`FAIL ${what}`);
  }
}

function hasKeys(value: unknown, keys: Record<string, 1>, what: string): void {
  const obj = (value ?? {}) as Record<string, unknown>;
  const missing = Object.keys(keys).filter((k) => !(k in obj));
  check(missing.length === 0, `${what} lacks ${missing.join(', ')}`);
}

async function main(): Promise<void> {
  const [workspace, command, ...args] = process.argv.slice(2);
  if (!workspace || !command) {
    throw new Error('usage: serverContract.js <workspace> <ragls command> [args…]');
  }
  const settings = { ...DEFAULT_SERVER_SETTINGS, index: { ...DEFAULT_SERVER_SETTINGS.index, indexDir: process.env.RAGLS_CONTRACT_INDEX_DIR ?? null } };
  const root = pathToFileURL(path.resolve(workspace)).href;
  const child = spawn(command, args.length ? args : ['--stdio'], { cwd: workspace, stdio: ['pipe', 'pipe', 'pipe'] });
  const stderr: string[] = [];
  child.stderr.on('data', (d: Buffer) => stderr.push(d.toString()));
  const connection = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
  const progress = new Map<string | number, ProgressValue[]>();
  const messages: string[] = [];
  connection.onNotification('$/progress', (p: { token: string | number; value: ProgressValue }) => {
    progress.set(p.token, [...(progress.get(p.token) ?? []), p.value]);
  });
  connection.onNotification('window/showMessage', (p: { message: string }) => {
    messages.push(p.message);
  });
  connection.onNotification('window/logMessage', () => undefined);
  connection.onRequest('window/workDoneProgress/create', () => null);
  connection.onRequest('client/registerCapability', () => null);
  connection.onRequest('workspace/configuration', (p: { items: { section?: string }[] }) =>
    p.items.map((i) => (i.section === 'ragls' ? settings : null)),
  );
  connection.listen();

  try {
    const init = await connection.sendRequest<{ capabilities: Record<string, unknown> }>('initialize', {
      processId: process.pid,
      rootUri: root,
      workspaceFolders: [{ uri: root, name: path.basename(workspace) }],
      capabilities: {
        window: { workDoneProgress: true },
        textDocument: { hover: { contentFormat: ['markdown', 'plaintext'] } },
        workspace: { configuration: true, workspaceFolders: true },
      },
      initializationOptions: settings,
    });
    check(init.capabilities.hoverProvider, 'server offers hover');
    await connection.sendNotification('initialized', {});
    log('initialized');

    let status: StatusResult | undefined;
    const deadline = Date.now() + 60000;
    while (Date.now() < deadline) {
      status = await connection.sendRequest<StatusResult>(Methods.status, {});
      if (status.folders.some((f) => f.files >= 2 && !f.indexing)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    hasKeys(status, statusKeys, 'ragls/status result');
    hasKeys(status?.folders[0], folderKeys, 'ragls/status folder');
    hasKeys(status?.model, modelKeys, 'ragls/status model');
    check(status?.protocolVersion === PROTOCOL_VERSION, `protocolVersion ${status?.protocolVersion} = ${PROTOCOL_VERSION}`);
    check(status?.folders.some((f) => f.files >= 2), 'the example workspace got indexed');
    log(`status: ${JSON.stringify(status)}`);

    const clientPy = pathToFileURL(path.join(path.resolve(workspace), 'src', 'client.py')).href;
    const text = require('fs').readFileSync(path.join(workspace, 'src', 'client.py'), 'utf8') as string;
    await connection.sendNotification('textDocument/didOpen', { textDocument: { uri: clientPy, languageId: 'python', version: 1, text } });
    const lines = text.split('\n');
    const line = lines.findIndex((l) => l.includes('retry_policy(max'));
    const hover = await connection.sendRequest<{ contents: { kind: string; value: string } } | null>('textDocument/hover', {
      textDocument: { uri: clientPy },
      position: { line, character: lines[line].indexOf('retry_policy') + 3 },
    });
    log(`hover: ${JSON.stringify(hover)}`);
    check(hover?.contents?.kind === 'markdown', 'hover is Markdown');
    check(/\(file:\/\/[^)]*docs\/retry\.md#L\d+/.test(hover?.contents?.value ?? ''), 'hover links docs/retry.md#L<n>');

    const token = 'contract-ask-1';
    const result = await connection.sendRequest<AskResult>(Methods.ask, {
      question: 'How does retry_policy retry failed requests?',
      workDoneToken: token,
    });
    hasKeys(result, askResultKeys, 'ragls/ask result');
    for (const c of result.citations) hasKeys(c, citationKeys, `citation ${c.id}`);
    const values = progress.get(token) ?? [];
    const deltas = values.filter((v) => v.kind === 'report').map((v) => v.message ?? '').join('');
    log(`ask: ${values.length} progress messages (${values.map((v) => v.kind).join(',')}); answer ${JSON.stringify(result.answer)}`);
    check(values[0]?.kind === 'begin' && values[values.length - 1]?.kind === 'end', 'ask progress is begin … end');
    // The result is authoritative; a model answer may be trimmed back from what streamed.
    check(deltas.length > 0 && deltas.trim().startsWith(result.answer.trim()), `streamed deltas lead to the answer (${JSON.stringify(deltas)})`);
    check(result.citations.some((c) => c.uri.endsWith('/docs/retry.md')), 'the answer cites docs/retry.md');
    check(result.citations.every((c) => /\[\d+\]/.test(result.answer) && result.answer.includes(`[${c.id}]`)), 'every citation is marked in the answer');

    try {
      await connection.sendRequest(Methods.ask, { question: '   ' });
      check(false, 'an empty question is rejected');
    } catch (error) {
      check(error instanceof ResponseError && error.code === ErrorCodes.InvalidParams, `empty question → InvalidParams (got ${(error as Error).message})`);
    }

    const viaCommand = await connection.sendRequest<StatusResult>('workspace/executeCommand', { command: 'ragls.status', arguments: [] });
    hasKeys(viaCommand, statusKeys, 'workspace/executeCommand ragls.status');
    check(messages.length === 0, `no showMessage warnings with default settings (got ${JSON.stringify(messages)})`);

    await connection.sendRequest('shutdown');
    await connection.sendNotification('exit');
  } catch (error) {
    failures.push(String((error as Error)?.stack ?? error));
  } finally {
    connection.dispose();
    setTimeout(() => child.kill(), 500).unref();
  }
  if (failures.length > 0) {
    console.error(`server stderr:\n${stderr.join('').slice(-4000)}`);
    console.error(`contract FAILED:\n- ${failures.join('\n- ')}`);
    process.exitCode = 1;
  } else {
    log('contract PASS');
  }
}

void main();
