import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { resolveLaunch, serverSettingsFrom } from '../settings';
import { DEFAULT_SERVER_SETTINGS } from '../protocol';

function leafKeys(obj: Record<string, unknown>, prefix = ''): [string, unknown][] {
  return Object.entries(obj).flatMap(([k, v]) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? leafKeys(v as Record<string, unknown>, `${prefix}${k}.`)
      : [[`${prefix}${k}`, v] as [string, unknown]],
  );
}

describe('settings → server settings', () => {
  it('sends the server defaults when nothing is set', () => {
    assert.deepStrictEqual(serverSettingsFrom(() => undefined), DEFAULT_SERVER_SETTINGS);
  });

  it('passes user values through under the server key names', () => {
    const values: Record<string, unknown> = {
      'index.exclude': ['vendor/**'],
      'retrieval.passages': 8,
      'hover.enabled': false,
      'model.path': '/models/qwen.gguf',
      'model.adapters': [{ name: 'terse', path: '/a/terse.gguf', scale: 0.5 }],
      'model.remote.url': 'http://127.0.0.1:8080/v1',
    };
    const s = serverSettingsFrom((key) => values[key]);
    assert.deepStrictEqual(s.index.exclude, ['vendor/**']);
    assert.strictEqual(s.retrieval.passages, 8);
    assert.strictEqual(s.retrieval.maxPerFile, 2);
    assert.strictEqual(s.retrieval.contextPages, 2);
    assert.strictEqual(s.hover.enabled, false);
    assert.strictEqual(s.model.path, '/models/qwen.gguf');
    assert.deepStrictEqual(s.model.adapters, [{ name: 'terse', path: '/a/terse.gguf', scale: 0.5 }]);
    assert.strictEqual(s.model.remote.url, 'http://127.0.0.1:8080/v1');
    assert.strictEqual(s.model.remote.apiKey, null);
  });

  it('turns a cleared string setting into null and keeps client-only keys out', () => {
    const s = serverSettingsFrom((key) => (key === 'model.path' ? '' : key === 'server.path' ? '/x' : undefined));
    assert.strictEqual(s.model.path, null);
    assert.ok(!('server' in s));
  });

  it('does not share default arrays between calls', () => {
    const a = serverSettingsFrom(() => undefined);
    a.index.include.push('mutated');
    assert.deepStrictEqual(serverSettingsFrom(() => undefined).index.include, []);
  });

  it('package.json contributes every server setting with the server default', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8'));
    const props = pkg.contributes.configuration.properties as Record<string, { default: unknown; description?: string; markdownDescription?: string; scope?: string }>;
    for (const [key, value] of leafKeys(DEFAULT_SERVER_SETTINGS as unknown as Record<string, unknown>)) {
      const prop = props[`ragls.${key}`];
      assert.ok(prop, `package.json lacks ragls.${key}`);
      assert.deepStrictEqual(prop.default, value, `default of ragls.${key}`);
      assert.ok(prop.description || prop.markdownDescription, `ragls.${key} has no description`);
      assert.ok(prop.scope, `ragls.${key} has no scope`);
    }
    for (const key of Object.keys(props)) {
      const isServer = leafKeys(DEFAULT_SERVER_SETTINGS as unknown as Record<string, unknown>).some(([k]) => `ragls.${k}` === key);
      assert.ok(isServer || key.startsWith('ragls.server.'), `${key} is neither a server nor a client setting`);
    }
  });
});

describe('resolveLaunch', () => {
  it('prefers ragls.server.path, then python, then ragls on PATH', () => {
    assert.deepStrictEqual(resolveLaunch({ serverPath: '/v/bin/ragls', python: '/usr/bin/python3' }), {
      kind: 'path', command: '/v/bin/ragls', args: ['--stdio'], display: '/v/bin/ragls --stdio',
    });
    assert.deepStrictEqual(resolveLaunch({ serverPath: '  ', python: '/usr/bin/python3' }).args, ['-m', 'ragls', '--stdio']);
    const fallback = resolveLaunch({});
    assert.strictEqual(fallback.kind, 'default');
    assert.strictEqual(fallback.command, 'ragls');
  });

  it('expands ${workspaceFolder} and ~ and quotes paths with spaces for display', () => {
    const launch = resolveLaunch({ python: '${workspaceFolder}/.venv/bin/python', workspaceFolder: '/my proj', home: '/home/u' });
    assert.strictEqual(launch.command, '/my proj/.venv/bin/python');
    assert.strictEqual(launch.display, '"/my proj/.venv/bin/python" -m ragls --stdio');
    assert.strictEqual(resolveLaunch({ serverPath: '~/bin/ragls', home: '/home/u' }).command, '/home/u/bin/ragls');
  });
});
