/**
 * Turns failures into one message a user can act on. Plain values only (unit-tested).
 */
import { ErrorCodes } from './protocol';
import { quoteIfNeeded, ServerLaunch } from './settings';

export type FailureAction = 'openSettings' | 'showLog' | 'copyInstall' | 'restart';

export interface UserMessage {
  text: string;
  actions: FailureAction[];
  /** Shell command the "copy install command" action puts on the clipboard. */
  installCommand?: string;
}

export interface StartFailure {
  launch: ServerLaunch;
  /** The spawn error (ENOENT, EACCES, …) or the client's error, if any. */
  error?: { code?: string; message?: string };
  exitCode?: number | null;
  /** The last lines the server wrote to stderr. */
  stderr?: string;
}

const SETTINGS_HINT = 'Set "ragls.server.python" to a Python with ragls installed, or "ragls.server.path" to the ragls command.';

/** One message for "the server could not be started or died during start-up". */
export function describeStartFailure(failure: StartFailure): UserMessage {
  const { launch } = failure;
  const code = failure.error?.code;
  const stderr = (failure.stderr ?? '').trim();
  if (code === 'ENOENT') {
    if (launch.kind === 'python') {
      return {
        text: `ragls: Python not found at "${launch.command}". ${SETTINGS_HINT}`,
        actions: ['openSettings', 'showLog'],
      };
    }
    if (launch.kind === 'path') {
      return {
        text: `ragls: the server command "${launch.command}" does not exist. ${SETTINGS_HINT}`,
        actions: ['openSettings', 'showLog'],
      };
    }
    const install = 'python3 -m pip install ragls';
    return {
      text: `ragls: no "ragls" command on PATH. Install it (${install}) or ${lowerFirst(SETTINGS_HINT)}`,
      actions: ['openSettings', 'copyInstall', 'showLog'],
      installCommand: install,
    };
  }
  if (code === 'EACCES') {
    return {
      text: `ragls: "${launch.command}" is not executable. ${SETTINGS_HINT}`,
      actions: ['openSettings', 'showLog'],
    };
  }
  if (/No module named '?ragls/.test(stderr)) {
    const install = `${quoteIfNeeded(launch.command)} -m pip install ragls`;
    return {
      text: `ragls is not installed in ${launch.command}. Install it (${install}) or point "ragls.server.python" at a Python that has it.`,
      actions: ['copyInstall', 'openSettings', 'showLog'],
      installCommand: install,
    };
  }
  const last = lastMeaningfulLine(stderr) ?? failure.error?.message ?? (failure.exitCode != null ? `exit code ${failure.exitCode}` : 'unknown error');
  return {
    text: `ragls: the server (${launch.display}) failed to start: ${last}`,
    actions: ['showLog', 'openSettings', 'restart'],
  };
}

/** One message for "the server crashed repeatedly and is not restarted again". */
export function describeCrash(restarts: number, stderr?: string): UserMessage {
  const last = lastMeaningfulLine((stderr ?? '').trim());
  return {
    text: `ragls: the server stopped unexpectedly ${restarts + 1} times and will not be restarted automatically.` +
      (last ? ` Last error: ${last}` : '') + ' Use "ragls: Restart Server" after fixing the cause.',
    actions: ['showLog', 'restart'],
  };
}

interface ErrorLike { code?: unknown; message?: unknown; name?: unknown }

export function isCancellation(error: unknown): boolean {
  const e = error as ErrorLike | undefined;
  return !!e && (e.code === ErrorCodes.RequestCancelled || e.code === ErrorCodes.ServerCancelled || e.name === 'Canceled');
}

/** Text for a failed `ragls/ask` (or other request). */
export function describeRequestError(error: unknown): string {
  const e = error as ErrorLike | undefined;
  if (isCancellation(error)) {
    return 'Cancelled.';
  }
  const message = typeof e?.message === 'string' && e.message ? e.message : String(error);
  switch (e?.code) {
    case ErrorCodes.InvalidParams:
      return `ragls rejected the question: ${message}`;
    case ErrorCodes.ConnectionInactive:
      return 'ragls: the server is not running. Run "ragls: Restart Server" (the log is in the "ragls" output channel).';
    default:
      return `ragls: the request failed: ${message}`;
  }
}

/**
 * The line that explains a Python failure: the exception line at the end of a traceback, else
 * the last non-empty line.
 */
export function lastMeaningfulLine(text: string): string | undefined {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
  for (let i = lines.length - 1; i >= 0; i--) {
    if (/^[A-Za-z_][\w.]*(Error|Exception|Exit)\b.*:?/.test(lines[i])) {
      return lines[i];
    }
  }
  return lines[lines.length - 1];
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}
