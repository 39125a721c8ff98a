// Shared by this lib's unit tests: proxy-core's test node and desired state from model objects.
export { TEST_NODE as NODE, proxyStateOf as stateOf } from '@svcnet/proxy-core/testing';

/** Sorted, non-empty lines: golden comparisons ignore order. */
export function sortedLines(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => l !== '')
    .sort();
}
