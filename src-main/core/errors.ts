import type { ContractErrorCode } from '../contract/contract.js';

/**
 * An error whose message is meant for the person using Ocular: it names the problem and, where
 * possible, what to do. Transports pass `code` and `message` through unchanged.
 */
export class OcularError extends Error {
  constructor(
    readonly code: ContractErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'OcularError';
  }
}

export class WorkspaceError extends OcularError {
  constructor(message: string) {
    super('workspace', message);
    this.name = 'WorkspaceError';
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
