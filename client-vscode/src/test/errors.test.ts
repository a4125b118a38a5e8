import * as assert from 'assert';
import { describeCrash, describeRequestError, describeStartFailure, isCancellation, lastMeaningfulLine } from '../errors';
import { resolveLaunch } from '../settings';

describe('start failure messages', () => {
  it('no ragls on PATH: says to install it or set the settings, offers the install command', () => {
    const m = describeStartFailure({ launch: resolveLaunch({}), error: { code: 'ENOENT' } });
    assert.match(m.text, /no "ragls" command on PATH/);
    assert.match(m.text, /ragls\.server\.python/);
    assert.strictEqual(m.installCommand, 'python3 -m pip install ragls');
    assert.ok(m.actions.includes('openSettings'));
  });

  it('python missing: names the configured path', () => {
    const m = describeStartFailure({ launch: resolveLaunch({ python: '/nope/python' }), error: { code: 'ENOENT' } });
    assert.match(m.text, /Python not found at "\/nope\/python"/);
    assert.strictEqual(m.installCommand, undefined);
  });

  it('ragls not installed in that python: install command uses that python', () => {
    const stderr = "/usr/bin/python3: No module named ragls\n";
    const m = describeStartFailure({ launch: resolveLaunch({ python: '/usr/bin/python3' }), exitCode: 1, stderr });
    assert.match(m.text, /ragls is not installed in \/usr\/bin\/python3/);
    assert.strictEqual(m.installCommand, '/usr/bin/python3 -m pip install ragls');
    assert.strictEqual(m.actions[0], 'copyInstall');
  });

  it('crash during start: quotes the exception line of the traceback', () => {
    const stderr = [
      'Traceback (most recent call last):',
      '  File "/x/ragls/cli.py", line 3, in main',
      "ImportError: cannot import name 'Foo' from 'ragls.lsp'",
      '',
    ].join('\n');
    const m = describeStartFailure({ launch: resolveLaunch({ serverPath: '/v/ragls' }), exitCode: 1, stderr });
    assert.match(m.text, /failed to start: ImportError: cannot import name 'Foo'/);
    assert.match(m.text, /\/v\/ragls --stdio/);
  });

  it('falls back to the exit code when the server printed nothing', () => {
    const m = describeStartFailure({ launch: resolveLaunch({}), exitCode: 3 });
    assert.match(m.text, /exit code 3/);
  });

  it('repeated crash message counts the attempts and offers a restart', () => {
    const m = describeCrash(2, 'MemoryError: out of memory');
    assert.match(m.text, /3 times/);
    assert.match(m.text, /MemoryError/);
    assert.ok(m.actions.includes('restart'));
  });
});

describe('request errors', () => {
  it('explains invalid params, inactive connection and generic failures', () => {
    assert.match(describeRequestError({ code: -32602, message: "'question' must be a non-empty string" }), /rejected the question: 'question' must/);
    assert.match(describeRequestError({ code: -32002, message: 'Client is not running' }), /not running/);
    assert.match(describeRequestError(new Error('boom')), /request failed: boom/);
  });

  it('recognises cancellation by code', () => {
    assert.ok(isCancellation({ code: -32800 }));
    assert.ok(!isCancellation({ code: -32603 }));
    assert.strictEqual(describeRequestError({ code: -32800, message: 'x' }), 'Cancelled.');
  });

  it('lastMeaningfulLine prefers the exception line', () => {
    assert.strictEqual(lastMeaningfulLine('a\nValueError: bad\n  \n'), 'ValueError: bad');
    assert.strictEqual(lastMeaningfulLine('one\ntwo\n'), 'two');
    assert.strictEqual(lastMeaningfulLine(''), undefined);
  });
});
