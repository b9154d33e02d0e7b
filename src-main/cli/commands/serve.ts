import { isLoopbackHost, startHttpServer } from '../../transport/http-server.js';
import { optionalPort, requireString, UsageError, type CommandSpec } from '../args.js';
import { nodeBundlePaths } from '../paths.js';
import { nodeBackend } from '../node-backend.js';
import { keepServingOnUncaught } from '../uncaught.js';
import { faultMessage } from '../../core/util/faults.js';

export const serveCommand: CommandSpec = {
  name: 'serve',
  summary:
    'Serve the Ocular UI and its IPC contract over loopback HTTP + WebSocket, so a workspace can be\n' +
    'browsed from an ordinary browser. Binds 127.0.0.1 unless --host is given; a non-loopback host\n' +
    'requires --token. If the workspace folder holds no workspace yet, the UI offers to create it.',
  usage: 'ocular serve --workspace DIR [--port N] [--host H --token T] [--read-only]',
  options: {
    workspace: { type: 'string', short: 'w' },
    port: { type: 'string', short: 'p' },
    host: { type: 'string' },
    token: { type: 'string' },
    'read-only': { type: 'boolean' },
  },
  help: [
    '-w, --workspace DIR   workspace folder to serve (required)',
    '-p, --port N          port (default 4599; 0 picks a free one)',
    '    --host H          address to bind (default 127.0.0.1)',
    '    --token T         secret a browser must present; required for a non-loopback --host',
    '    --read-only       refuse every call that would change the workspace',
  ],
  async run(values) {
    const workspace = requireString(values, 'workspace');
    const host = typeof values.host === 'string' ? values.host : '127.0.0.1';
    const token = typeof values.token === 'string' ? values.token : undefined;
    if (!isLoopbackHost(host) && !token) {
      throw new UsageError(`Refusing to serve on ${host} without --token: anyone who can reach it could read and change the workspace.`);
    }
    if (token !== undefined && token.length < 16) throw new UsageError('--token must be at least 16 characters.');
    const backend = nodeBackend({ pinnedWorkspace: workspace, readOnly: Boolean(values['read-only']) });
    backend.openPinnedIfPresent();
    const port = optionalPort(values) ?? 4599;
    let server: Awaited<ReturnType<typeof startHttpServer>>;
    try {
      server = await startHttpServer({
        backend,
        rendererDir: nodeBundlePaths.renderer,
        host,
        port,
        token,
        log: (line) => console.error(line),
      });
    } catch (err) {
      await backend.close();
      const fault = faultMessage(err);
      if (fault) throw new UsageError(fault); // port in use, no such address: one line
      throw err;
    }
    keepServingOnUncaught();
    const suffix = token ? `?token=${encodeURIComponent(token)}` : '';
    console.log(`Ocular serving ${backend.pinnedWorkspace}${backend.readOnly ? ' (read-only)' : ''} at ${server.url}${suffix}`);
    const info = await backend.invoke('app.info', {});
    if (info.ok && (info.result as { workspaceError: string | null }).workspaceError) {
      console.log(`Note: ${(info.result as { workspaceError: string }).workspaceError}`);
    }

    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    await server.close();
    await backend.close();
    return 0;
  },
};
