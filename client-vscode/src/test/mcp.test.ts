import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { vscodeStub } from './vscodeStub';
import { MCP_PROVIDER_ID, mcpLaunch, registerMcpServerProvider } from '../mcp';
import { resolveLaunch } from '../settings';

const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8'));

class FakeDefinition {
  constructor(
    readonly label: string,
    readonly command: string,
    readonly args?: string[],
    readonly env?: Record<string, string | number | null>,
    readonly version?: string,
  ) {}
}

describe('MCP server registration (VS Code agent mode)', () => {
  afterEach(() => {
    vscodeStub.lm = undefined;
    vscodeStub.McpStdioServerDefinition = undefined;
  });

  it('starts `ragls mcp` the way the language server is started, with every folder and the index folder', () => {
    const folders = ['/ws/one', '/ws/two words'];
    assert.deepStrictEqual(mcpLaunch(resolveLaunch({}), folders), {
      command: 'ragls',
      args: ['mcp', '/ws/one', '/ws/two words'],
      display: 'ragls mcp /ws/one "/ws/two words"',
    });
    const python = mcpLaunch(resolveLaunch({ python: '/venv/bin/python' }), ['/ws'], '/cache/idx');
    assert.deepStrictEqual(python.args, ['-m', 'ragls', 'mcp', '/ws', '--index-dir', '/cache/idx']);
    const path = mcpLaunch(resolveLaunch({ serverPath: '${workspaceFolder}/.venv/bin/ragls', workspaceFolder: '/ws' }), ['/ws'], '  ');
    assert.deepStrictEqual([path.command, ...path.args], ['/ws/.venv/bin/ragls', 'mcp', '/ws']);
  });

  it('registers nothing on a VS Code without the MCP API (before 1.101)', () => {
    assert.strictEqual(registerMcpServerProvider(() => undefined, '0.1.0'), undefined);
    vscodeStub.lm = {};  // lm exists (language models) but not the MCP part
    assert.strictEqual(registerMcpServerProvider(() => undefined, '0.1.0'), undefined);
  });

  it('provides one stdio definition under the id package.json contributes, and says when it changed', () => {
    const registered: { id: string; provider: any }[] = [];
    let disposed = 0;
    vscodeStub.McpStdioServerDefinition = FakeDefinition;
    vscodeStub.lm = {
      registerMcpServerDefinitionProvider(id: string, provider: unknown) {
        registered.push({ id, provider });
        return { dispose: () => (disposed += 1) };
      },
    };
    let folders = ['/ws'];
    const registration = registerMcpServerProvider(
      () => (folders.length ? mcpLaunch(resolveLaunch({}), folders) : undefined),
      '0.1.0',
    );
    assert.ok(registration);
    assert.deepStrictEqual(pkg.contributes.mcpServerDefinitionProviders, [{ id: MCP_PROVIDER_ID, label: 'ragls' }]);
    assert.deepStrictEqual(registered.map((r) => r.id), [MCP_PROVIDER_ID]);
    const provider = registered[0].provider;
    const [definition] = provider.provideMcpServerDefinitions({}) as FakeDefinition[];
    assert.ok(definition instanceof FakeDefinition);
    assert.deepStrictEqual([definition.label, definition.command, definition.args], ['ragls', 'ragls', ['mcp', '/ws']]);
    assert.strictEqual(definition.version, '0.1.0 ragls mcp /ws');

    let changes = 0;
    provider.onDidChangeMcpServerDefinitions(() => (changes += 1));
    folders = [];
    registration.changed();
    assert.strictEqual(changes, 1);
    assert.deepStrictEqual(provider.provideMcpServerDefinitions({}), []);  // no folder: nothing to serve
    registration.dispose();
    assert.strictEqual(disposed, 1);
  });
});
