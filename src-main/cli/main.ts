/**
 * `ocular` command line. Runs under plain Node over the same backend the desktop app uses.
 * Each command is a CommandSpec; `ocular COMMAND --help` prints its usage.
 */
import { VERSION } from '../core/version.js';
import { OcularError } from '../core/errors.js';
import { faultMessage } from '../core/util/faults.js';
import { installUncaughtHandlers } from './uncaught.js';
import { helpText, parseCommand, UsageError, type CommandSpec } from './args.js';
import { analyzeCommand } from './commands/analyze.js';
import { circuitCommand } from './commands/circuit.js';
import { datasetCommand } from './commands/dataset.js';
import { demoCommand } from './commands/demo.js';
import { evalCommand } from './commands/eval.js';
import { experimentCommand } from './commands/experiment.js';
import { explainCommand } from './commands/explain.js';
import { maskCommand } from './commands/mask.js';
import { diffCommand } from './commands/diff.js';
import { exportCommand } from './commands/export.js';
import { harvestCommand } from './commands/harvest.js';
import { jobsCommand } from './commands/jobs.js';
import { modelCommand } from './commands/model.js';
import { saeCommand } from './commands/sae.js';
import { serveCommand } from './commands/serve.js';
import { trainCommand } from './commands/train.js';
import { selftestCommand, workspaceCommand } from './commands/workspace.js';

const COMMANDS: CommandSpec[] = [
  serveCommand,
  demoCommand,
  workspaceCommand,
  selftestCommand,
  modelCommand,
  datasetCommand,
  evalCommand,
  harvestCommand,
  trainCommand,
  saeCommand,
  circuitCommand,
  analyzeCommand,
  experimentCommand,
  explainCommand,
  maskCommand,
  diffCommand,
  exportCommand,
  jobsCommand,
];

function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  return [
    `ocular ${VERSION} — sparse-autoencoder interpretability lab for vision-language models`,
    '',
    'Usage: ocular <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary.split('\n')[0]}`),
    '',
    "Run `ocular <command> --help` for a command's options. `npm start` opens the desktop app.",
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(mainHelp());
    return name ? 0 : 1;
  }
  if (name === '--version' || name === '-v') {
    console.log(VERSION);
    return 0;
  }
  const spec = COMMANDS.find((c) => c.name === name);
  if (!spec) {
    console.error(`Unknown command '${name}'.\n\n${mainHelp()}`);
    return 2;
  }
  try {
    const { values, positionals, help } = parseCommand(spec, rest);
    if (help) {
      console.log(helpText(spec));
      return 0;
    }
    return await spec.run(values, positionals);
  } catch (err) {
    if (err instanceof UsageError || err instanceof OcularError) {
      console.error(`ocular ${name}: ${err.message}`);
      return 2;
    }
    const fault = faultMessage(err);
    if (fault) {
      console.error(`ocular ${name}: ${fault}`);
      return 1;
    }
    console.error(`ocular ${name} failed:`, err);
    return 1;
  }
}

installUncaughtHandlers();

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(err);
    process.exitCode = 1;
  },
);
