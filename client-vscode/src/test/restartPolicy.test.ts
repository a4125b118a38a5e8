import * as assert from 'assert';
import { RestartPolicy } from '../restartPolicy';

describe('RestartPolicy', () => {
  it('never retries a server that did not get running', () => {
    assert.strictEqual(new RestartPolicy().onClosed(false), 'startupFailed');
  });

  it('restarts twice within the window, then gives up; the window slides', () => {
    let t = 0;
    const p = new RestartPolicy(2, 1000, () => t);
    assert.strictEqual(p.onClosed(true), 'restart');
    t = 100;
    assert.strictEqual(p.onClosed(true), 'restart');
    t = 200;
    assert.strictEqual(p.onClosed(true), 'gaveUp');
    t = 1150; // the first restart left the window
    assert.strictEqual(p.onClosed(true), 'restart');
  });

  it('a manual restart resets the budget', () => {
    const p = new RestartPolicy(1, 1000, () => 0);
    p.onClosed(true);
    assert.strictEqual(p.onClosed(true), 'gaveUp');
    p.reset();
    assert.strictEqual(p.onClosed(true), 'restart');
  });
});
