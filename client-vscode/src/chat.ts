/**
 * The `@ragls` chat participant's handler: streams the answer into the Chat view, then the
 * citations as inline anchors and references. Depends on an `ask` function, not the client, so
 * the unit tests drive it with the vscode stub and a fake ask.
 */
import * as vscode from 'vscode';
import { AskCallbacks, AskOutcome, CancellationLike } from './ask';
import { AskParams } from './protocol';
import { citationLabel, citationLocation, escapeMarkdownText, resultNotes } from './answer';

export interface ChatDeps {
  ask(params: AskParams, token: CancellationLike, callbacks: AskCallbacks): Promise<AskOutcome>;
  relativePath(uri: string): string;
  /** The editor context the question is about (active document and selection), if any. */
  editorContext(): Pick<AskParams, 'textDocument' | 'range' | 'position'> | undefined;
}

export const CHAT_PARTICIPANT_ID = 'ragls.chat';

export function createChatHandler(deps: ChatDeps): vscode.ChatRequestHandler {
  return async (request, _context, stream, token) => {
    const question = request.prompt.trim();
    if (!question) {
      stream.markdown('Ask a question about this workspace, for example `@ragls how are failed requests retried?`');
      return {};
    }
    stream.progress('Searching the workspace…');
    let streamedAny = false;
    let reading = false;
    const outcome = await deps.ask({ question, ...deps.editorContext() }, token, {
      onReading() {
        if (!reading) {  // one progress line: chat keeps every line it is given
          reading = true;
          stream.progress('Reading the passages…');
        }
      },
      onDelta(delta) {
        streamedAny = true;
        stream.markdown(delta);
      },
    });
    if (outcome.kind === 'cancelled') {
      return { metadata: { cancelled: true } };
    }
    if (outcome.kind === 'error') {
      return { errorDetails: { message: outcome.message } };
    }
    const { result } = outcome;
    if (!streamedAny && result.answer) {
      stream.markdown(result.answer);
    } else if (result.answer && outcome.streamed.trim() !== result.answer.trim()) {
      // The result's answer is authoritative (PROTOCOL.md: a model answer cut short is trimmed to
      // its last cited sentence). Chat output cannot be rewritten, so show the final text below.
      stream.markdown(`\n\n---\n\n_Final answer:_\n\n${result.answer}`);
    }
    for (const note of resultNotes(result)) {
      stream.markdown(`\n\n_${escapeMarkdownText(note)}_`);
    }
    if (result.citations.length > 0) {
      stream.markdown('\n\n**Sources**\n\n');
      for (const citation of result.citations) {
        const location = citationLocation(citation);
        stream.markdown(`${citation.id}. `);
        stream.anchor(location, citationLabel(citation, deps.relativePath));
        stream.markdown(citation.title ? ` — ${citation.title}\n` : '\n');
        stream.reference(location);
      }
    }
    return { metadata: { source: result.source, citations: result.citations.length, abstained: result.abstained } };
  };
}

/** Registers the participant where the Chat API exists (VS Code ≥ 1.90 with chat); else nothing. */
export function registerChatParticipant(
  deps: ChatDeps,
  iconPath: vscode.Uri | undefined,
): vscode.Disposable | undefined {
  const chat = (vscode as { chat?: typeof vscode.chat }).chat;
  if (!chat || typeof chat.createChatParticipant !== 'function') {
    return undefined;
  }
  const participant = chat.createChatParticipant(CHAT_PARTICIPANT_ID, createChatHandler(deps));
  if (iconPath) {
    participant.iconPath = iconPath;
  }
  return participant;
}
