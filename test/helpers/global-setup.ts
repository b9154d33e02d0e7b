import { execFileSync } from 'node:child_process';

/** Tests run the bundled job worker and CLI, so make sure they match the sources under test. */
export default function setup(): void {
  execFileSync(process.execPath, ['scripts/build-node.mjs'], { stdio: 'inherit' });
}
