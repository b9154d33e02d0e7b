import {
  Alert,
  AppBar,
  Box,
  Chip,
  CircularProgress,
  Drawer,
  List,
  ListItemButton,
  ListItemText,
  Toolbar,
  Tooltip,
  Typography,
} from '@mui/material';
import { lazy, Suspense, useEffect, useMemo, type ComponentType } from 'react';
import type { AppInfo } from '@contract/contract';
import { isDesktop } from './api/client';
import { READ_ONLY_REASON, ReadOnlyContext } from './components/Editable';
import { ErrorReporterProvider } from './hooks/useErrorReporter';
import { useAppInfo } from './hooks/useAppInfo';
import { useLeftWorkspace } from './hooks/useLeftWorkspace';
import { formatRoute, navigate, parseRoute, useRoute, type PageId } from './lib/router';

const NAV_WIDTH = 184;
type PageProps = { info: AppInfo };
/** Each page is its own chunk, fetched when first shown: the first paint needs only the shell and one page. */
const initialPage = parseRoute(typeof location === 'undefined' ? '' : location.hash).page;
const page = (id: PageId, load: () => Promise<Record<string, ComponentType<PageProps>>>, name: string) => {
  // The page a link opens is fetched at once, alongside app info, not after it.
  const early = id === initialPage ? load() : null;
  return lazy(() => (early ?? load()).then((m) => ({ default: m[name]! })));
};
const PAGES: Array<{ id: PageId; title: string; needsWorkspace: boolean; component: ComponentType<PageProps> }> = [
  {
    id: 'workspace',
    title: 'Workspace',
    needsWorkspace: false,
    component: page('workspace', () => import('./pages/WorkspacePage'), 'WorkspacePage'),
  },
  { id: 'models', title: 'Models', needsWorkspace: true, component: page('models', () => import('./pages/ModelsPage'), 'ModelsPage') },
  {
    id: 'evaluate',
    title: 'Evaluate',
    needsWorkspace: true,
    component: page('evaluate', () => import('./pages/EvaluatePage'), 'EvaluatePage'),
  },
  {
    id: 'activations',
    title: 'Activations',
    needsWorkspace: true,
    component: page('activations', () => import('./pages/ActivationsPage'), 'ActivationsPage'),
  },
  { id: 'saes', title: 'SAEs', needsWorkspace: true, component: page('saes', () => import('./pages/SaesPage'), 'SaesPage') },
  {
    id: 'features',
    title: 'Features',
    needsWorkspace: true,
    component: page('features', () => import('./pages/FeaturesPage'), 'FeaturesPage'),
  },
  {
    id: 'playground',
    title: 'Playground',
    needsWorkspace: true,
    component: page('playground', () => import('./pages/PlaygroundPage'), 'PlaygroundPage'),
  },
  {
    id: 'experiments',
    title: 'Experiments',
    needsWorkspace: true,
    component: page('experiments', () => import('./pages/ExperimentsPage'), 'ExperimentsPage'),
  },
  {
    id: 'circuits',
    title: 'Circuits',
    needsWorkspace: true,
    component: page('circuits', () => import('./pages/CircuitsPage'), 'CircuitsPage'),
  },
  {
    id: 'studies',
    title: 'Studies',
    needsWorkspace: true,
    component: page('studies', () => import('./pages/StudiesPage'), 'StudiesPage'),
  },
  { id: 'jobs', title: 'Jobs', needsWorkspace: true, component: page('jobs', () => import('./pages/JobsPage'), 'JobsPage') },
  {
    id: 'settings',
    title: 'Settings',
    needsWorkspace: false,
    component: page('settings', () => import('./pages/SettingsPage'), 'SettingsPage'),
  },
];

export function App() {
  const { info: served, error } = useAppInfo();
  const route = useRoute();
  // In a browser, "Close workspace" leaves it in this browser only; others keep it open (useLeftWorkspace).
  const { left } = useLeftWorkspace(served?.workspace?.path ?? null);
  const info: AppInfo | null = useMemo(() => (served && left && !isDesktop ? { ...served, workspace: null } : served), [served, left]);
  const workspace = info?.workspace ?? null;
  const current = PAGES.find((p) => p.id === route.page)!;
  const shown = current.needsWorkspace && !workspace ? PAGES[0]! : current;
  useEffect(() => {
    document.title = `${shown.title} · Ocular`;
  }, [shown.title]);
  useEffect(() => {
    // A deep link into a page that needs a workspace waits for app info before falling back.
    if (info && current.needsWorkspace && !workspace) navigate('workspace', [], { replace: true });
  }, [info, current.needsWorkspace, workspace]);

  return (
    <ReadOnlyContext.Provider value={info?.readOnly ?? false}>
      <ErrorReporterProvider>
        <Box sx={{ display: 'flex', minHeight: '100vh' }}>
          <AppBar position="fixed" sx={{ zIndex: (t) => t.zIndex.drawer + 1 }}>
            <Toolbar variant="dense" sx={{ gap: 2 }}>
              <Typography variant="h6" component="h1">
                Ocular
              </Typography>
              <Typography variant="body2" sx={{ flexGrow: 1, minWidth: 0 }} noWrap data-testid="workspace-path">
                {workspace ? workspace.path : 'No workspace open'}
              </Typography>
              {info?.readOnly && (
                <Tooltip title={READ_ONLY_REASON}>
                  <Chip
                    label="read-only"
                    size="small"
                    sx={{ bgcolor: '#fff', color: '#5d4037', fontWeight: 600 }}
                    data-testid="read-only-chip"
                  />
                </Tooltip>
              )}
              {info && <Typography variant="caption">v{info.version}</Typography>}
            </Toolbar>
          </AppBar>
          <Drawer
            variant="permanent"
            sx={{ width: NAV_WIDTH, flexShrink: 0, [`& .MuiDrawer-paper`]: { width: NAV_WIDTH, boxSizing: 'border-box' } }}
          >
            <Toolbar variant="dense" />
            <List component="nav" aria-label="Sections">
              {PAGES.map((p) => (
                <ListItemButton
                  key={p.id}
                  component="a"
                  href={formatRoute({ page: p.id, ids: [] })}
                  selected={shown.id === p.id}
                  aria-current={shown.id === p.id ? 'page' : undefined}
                  disabled={p.needsWorkspace && !workspace}
                  onClick={(e: React.MouseEvent) => {
                    if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
                    e.preventDefault();
                    navigate(p.id);
                  }}
                >
                  <ListItemText primary={p.title} />
                </ListItemButton>
              ))}
            </List>
          </Drawer>
          <Box component="main" sx={{ flexGrow: 1, p: 2, minWidth: 0 }}>
            <Toolbar variant="dense" />
            {error && <Alert severity="error">{error}</Alert>}
            {!info && !error && <CircularProgress aria-label="Loading" />}
            {info && (
              <Suspense fallback={<CircularProgress aria-label="Loading the page" />}>
                <shown.component info={info} />
              </Suspense>
            )}
          </Box>
        </Box>
      </ErrorReporterProvider>
    </ReadOnlyContext.Provider>
  );
}
