/**
 * ONNX Runtime options of every pool session (session-host.ts), owned here so benchmarks give their
 * references exactly the same. ONNX Runtime's intra-op workers spin on the CPU after each run,
 * waiting for the next one; Ocular shares the CPU between its pool processes, the backend and the
 * UI, so a spinning worker holds a core one of them needs, and on a busy machine a worker that is
 * descheduled stalls every parallel operator it takes part in. Measured on the tiny VLM decoders on
 * a loaded 2-core machine: a decoding step's median time drops by about a third without spinning
 * (bench/generation-loop.ts runs both sides with these options). Thread counts stay ONNX Runtime's
 * default (one intra-op thread per physical core), as do graph optimisation (all) and execution
 * mode (sequential).
 */
export const SESSION_OPTIONS = {
  extra: { session: { 'intra_op.allow_spinning': '0', 'inter_op.allow_spinning': '0' } },
} as const;
