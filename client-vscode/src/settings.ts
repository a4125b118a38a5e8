/**
 * VS Code settings → what the server gets (initializationOptions, workspace/configuration) and how
 * the server process is started. Only plain values here (no vscode import) so it is unit-tested.
 */
import { DEFAULT_SERVER_SETTINGS, ServerSettings } from './protocol';

/** Reads one dotted key below the `ragls` section, e.g. `get("model.gpuLayers")`. */
export type SettingGetter = (key: string) => unknown;

/**
 * Builds the server's settings object from the `ragls.*` settings. Only keys the server knows are
 * sent (the client-only `ragls.server.*` stay here, so the server does not warn about them); values
 * are passed through unchanged because the server validates them and warns with the exact key.
 */
export function serverSettingsFrom(get: SettingGetter): ServerSettings {
  return fill(DEFAULT_SERVER_SETTINGS as unknown as Record<string, unknown>, "", get) as unknown as ServerSettings;
}

function fill(defaults: Record<string, unknown>, prefix: string, get: SettingGetter): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, fallback] of Object.entries(defaults)) {
    const dotted = prefix + key;
    if (fallback !== null && typeof fallback === 'object' && !Array.isArray(fallback)) {
      out[key] = fill(fallback as Record<string, unknown>, dotted + '.', get);
      continue;
    }
    const value = get(dotted);
    // VS Code returns undefined for a key it does not know and "" for a cleared string field.
    out[key] = value === undefined ? clone(fallback) : value === '' && fallback === null ? null : value;
  }
  return out;
}

function clone<T>(value: T): T {
  return Array.isArray(value) ? (value.slice() as T) : value;
}

// --- starting the server ---------------------------------------------------------------------

export type LaunchKind = 'path' | 'python' | 'default';

export interface ServerLaunch {
  kind: LaunchKind;
  command: string;
  args: string[];
  /** The command line as the user would type it, for messages. */
  display: string;
}

export interface LaunchInputs {
  serverPath?: string | null;
  python?: string | null;
  workspaceFolder?: string;
  home?: string;
}

/**
 * `ragls.server.path` wins (a `ragls` executable), then `ragls.server.python` (`python -m ragls`),
 * else `ragls` from PATH. `~` and `${workspaceFolder}` are expanded so a per-project virtual env
 * (`${workspaceFolder}/.venv/bin/ragls`) can be configured once.
 */
export function resolveLaunch(inputs: LaunchInputs): ServerLaunch {
  const serverPath = expand(inputs.serverPath, inputs);
  const python = expand(inputs.python, inputs);
  let launch: Omit<ServerLaunch, 'display'>;
  if (serverPath) {
    launch = { kind: 'path', command: serverPath, args: ['--stdio'] };
  } else if (python) {
    launch = { kind: 'python', command: python, args: ['-m', 'ragls', '--stdio'] };
  } else {
    launch = { kind: 'default', command: 'ragls', args: ['--stdio'] };
  }
  return { ...launch, display: [launch.command, ...launch.args].map(quoteIfNeeded).join(' ') };
}

function expand(value: string | null | undefined, inputs: LaunchInputs): string | undefined {
  const trimmed = (value ?? '').trim();
  if (!trimmed) {
    return undefined;
  }
  let out = trimmed;
  if (inputs.workspaceFolder !== undefined) {
    out = out.split('${workspaceFolder}').join(inputs.workspaceFolder);
  }
  if (inputs.home && (out === '~' || out.startsWith('~/'))) {
    out = inputs.home + out.slice(1);
  }
  return out;
}

/** A command-line word as a shell user would type it (quoted when it holds spaces or quotes). */
export function quoteIfNeeded(part: string): string {
  return /[\s"']/.test(part) ? JSON.stringify(part) : part;
}

/** Settings whose change needs a new server process (everything else the server takes live). */
export const RESTART_SETTINGS = ['ragls.server.path', 'ragls.server.python'];
