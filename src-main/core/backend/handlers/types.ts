import type { Channel, ParsedRequestOf, ResponseOf } from '../../../contract/contract.js';
import type { SessionPool } from '../../runtime/session-pool.js';
import type { BackendOptions } from '../backend.js';
import type { OpenWorkspace } from '../open-workspace.js';

export type Handler<C extends Channel> = (req: ParsedRequestOf<C>) => Promise<ResponseOf<C>> | ResponseOf<C>;
export type Handlers = { [C in Channel]: Handler<C> };

/** What handlers may use of the backend: its options, the open workspace, the pool, change events. */
export interface HandlerContext {
  options: BackendOptions;
  /** The open workspace, or a clear error when none is. */
  open(): OpenWorkspace;
  /** The session pool if it has been started. */
  startedPool(): SessionPool | null;
  sessionPool(): SessionPool;
  /** Tell every renderer the workspace's contents changed (counts, lists). */
  changed(): void;
}
