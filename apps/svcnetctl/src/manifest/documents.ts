/**
 * Multi-document YAML (or JSON) files as `kubectl apply -f` reads them:
 * `---`-separated documents, empty documents skipped, `kind: List` unpacked.
 */
import { parseAllDocuments } from 'yaml';
import { ManifestError } from './from-manifest.js';

/** Parses a manifest file's text into its documents (plain JSON-like values). */
export function parseManifestDocuments(text: string): unknown[] {
  const docs: unknown[] = [];
  for (const doc of parseAllDocuments(text)) {
    const problem = doc.errors[0];
    if (problem) throw new ManifestError(`invalid YAML: ${problem.message}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    const asObject = value as { kind?: unknown; items?: unknown };
    if (typeof value === 'object' && asObject.kind === 'List' && Array.isArray(asObject.items)) {
      docs.push(...(asObject.items as unknown[]));
    } else {
      docs.push(value);
    }
  }
  return docs;
}
