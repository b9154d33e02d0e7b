import type { AppInfo } from '@contract/contract';
import { Box, Button, Stack, Typography } from '@mui/material';
import { invoke } from '../api/client';
import { useReportError } from '../hooks/useErrorReporter';
import { download } from '../lib/download';
import { ComparePanel } from '../components/studies/ComparePanel';
import { DiffPanel } from '../components/studies/DiffPanel';
import { ExplainPanel } from '../components/studies/ExplainPanel';
import { FilterPanel } from '../components/studies/FilterPanel';
import { MaskPanel } from '../components/studies/MaskPanel';
import { TabBar } from '../components/TabBar';
import { usePersistentState } from '../lib/persist';

type Study = 'explain' | 'filter' | 'compare' | 'mask' | 'diff';
const TABS: Array<[Study, string]> = [
  ['explain', 'Explain'],
  ['filter', 'Data filter'],
  ['compare', 'Filter vs random'],
  ['mask', 'Patch masking'],
  ['diff', 'Model diff'],
];

/** The seeds' studies over an analysed SAE: auto-interpretation, SAE-V filtering (and its comparison) and masking, model diffing. */
export function StudiesPage({ info }: { info: AppInfo }) {
  const [tab, setTab] = usePersistentState<Study>('studies.tab', 'explain');
  const report = useReportError();
  const exportReport = () => invoke('studies.export', {}).then((x) => download(x.filename, x.content, 'text/html'), report);
  return (
    <Stack spacing={2}>
      <Stack direction="row" sx={{ alignItems: 'center' }}>
        <Typography variant="h5" component="h2" sx={{ flexGrow: 1 }}>
          Studies
        </Typography>
        <Button variant="outlined" onClick={exportReport}>
          HTML report
        </Button>
      </Stack>
      <TabBar tabs={TABS} value={tab} onChange={setTab} label="Studies" />
      <Box role="tabpanel" aria-labelledby={`tab-${tab}`}>
        {tab === 'explain' && <ExplainPanel info={info} />}
        {tab === 'filter' && <FilterPanel info={info} />}
        {tab === 'compare' && <ComparePanel info={info} />}
        {tab === 'mask' && <MaskPanel info={info} />}
        {tab === 'diff' && <DiffPanel info={info} />}
      </Box>
    </Stack>
  );
}
