/**
 * The experiment designer's form, kept across navigation (lib/persist.ts), and the way other pages
 * hand it a starting point: "Save as experiment" on a steering result fills it in and opens it.
 */
import { writePersisted } from './persist';

export type SetMode = 'selective' | 'features' | 'search';
export interface SetForm {
  name: string;
  mode: SetMode;
  value: string;
  top: string;
}
export interface ExperimentForm {
  name: string;
  modelId: number | '';
  analysisId: number | '';
  datasetId: number | '';
  tasks: string[];
  limit: string;
  op: 'zero' | 'mean' | 'scale' | 'clamp' | 'add';
  values: string;
  where: 'all' | 'image' | 'text' | 'generated';
  /** Vision-tower SAEs: edit every patch or only where the set's features fire (absent in forms saved before). */
  patches?: 'all' | 'firing';
  randomSets: string;
  randomDirections: boolean;
  union: boolean;
  sets: SetForm[];
}

export const EXPERIMENT_FORM_KEY = 'experiment.designer';

export const defaultExperimentForm = (): ExperimentForm => ({
  name: 'ablation',
  modelId: '',
  analysisId: '',
  datasetId: '',
  tasks: [],
  limit: '',
  op: 'zero',
  values: '0, 0.5, 2',
  where: 'all',
  patches: 'all',
  randomSets: '2',
  randomDirections: true,
  union: true,
  sets: [
    { name: 'set A', mode: 'selective', value: '', top: '20' },
    { name: 'set B', mode: 'selective', value: '', top: '20' },
  ],
});

export function prefillExperiment(form: Partial<ExperimentForm>): void {
  writePersisted(EXPERIMENT_FORM_KEY, { ...defaultExperimentForm(), ...form });
}
