import * as assert from 'assert';
import { nextPollMs, statusReport, statusView } from '../status';
import { StatusResult } from '../protocol';

function status(indexing: boolean, files: number, state: StatusResult['model']['state'] = 'none', lastUpdate: string | null = '2026-11-21T10:00:00Z'): StatusResult {
  return {
    version: '0.1.0',
    protocolVersion: 1,
    folders: [
      { uri: 'file:///ws', indexDir: '/c/ws', files, chunks: files * 3, pendingChanges: 0, indexing, lastUpdate, skipped: { tooLarge: 2, binary: 0 }, redactedSecrets: 0, watcher: 'inotify' },
    ],
    model: { state, detail: state === 'failed' ? 'bad gguf' : '', path: state === 'none' ? null : '/m.gguf', adapters: [{ name: 'terse', scale: 1, active: true }], warnings: [], processId: state === 'ready' ? 42 : null, rssMb: null, recentCrashes: 0, lastCrash: null },
  };
}

describe('status bar', () => {
  it('shows indexing progress and polls fast', () => {
    const v = statusView('running', status(true, 12));
    assert.strictEqual(v.text, '$(sync~spin) ragls: indexing 12 files');
    assert.ok(v.busy);
    assert.strictEqual(nextPollMs(v), 2000);
  });

  it('shows the file count and the model state when idle', () => {
    const v = statusView('running', status(false, 1, 'ready'));
    assert.strictEqual(v.text, '$(book) ragls: 1 file · model ready');
    assert.ok(!v.busy);
    assert.ok(nextPollMs(v) > 2000);
    assert.match(statusView('running', status(false, 4, 'loading')).text, /model loading/);
    assert.ok(statusView('running', status(false, 4, 'loading')).busy);
    assert.match(statusView('running', status(false, 4, 'failed')).text, /^\$\(warning\).*model failed/);
  });

  it('polls fast right after start and while a folder was never indexed', () => {
    const idle = statusView('running', status(false, 3, 'none'));
    assert.strictEqual(nextPollMs(idle, 1000), 2000);
    assert.strictEqual(nextPollMs(idle, 60000), 15000);
    assert.ok(statusView('running', status(false, 0, 'none', null)).busy);
  });

  it('shows client phases before a status arrives', () => {
    assert.match(statusView('starting').text, /starting/);
    assert.match(statusView('failed').text, /error/);
    assert.match(statusView('stopped').text, /circle-slash/);
    assert.strictEqual(statusView('running').text, '$(book) ragls');
    assert.ok(statusView('running').busy, 'keeps polling until the server answers');
  });

  it('report lists folders, skipped files, model detail and adapters', () => {
    const r = statusReport(status(false, 5, 'failed'));
    assert.match(r, /file:\/\/\/ws: 5 files, 15 chunks, idle, watcher inotify/);
    assert.match(r, /skipped: 2 tooLarge/);
    assert.ok(!r.includes('binary'));
    assert.match(r, /model: failed \(\/m.gguf\) — bad gguf/);
    assert.match(r, /terse×1 \(active\)/);
  });
});
