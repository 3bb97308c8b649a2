// Pure logic of the inline completion provider (no vscode import): when to ask, how long to wait,
// what to reuse, single or multi-line.
export { AdaptiveDebouncer, triggerContextOf, MIN_DELAY_MS, MAX_DELAY_MS, type Clock, type DebounceOptions, type TriggerContext } from './debounce';
export { TypingAsSuggested, type ShownSuggestion } from './typing-as-suggested';
export { CompletionCache, LruCache, completionKey } from './lru-cache';
export { shouldComplete, whyNotComplete, MAX_CHARS_RIGHT_OF_CURSOR, type CompletionTrigger, type NoCompletionReason } from './should-complete';
export { decideMultiline, inLineComment } from './multiline';
