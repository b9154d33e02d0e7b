import type { AppInfo } from '@contract/contract';
import { Box, Stack, Typography } from '@mui/material';
import { DiffPanel } from '../components/studies/DiffPanel';
import { ExplainPanel } from '../components/studies/ExplainPanel';
import { FilterPanel } from '../components/studies/FilterPanel';
import { MaskPanel } from '../components/studies/MaskPanel';
import { TabBar } from '../components/TabBar';
import { usePersistentState } from '../lib/persist';

type Study = 'explain' | 'filter' | 'mask' | 'diff';
const TABS: Array<[Study, string]> = [
  ['explain', 'Explain'],
  ['filter', 'Data filter'],
  ['mask', 'Patch masking'],
  ['diff', 'Model diff'],
];

/** The seeds' studies over an analysed SAE: auto-interpretation, SAE-V filtering and masking, model diffing. */
export function StudiesPage({ info }: { info: AppInfo }) {
  const [tab, setTab] = usePersistentState<Study>('studies.tab', 'explain');
  return (
    <Stack spacing={2}>
      <Typography variant="h5" component="h2">
        Studies
      </Typography>
      <TabBar tabs={TABS} value={tab} onChange={setTab} label="Studies" />
      <Box role="tabpanel" aria-labelledby={`tab-${tab}`}>
        {tab === 'explain' && <ExplainPanel info={info} />}
        {tab === 'filter' && <FilterPanel info={info} />}
        {tab === 'mask' && <MaskPanel info={info} />}
        {tab === 'diff' && <DiffPanel info={info} />}
      </Box>
    </Stack>
  );
}
