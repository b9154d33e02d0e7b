import type { AppInfo } from '@contract/contract';
import { Alert, Box, Button, Card, CardContent, List, ListItemButton, ListItemText, Stack, TextField, Typography } from '@mui/material';
import { useEffect, useState } from 'react';
import { invoke, isDesktop, pickFolder } from '../api/client';
import { Editable } from '../components/Editable';
import { useReportError } from '../hooks/useErrorReporter';
import { leaveWorkspace, useLeftWorkspace } from '../hooks/useLeftWorkspace';
import { navigate } from '../lib/router';

export function WorkspacePage({ info }: { info: AppInfo }) {
  const { leftPath } = useLeftWorkspace(null);
  if (info.workspace) return <OpenWorkspace info={info} />;
  if (leftPath && !isDesktop) return <LeftWorkspace path={leftPath} />;
  return <NoWorkspace info={info} />;
}

/** A workspace this browser left: still open on the server for everyone else. */
function LeftWorkspace({ path }: { path: string }) {
  return (
    <Stack spacing={2} sx={{ maxWidth: 900 }} data-testid="left-workspace">
      <Typography variant="h5" component="h2">
        Workspace closed in this browser
      </Typography>
      <Typography>
        You closed <code>{path}</code> here. It stays open on the server for other lab members; nothing running there was stopped.
      </Typography>
      <Box>
        <Button variant="contained" onClick={() => leaveWorkspace(null)}>
          Open it again
        </Button>
      </Box>
    </Stack>
  );
}

function OpenWorkspace({ info }: { info: AppInfo }) {
  const report = useReportError();
  const ws = info.workspace!;
  const isEmpty = ws.counts.jobs === 0 && ws.counts.models === 0 && ws.counts.datasets === 0;
  const startDemo = async () => {
    try {
      await invoke('demo.start', {});
      navigate('jobs');
    } catch (err) {
      report(err);
    }
  };
  const runSelfTest = async () => {
    try {
      await invoke('jobs.start', { kind: 'selftest', params: {} });
      navigate('jobs');
    } catch (err) {
      report(err);
    }
  };
  // In a browser the server is shared: closing leaves the workspace in this tab only.
  const close = async () => {
    if (!isDesktop) return leaveWorkspace(ws.path);
    try {
      await invoke('workspace.close', {});
    } catch (err) {
      report(err);
    }
  };
  return (
    <Stack spacing={2} sx={{ maxWidth: 900 }}>
      <Typography variant="h5" component="h2">
        Workspace
      </Typography>
      {ws.recoveredFromUncleanShutdown && (
        <Alert severity="info">
          The last session did not close cleanly. The integrity check passed and interrupted jobs can be resumed from the Jobs page.
        </Alert>
      )}
      <Card variant="outlined">
        <CardContent>
          <Typography variant="body2" color="text.secondary">
            Folder
          </Typography>
          <Typography sx={{ fontFamily: 'monospace', wordBreak: 'break-all' }}>{ws.path}</Typography>
          <Typography variant="body2" color="text.secondary" sx={{ mt: 1 }}>
            Schema v{ws.schemaVersion} · created {new Date(ws.createdAt).toLocaleString()} · {ws.counts.jobs} job
            {ws.counts.jobs === 1 ? '' : 's'}
          </Typography>
        </CardContent>
      </Card>
      {isEmpty && (
        <Card variant="outlined" data-testid="empty-state">
          <CardContent>
            <Typography variant="h6">This workspace is empty</Typography>
            <Typography color="text.secondary" sx={{ mb: 2 }}>
              Nothing has run here yet.
              {info.demoAvailable
                ? ' The demo registers the bundled VLM, generates the synthetic benchmark and evaluates the model on it.'
                : ''}{' '}
              A self-test checks that jobs run in the background, report progress and can be cancelled, and that this workspace's database
              and blob store work from a worker.
            </Typography>
            <Stack direction="row" spacing={2}>
              {info.demoAvailable && (
                <Editable>
                  <Button variant="contained" onClick={startDemo}>
                    Start with the demo model and benchmark
                  </Button>
                </Editable>
              )}
              <Editable>
                <Button variant={info.demoAvailable ? 'outlined' : 'contained'} onClick={runSelfTest}>
                  Run self-test
                </Button>
              </Editable>
            </Stack>
          </CardContent>
        </Card>
      )}
      <Box>
        <Button variant="outlined" onClick={close}>
          Close workspace
        </Button>
        {!isDesktop && (
          <Typography variant="caption" color="text.secondary" component="p" sx={{ mt: 0.5 }}>
            Closes it in this browser only; it stays open on the server for other lab members.
          </Typography>
        )}
      </Box>
    </Stack>
  );
}

function NoWorkspace({ info }: { info: AppInfo }) {
  const report = useReportError();
  const [recent, setRecent] = useState<Array<{ path: string; openedAt: string }>>([]);
  const [typedPath, setTypedPath] = useState('');
  useEffect(() => {
    invoke('workspace.recent', {}).then(setRecent, () => setRecent([]));
  }, []);

  const act = async (channel: 'workspace.create' | 'workspace.open', path?: string) => {
    try {
      await invoke(channel, path ? { path } : {});
    } catch (err) {
      report(err);
    }
  };
  const chooseAndAct = async (purpose: 'create' | 'open') => {
    const folder = await pickFolder(purpose);
    if (folder) await act(purpose === 'create' ? 'workspace.create' : 'workspace.open', folder);
  };

  return (
    <Stack spacing={2} sx={{ maxWidth: 900 }}>
      <Typography variant="h5" component="h2">
        Welcome to Ocular
      </Typography>
      <Typography color="text.secondary">
        A workspace is a folder holding Ocular's experiment store (workspace.sqlite) and its large artifacts (blobs/). Create one for a new
        project or open one a lab member shared.
      </Typography>
      {info.workspaceError && (
        <Alert severity="warning" data-testid="workspace-error">
          {info.workspaceError}
        </Alert>
      )}
      {info.pinnedWorkspace ? (
        <Card variant="outlined">
          <CardContent>
            <Typography sx={{ mb: 2 }}>
              This server is set to the folder <code>{info.pinnedWorkspace}</code>.
            </Typography>
            <Stack direction="row" spacing={2}>
              <Editable>
                <Button variant="contained" onClick={() => act('workspace.create')}>
                  Create workspace
                </Button>
              </Editable>
              <Button variant="outlined" onClick={() => act('workspace.open')}>
                Open
              </Button>
            </Stack>
          </CardContent>
        </Card>
      ) : isDesktop ? (
        <Stack direction="row" spacing={2}>
          <Button variant="contained" onClick={() => chooseAndAct('create')}>
            Create workspace…
          </Button>
          <Button variant="outlined" onClick={() => chooseAndAct('open')}>
            Open workspace…
          </Button>
        </Stack>
      ) : (
        <Stack direction="row" spacing={2} alignItems="center">
          <TextField
            size="small"
            label="Workspace folder"
            value={typedPath}
            onChange={(e) => setTypedPath(e.target.value)}
            sx={{ flexGrow: 1 }}
          />
          <Editable>
            <Button variant="contained" disabled={!typedPath} onClick={() => act('workspace.create', typedPath)}>
              Create
            </Button>
          </Editable>
          <Button variant="outlined" disabled={!typedPath} onClick={() => act('workspace.open', typedPath)}>
            Open
          </Button>
        </Stack>
      )}
      {recent.length > 0 && !info.pinnedWorkspace && (
        <Box>
          <Typography variant="subtitle1">Recent workspaces</Typography>
          <List dense>
            {recent.map((r) => (
              <ListItemButton key={r.path} onClick={() => act('workspace.open', r.path)}>
                <ListItemText primary={r.path} secondary={`opened ${new Date(r.openedAt).toLocaleString()}`} />
              </ListItemButton>
            ))}
          </List>
        </Box>
      )}
    </Stack>
  );
}
