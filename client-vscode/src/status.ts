/**
 * `ragls/status` → status bar text, tooltip and the "Show Status" report. Plain values only.
 */
import { StatusResult } from './protocol';

export type ClientPhase = 'starting' | 'running' | 'stopped' | 'failed';

export interface StatusView {
  text: string;
  tooltip: string;
  /** Poll again soon: something is still changing (indexing, pending changes, model loading). */
  busy: boolean;
}

export function summarise(status: StatusResult): { files: number; chunks: number; indexing: boolean; pending: number } {
  let files = 0;
  let chunks = 0;
  let pending = 0;
  let indexing = false;
  for (const folder of status.folders) {
    files += folder.files;
    chunks += folder.chunks;
    pending += folder.pendingChanges;
    indexing = indexing || folder.indexing;
  }
  return { files, chunks, indexing, pending };
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export function modelLabel(status: StatusResult): string {
  switch (status.model.state) {
    case 'none':
      return 'no model';
    case 'loading':
      return 'model loading';
    case 'ready':
      return 'model ready';
    case 'failed':
      return 'model failed';
    default:
      return `model ${String(status.model.state)}`;
  }
}

export function statusView(phase: ClientPhase, status?: StatusResult): StatusView {
  if (phase === 'starting') {
    return { text: '$(loading~spin) ragls: starting', tooltip: 'Starting the ragls server…', busy: true };
  }
  if (phase === 'failed') {
    return { text: '$(error) ragls', tooltip: 'The ragls server is not running. Click for the log.', busy: false };
  }
  if (phase === 'stopped') {
    return { text: '$(circle-slash) ragls', tooltip: 'The ragls server is stopped. Click for the log.', busy: false };
  }
  if (status === undefined) {
    // Running, but ragls/status has not answered (yet): keep polling quickly.
    return { text: '$(book) ragls', tooltip: 'Waiting for the ragls server status… Click for the log.', busy: true };
  }
  const { files, indexing, pending } = summarise(status);
  const model = modelLabel(status);
  // A folder that never finished indexing (lastUpdate null) is about to start: keep polling fast.
  const neverIndexed = status.folders.some((f) => f.lastUpdate === null);
  const busy = indexing || neverIndexed || pending > 0 || status.model.state === 'loading';
  const icon = indexing ? '$(sync~spin)' : status.model.state === 'failed' ? '$(warning)' : '$(book)';
  const text = indexing
    ? `${icon} ragls: indexing ${plural(files, 'file')}`
    : `${icon} ragls: ${plural(files, 'file')} · ${model}`;
  return { text, tooltip: statusReport(status) + '\n\nClick to show the ragls log.', busy };
}

/** Multi-line plain-text report (tooltip, "ragls: Show Status", output channel). */
export function statusReport(status: StatusResult): string {
  const lines: string[] = [`ragls ${status.version} (protocol ${status.protocolVersion})`];
  for (const folder of status.folders) {
    const state = folder.indexing ? 'indexing' : 'idle';
    lines.push(
      `${folder.uri}: ${plural(folder.files, 'file')}, ${plural(folder.chunks, 'chunk')}, ${state}` +
        (folder.pendingChanges ? `, ${folder.pendingChanges} pending` : '') +
        `, watcher ${folder.watcher}` +
        (folder.lastUpdate ? `, updated ${folder.lastUpdate}` : ''),
    );
    const skipped = Object.entries(folder.skipped ?? {}).filter(([, n]) => n > 0);
    if (skipped.length > 0) {
      lines.push(`  skipped: ${skipped.map(([why, n]) => `${n} ${why}`).join(', ')}`);
    }
  }
  if (status.folders.length === 0) {
    lines.push('No workspace folder is indexed.');
  }
  const m = status.model;
  lines.push(`model: ${m.state}${m.path ? ` (${m.path})` : ''}${m.detail ? ` — ${m.detail}` : ''}`);
  const adapters = m.adapters ?? [];
  if (adapters.length > 0) {
    lines.push(`adapters: ${adapters.map((a) => `${a.name}×${a.scale}${a.active ? ' (active)' : ''}`).join(', ')}`);
  }
  return lines.join('\n');
}

/**
 * Poll quickly while something changes and during the first half minute after start (indexing
 * may not have begun at the first poll), slowly otherwise (the watcher keeps the index moving).
 */
export function nextPollMs(view: StatusView, msSinceStart = Infinity): number {
  return view.busy || msSinceStart < 30000 ? 2000 : 15000;
}
