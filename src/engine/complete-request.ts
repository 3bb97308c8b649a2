// The completion request the engine takes: the IPC request's fields, plus what the CLI sets.
import type { ContextPayload, Policy, PrefillMode, Sampling } from '../shared/protocol';

/** A completion request as the engine takes it (the IPC request's fields, plus what the CLI sets). */
export interface CompleteRequest {
  context: ContextPayload;
  policy?: Policy;
  budget?: number;
  maxNewTokens?: number;
  multiline?: boolean;
  sampling?: Sampling;
  prefill?: PrefillMode;
  predictionInterval?: number;
  /** the caller shows the chosen context: tokenbutler selects below the crossover too (default off) */
  chosen?: boolean;
  /** monitor-guided decoding (default: the configuration's `monitors`, on) */
  monitors?: boolean;
  /** names from the editor's completion provider at the cursor (languages the engine has no service for) */
  editorNames?: string[];
}
