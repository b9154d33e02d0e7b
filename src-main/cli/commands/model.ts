import { formatReport, inspectModel } from '../../core/model/inspect.js';
import { UsageError, type CommandSpec } from '../args.js';

export const modelCommand: CommandSpec = {
  name: 'model',
  summary:
    'Inspect an ONNX model folder (onnx-community layout) or graph file: towers, layer counts, widths,\n' +
    'TransformerLens-style taps, inputs/outputs, ops and dtype variants. Reads graphs only, never weights.',
  usage: 'ocular model inspect PATH [--json]',
  options: { json: { type: 'boolean' } },
  help: ['    --json            print the full report as JSON (every tap listed)'],
  async run(values, positionals) {
    const [action, target] = positionals;
    if (action !== 'inspect' || !target) throw new UsageError('Usage: ocular model inspect PATH [--json]');
    const report = inspectModel(target);
    console.log(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
    return report.problems.length > 0 ? 1 : 0;
  },
};
