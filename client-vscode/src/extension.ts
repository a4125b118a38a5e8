/**
 * Extension entry point: starts `ragls --stdio` through vscode-languageclient, keeps the status
 * bar current, and wires the commands, the answer panel and the `@ragls` chat participant.
 * Everything that turns server data into user-visible text lives in the plain modules
 * (answer, ask, chat, errors, settings, status); this file only connects them to VS Code.
 */
import * as vscode from 'vscode';
import * as os from 'os';
import * as readline from 'readline';
import { spawn } from 'child_process';
import {
  CloseAction,
  CloseHandlerResult,
  ErrorAction,
  ErrorHandlerResult,
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
  State,
  WorkDoneProgress,
} from 'vscode-languageclient/node';
import { AskParams, Commands, Methods, StatusResult } from './protocol';
import { AskTransport, CancellationLike, defaultSelectionQuestion, runAsk } from './ask';
import { AnswerPanel } from './answerView';
import { registerChatParticipant } from './chat';
import { mcpLaunch, McpLaunch, McpRegistration, registerMcpServerProvider } from './mcp';
import { describeCrash, describeRequestError, describeStartFailure, UserMessage } from './errors';
import { RestartPolicy } from './restartPolicy';
import { RESTART_SETTINGS, resolveLaunch, ServerLaunch, serverSettingsFrom } from './settings';
import { ClientPhase, nextPollMs, statusReport, statusView } from './status';
import { sourceLine } from './answer';

/** The client owns user-facing errors; the library's own notifications would duplicate ours. */
class RaglsLanguageClient extends LanguageClient {
  override error(message: string, data?: unknown, _showNotification?: boolean | 'force'): void {
    super.error(message, data, false);
  }
}

const STDERR_TAIL_LINES = 40;

class RaglsExtension implements vscode.Disposable {
  private client: RaglsLanguageClient | undefined;
  private launch: ServerLaunch | undefined;
  private phase: ClientPhase = 'stopped';
  private lastStatus: StatusResult | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private stderrTail: string[] = [];
  private exitCode: number | null | undefined;
  private spawnError: NodeJS.ErrnoException | undefined;
  private wasRunning = false;
  private runningSince = 0;
  private readonly policy = new RestartPolicy();
  private readonly disposables: vscode.Disposable[] = [];
  private readonly output: vscode.LogOutputChannel;
  private readonly statusItem: vscode.StatusBarItem;
  private readonly panel: AnswerPanel;
  private currentAsk: vscode.CancellationTokenSource | undefined;
  private mcp: McpRegistration | undefined;

  constructor(private readonly context: vscode.ExtensionContext) {
    this.output = vscode.window.createOutputChannel('ragls', { log: true });
    this.statusItem = vscode.window.createStatusBarItem('ragls.status', vscode.StatusBarAlignment.Left, 10);
    this.statusItem.name = 'ragls';
    this.statusItem.command = 'ragls.showOutput';
    this.panel = new AnswerPanel(relativePath);
    this.disposables.push(this.output, this.statusItem, this.panel);
    this.renderStatus();
    this.statusItem.show();
  }

  register(): void {
    const reg = (id: string, fn: (...args: unknown[]) => unknown) =>
      this.disposables.push(vscode.commands.registerCommand(id, fn));
    reg('ragls.askWorkspace', () => this.askWorkspace());
    reg('ragls.askSelection', () => this.askSelection());
    reg('ragls.restartServer', () => this.restart(true));
    reg('ragls.reindexWorkspace', () => this.reindex());
    reg('ragls.showStatus', () => this.showStatus());
    reg('ragls.showOutput', () => this.output.show(true));
    this.disposables.push(vscode.workspace.onDidChangeConfiguration((e) => this.configurationChanged(e)));
    const chat = registerChatParticipant(
      {
        ask: (params, token, callbacks) => this.ask(params, token, callbacks),
        relativePath,
        editorContext: () => editorContext(false),
      },
      vscode.Uri.joinPath(this.context.extensionUri, 'media', 'icon.png'),
    );
    if (chat) {
      this.disposables.push(chat);
    }
    const version = String((this.context.extension?.packageJSON as { version?: string } | undefined)?.version ?? '');
    this.mcp = registerMcpServerProvider(() => this.mcpLaunch(), version);
    if (this.mcp) {
      const mcp = this.mcp;
      this.disposables.push(mcp, vscode.workspace.onDidChangeWorkspaceFolders(() => mcp.changed()));
    }
  }

  /** `ragls mcp` for VS Code's agent mode: every workspace folder, the language server's index folder. */
  private mcpLaunch(): McpLaunch | undefined {
    const folders = (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file').map((f) => f.uri.fsPath);
    if (folders.length === 0) {
      return undefined;
    }
    const config = vscode.workspace.getConfiguration('ragls');
    const server = resolveLaunch({
      serverPath: config.get<string | null>('server.path'),
      python: config.get<string | null>('server.python'),
      workspaceFolder: folders[0],
      home: os.homedir(),
    });
    return mcpLaunch(server, folders, config.get<string | null>('index.indexDir'));
  }

  // --- server lifecycle ----------------------------------------------------------------------

  async start(): Promise<void> {
    const config = vscode.workspace.getConfiguration('ragls');
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    const launch = resolveLaunch({
      serverPath: config.get<string | null>('server.path'),
      python: config.get<string | null>('server.python'),
      workspaceFolder: folder,
      home: os.homedir(),
    });
    this.launch = launch;
    this.stderrTail = [];
    this.exitCode = undefined;
    this.spawnError = undefined;
    this.wasRunning = false;
    this.setPhase('starting');
    this.output.info(`starting ${launch.display}`);

    const serverOptions: ServerOptions = () =>
      new Promise((resolve, reject) => {
        const child = spawn(launch.command, launch.args, { cwd: folder ?? os.homedir(), env: process.env });
        child.once('spawn', () => resolve(child));
        child.once('error', (error: NodeJS.ErrnoException) => {
          this.spawnError = error;
          reject(error);
        });
        child.once('exit', (code) => {
          this.exitCode = code;
        });
      });

    const clientOptions: LanguageClientOptions = {
      documentSelector: [{ scheme: 'file' }],
      outputChannel: this.output,
      initializationOptions: currentServerSettings(),
      initializationFailedHandler: () => false,
      stdioOptions: {
        stdout: () => undefined, // stdout is the protocol stream
        stderr: (input, channel) => {
          readline.createInterface({ input, crlfDelay: Infinity, terminal: false }).on('line', (line) => {
            channel.info(line);
            this.stderrTail.push(line);
            if (this.stderrTail.length > STDERR_TAIL_LINES) {
              this.stderrTail.shift();
            }
          });
        },
      },
      errorHandler: {
        error: (_error, _message, count): ErrorHandlerResult =>
          (count ?? 0) <= 3 ? { action: ErrorAction.Continue, handled: true } : { action: ErrorAction.Shutdown, handled: true },
        closed: (): CloseHandlerResult => this.connectionClosed(),
      },
      middleware: {
        workspace: {
          // Answer the server's workspace/configuration pull with exactly its settings (no
          // client-only ragls.server.*), for the folder it asks about.
          configuration: async (params, token, next) => {
            const answers = await next(params, token);
            if (!Array.isArray(answers)) {
              return answers;
            }
            return params.items.map((item, i) =>
              item.section === 'ragls' ? currentServerSettings(item.scopeUri) : answers[i],
            );
          },
        },
      },
    };

    const client = new RaglsLanguageClient('ragls', 'ragls', serverOptions, clientOptions);
    this.client = client;
    client.onDidChangeState((e) => {
      if (client !== this.client) {
        return;
      }
      if (e.newState === State.Running) {
        this.wasRunning = true;
        this.runningSince = Date.now();
        this.setPhase('running');
        this.schedulePoll(0);
      } else if (e.newState === State.Stopped && this.phase !== 'failed') {
        this.setPhase('stopped');
      }
    });
    try {
      await client.start();
    } catch (error) {
      if (client !== this.client) {
        return;
      }
      this.setPhase('failed');
      // Let the process's last stderr lines and exit code arrive before describing the failure.
      await new Promise((r) => setTimeout(r, 300));
      this.showMessage(
        describeStartFailure({
          launch,
          error: this.spawnError ?? { message: (error as Error)?.message },
          exitCode: this.exitCode,
          stderr: this.stderrTail.join('\n'),
        }),
      );
    }
  }

  private connectionClosed(): CloseHandlerResult {
    const decision = this.policy.onClosed(this.wasRunning);
    if (decision === 'restart') {
      this.output.warn('the ragls server stopped unexpectedly; restarting it');
      this.wasRunning = false;
      return { action: CloseAction.Restart, handled: true };
    }
    if (decision === 'gaveUp') {
      this.setPhase('failed');
      this.showMessage(describeCrash(this.policy.recentRestarts, this.stderrTail.join('\n')));
    }
    // 'startupFailed' is reported once by start() with the diagnosis.
    return { action: CloseAction.DoNotRestart, handled: true };
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.stopPolling();
    if (client && client.state !== State.Stopped) {
      try {
        await client.stop(5000);
      } catch (error) {
        this.output.warn(`stopping the server: ${(error as Error)?.message ?? error}`);
      }
    }
    this.setPhase('stopped');
  }

  async restart(manual: boolean): Promise<void> {
    if (manual) {
      this.policy.reset();
    }
    this.currentAsk?.cancel();
    await this.stop();
    await this.start();
  }

  private configurationChanged(e: vscode.ConfigurationChangeEvent): void {
    if (!e.affectsConfiguration('ragls')) {
      return;
    }
    if (['ragls.server', 'ragls.index.indexDir'].some((key) => e.affectsConfiguration(key))) {
      this.mcp?.changed();
    }
    if (RESTART_SETTINGS.some((key) => e.affectsConfiguration(key))) {
      this.output.info('server command changed; restarting');
      void this.restart(true);
      return;
    }
    const client = this.client;
    if (client && client.state === State.Running) {
      // Push the new settings; a server that pulls workspace/configuration instead gets the same
      // object through the configuration middleware.
      void client
        .sendNotification('workspace/didChangeConfiguration', { settings: { ragls: currentServerSettings() } })
        .then(() => this.schedulePoll(500));
    }
  }

  // --- status bar ----------------------------------------------------------------------------

  private setPhase(phase: ClientPhase): void {
    this.phase = phase;
    if (phase !== 'running') {
      this.stopPolling();
    }
    this.renderStatus();
  }

  private renderStatus(): void {
    const view = statusView(this.phase, this.lastStatus);
    this.statusItem.text = view.text;
    this.statusItem.tooltip = view.tooltip;
  }

  private stopPolling(): void {
    if (this.pollTimer) {
      clearTimeout(this.pollTimer);
      this.pollTimer = undefined;
    }
  }

  private schedulePoll(delayMs: number): void {
    this.stopPolling();
    this.pollTimer = setTimeout(() => void this.poll(), delayMs);
  }

  private async poll(): Promise<void> {
    const client = this.client;
    if (!client || this.phase !== 'running') {
      return;
    }
    try {
      this.lastStatus = await client.sendRequest<StatusResult>(Methods.status, {});
    } catch (error) {
      this.output.debug(`ragls/status failed: ${(error as Error)?.message ?? error}`);
    }
    if (client !== this.client || this.phase !== 'running') {
      return;
    }
    this.renderStatus();
    this.schedulePoll(nextPollMs(statusView(this.phase, this.lastStatus), Date.now() - this.runningSince));
  }

  // --- commands ------------------------------------------------------------------------------

  private transport(): AskTransport | undefined {
    const client = this.client;
    if (!client || client.state !== State.Running) {
      return undefined;
    }
    return {
      sendRequest: (method, params, token) => client.sendRequest(method, params, token as vscode.CancellationToken),
      onProgress: (token, handler) => client.onProgress(WorkDoneProgress.type, token, handler),
    };
  }

  ask(params: AskParams, token: CancellationLike, callbacks: Parameters<typeof runAsk>[3]) {
    const transport = this.transport();
    if (!transport) {
      return Promise.resolve({
        kind: 'error' as const,
        message: describeRequestError({ code: -32002, message: 'not running' }),
        error: undefined,
        streamed: '',
      });
    }
    return runAsk(transport, params, token, callbacks);
  }

  private async askWorkspace(): Promise<void> {
    const question = await vscode.window.showInputBox({
      title: 'ragls: Ask the Workspace',
      prompt: 'Ask a question about this workspace; the answer cites the files it comes from.',
      placeHolder: 'How are failed requests retried?',
      ignoreFocusOut: true,
    });
    if (question?.trim()) {
      await this.showAnswer({ question: question.trim(), ...editorContext(false) });
    }
  }

  private async askSelection(): Promise<void> {
    const editor = vscode.window.activeTextEditor;
    const selected = editor && !editor.selection.isEmpty ? editor.document.getText(editor.selection) : '';
    if (!editor || !selected.trim()) {
      return this.askWorkspace();
    }
    const question = await vscode.window.showInputBox({
      title: 'ragls: Ask About Selection',
      value: defaultSelectionQuestion(selected),
      prompt: 'The selected text is added to the search.',
      ignoreFocusOut: true,
    });
    if (question?.trim()) {
      await this.showAnswer({ question: question.trim(), ...editorContext(true) });
    }
  }

  private async showAnswer(params: AskParams): Promise<void> {
    this.currentAsk?.cancel();
    const cts = new vscode.CancellationTokenSource();
    this.currentAsk = cts;
    this.panel.begin(params.question, () => cts.cancel());
    this.output.info(`ask: ${params.question}`);
    const outcome = await this.ask(params, cts.token, {
      onStatus: (message) => this.panel.status(message),
      onDelta: (_delta, full) => this.panel.streamed(full),
    });
    if (this.currentAsk === cts) {
      this.currentAsk = undefined;
    }
    cts.dispose();
    if (outcome.kind === 'answer') {
      this.panel.finish(outcome.result);
      const sources = outcome.result.citations.map((c) => '  ' + sourceLine(c, relativePath)).join('\n');
      this.output.info(`answer (${outcome.result.source}):\n${outcome.result.answer}\n${sources}`);
    } else if (outcome.kind === 'cancelled') {
      this.panel.fail('Cancelled.', outcome.streamed);
      this.output.info('ask cancelled');
    } else {
      this.panel.fail(outcome.message, outcome.streamed);
      this.output.error(outcome.message);
    }
  }

  private async reindex(): Promise<void> {
    const client = this.client;
    if (!client || client.state !== State.Running) {
      void vscode.window.showWarningMessage(describeRequestError({ code: -32002, message: 'not running' }));
      return;
    }
    try {
      await client.sendRequest('workspace/executeCommand', { command: Commands.reindex, arguments: [] });
      vscode.window.setStatusBarMessage('ragls: re-indexing the workspace…', 3000);
      this.schedulePoll(300);
    } catch (error) {
      void vscode.window.showErrorMessage(describeRequestError(error));
    }
  }

  private async showStatus(): Promise<void> {
    const client = this.client;
    if (!client || client.state !== State.Running) {
      this.output.show(true);
      return;
    }
    try {
      const status = await client.sendRequest<StatusResult>(Methods.status, {});
      this.lastStatus = status;
      this.renderStatus();
      const report = statusReport(status);
      this.output.info('status:\n' + report);
      const choice = await vscode.window.showInformationMessage(report.split('\n')[0], { detail: report, modal: false }, 'Show Log');
      if (choice === 'Show Log') {
        this.output.show(true);
      }
    } catch (error) {
      void vscode.window.showErrorMessage(describeRequestError(error));
    }
  }

  // --- messages ------------------------------------------------------------------------------

  private showMessage(message: UserMessage): void {
    this.output.error(message.text);
    const labels: Record<string, string> = {
      openSettings: 'Open Settings',
      showLog: 'Show Log',
      copyInstall: 'Copy Install Command',
      restart: 'Restart Server',
    };
    void vscode.window.showErrorMessage(message.text, ...message.actions.map((a) => labels[a])).then(async (choice) => {
      if (choice === labels.openSettings) {
        await vscode.commands.executeCommand('workbench.action.openSettings', 'ragls.server');
      } else if (choice === labels.showLog) {
        this.output.show(true);
      } else if (choice === labels.copyInstall && message.installCommand) {
        await vscode.env.clipboard.writeText(message.installCommand);
      } else if (choice === labels.restart) {
        await this.restart(true);
      }
    });
  }

  dispose(): void {
    this.stopPolling();
    this.currentAsk?.cancel();
    for (const d of this.disposables) {
      d.dispose();
    }
  }
}

function currentServerSettings(scopeUri?: string) {
  const config = vscode.workspace.getConfiguration('ragls', scopeUri ? vscode.Uri.parse(scopeUri) : undefined);
  return serverSettingsFrom((key) => config.get(key));
}

function relativePath(uri: string): string {
  return vscode.workspace.asRelativePath(vscode.Uri.parse(uri), (vscode.workspace.workspaceFolders?.length ?? 0) > 1);
}

/** The active document (and, for "about selection", the selection) as ask context. */
function editorContext(withSelection: boolean): Pick<AskParams, 'textDocument' | 'range' | 'position'> | undefined {
  const editor = vscode.window.activeTextEditor;
  if (!editor || editor.document.uri.scheme !== 'file') {
    return undefined;
  }
  const context: Pick<AskParams, 'textDocument' | 'range' | 'position'> = {
    textDocument: { uri: editor.document.uri.toString() },
  };
  if (withSelection && !editor.selection.isEmpty) {
    const s = editor.selection;
    context.range = {
      start: { line: s.start.line, character: s.start.character },
      end: { line: s.end.line, character: s.end.character },
    };
  }
  return context;
}

let extension: RaglsExtension | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  extension = new RaglsExtension(context);
  context.subscriptions.push(extension);
  extension.register();
  await extension.start();
}

export async function deactivate(): Promise<void> {
  await extension?.stop();
  extension = undefined;
}
