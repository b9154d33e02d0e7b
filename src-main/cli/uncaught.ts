import { errorMessage } from '../core/errors.js';
import { faultMessage } from '../core/util/faults.js';

/**
 * The last line of defence: an exception nothing caught (an event handler, a stream) must not end
 * the process with a stack trace. A server (`ocular serve`, see keepServingOnUncaught) logs it and
 * keeps serving; any other command prints one line and exits 1.
 */
let keepServing = false;
export function keepServingOnUncaught(): void {
  keepServing = true;
}
function onUncaught(err: unknown): void {
  const line = faultMessage(err) ?? errorMessage(err).split('\n')[0];
  if (keepServing) {
    console.error(`ocular serve: ${line} (kept serving)`);
    return;
  }
  console.error(`ocular ${process.argv[2] ?? ''}: ${line}`);
  process.exit(1);
}
export function installUncaughtHandlers(): void {
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
}
