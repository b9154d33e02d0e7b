import { AppBar, Box, Chip, CircularProgress, Drawer, List, ListItemButton, ListItemText, Toolbar, Typography, Alert } from '@mui/material';
import { useState } from 'react';
import { ErrorReporterProvider } from './hooks/useErrorReporter';
import { useAppInfo } from './hooks/useAppInfo';
import { ActivationsPage } from './pages/ActivationsPage';
import { EvaluatePage } from './pages/EvaluatePage';
import { ExperimentsPage } from './pages/ExperimentsPage';
import { FeaturesPage } from './pages/FeaturesPage';
import { JobsPage } from './pages/JobsPage';
import { ModelsPage } from './pages/ModelsPage';
import { SaesPage } from './pages/SaesPage';
import { SettingsPage } from './pages/SettingsPage';
import { WorkspacePage } from './pages/WorkspacePage';

const NAV_WIDTH = 200;
type PageId = 'workspace' | 'models' | 'evaluate' | 'activations' | 'saes' | 'features' | 'experiments' | 'jobs' | 'settings';
const PAGES: Array<{ id: PageId; title: string; needsWorkspace: boolean }> = [
  { id: 'workspace', title: 'Workspace', needsWorkspace: false },
  { id: 'models', title: 'Models', needsWorkspace: true },
  { id: 'evaluate', title: 'Evaluate', needsWorkspace: true },
  { id: 'activations', title: 'Activations', needsWorkspace: true },
  { id: 'saes', title: 'SAEs', needsWorkspace: true },
  { id: 'features', title: 'Features', needsWorkspace: true },
  { id: 'experiments', title: 'Experiments', needsWorkspace: true },
  { id: 'jobs', title: 'Jobs', needsWorkspace: true },
  { id: 'settings', title: 'Settings', needsWorkspace: false },
];

export function App() {
  const { info, error, refresh } = useAppInfo();
  const [page, setPage] = useState<PageId>('workspace');
  const workspace = info?.workspace ?? null;

  return (
    <ErrorReporterProvider>
      <Box sx={{ display: 'flex', minHeight: '100vh' }}>
        <AppBar position="fixed" sx={{ zIndex: (t) => t.zIndex.drawer + 1 }}>
          <Toolbar variant="dense" sx={{ gap: 2 }}>
            <Typography variant="h6" component="h1">
              Ocular
            </Typography>
            <Typography variant="body2" sx={{ opacity: 0.85, flexGrow: 1 }} noWrap data-testid="workspace-path">
              {workspace ? workspace.path : 'No workspace open'}
            </Typography>
            {info?.readOnly && <Chip label="read-only" size="small" color="warning" data-testid="read-only-chip" />}
            {info && <Typography variant="caption">v{info.version}</Typography>}
          </Toolbar>
        </AppBar>
        <Drawer variant="permanent" sx={{ width: NAV_WIDTH, [`& .MuiDrawer-paper`]: { width: NAV_WIDTH, boxSizing: 'border-box' } }}>
          <Toolbar variant="dense" />
          <List component="nav" aria-label="Sections">
            {PAGES.map((p) => (
              <ListItemButton key={p.id} selected={page === p.id} disabled={p.needsWorkspace && !workspace} onClick={() => setPage(p.id)}>
                <ListItemText primary={p.title} />
              </ListItemButton>
            ))}
          </List>
        </Drawer>
        <Box component="main" sx={{ flexGrow: 1, p: 3, minWidth: 0 }}>
          <Toolbar variant="dense" />
          {error && <Alert severity="error">{error}</Alert>}
          {!info && !error && <CircularProgress aria-label="Loading" />}
          {info && page === 'workspace' && (
            <WorkspacePage info={info} refresh={refresh} onShowJobs={() => setPage('jobs')} onShowEvaluate={() => setPage('evaluate')} />
          )}
          {info && page === 'models' && workspace && <ModelsPage info={info} />}
          {info && page === 'evaluate' && workspace && <EvaluatePage info={info} />}
          {info && page === 'activations' && workspace && <ActivationsPage info={info} />}
          {info && page === 'saes' && workspace && <SaesPage info={info} />}
          {info && page === 'features' && workspace && <FeaturesPage info={info} />}
          {info && page === 'experiments' && workspace && <ExperimentsPage info={info} />}
          {info && page === 'jobs' && workspace && <JobsPage info={info} />}
          {info && page === 'settings' && <SettingsPage info={info} />}
        </Box>
      </Box>
    </ErrorReporterProvider>
  );
}
