import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { CHAT_PARTICIPANT_ID } from '../chat';
import { Commands } from '../protocol';

const root = path.join(__dirname, '..', '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const extensionSource = fs.readFileSync(path.join(root, 'src', 'extension.ts'), 'utf8');

describe('package.json manifest', () => {
  it('registers every contributed command in extension.ts', () => {
    for (const { command } of pkg.contributes.commands as { command: string }[]) {
      assert.ok(extensionSource.includes(`reg('${command}'`), `${command} is contributed but not registered`);
    }
  });

  it('no contributed command collides with a server command (the client registers those itself)', () => {
    const serverCommands = new Set<string>(Object.values(Commands));
    for (const { command } of pkg.contributes.commands as { command: string }[]) {
      assert.ok(!serverCommands.has(command), `${command} is also a server executeCommand`);
    }
  });

  it('declares the chat participant the code registers and the engine the client library needs', () => {
    assert.deepStrictEqual(pkg.contributes.chatParticipants.map((p: { id: string }) => p.id), [CHAT_PARTICIPANT_ID]);
    assert.strictEqual(pkg.engines.vscode, '^1.91.0');
    assert.match(pkg.devDependencies['@types/vscode'], /^~1\.91/);
    assert.strictEqual(pkg.main, './dist/extension.js');
  });
});
