/**
 * Reads the `-f` arguments of `apply` and `delete`: files, directories and
 * `-`, every document turned into an object before anything is sent, so a
 * typo in the third document does not leave the first two half-applied.
 */
import { CliError } from '../cli-errors.js';
import { ManifestError, objectFromManifest, type ManifestObject } from '../manifest/from-manifest.js';
import { parseManifestDocuments } from '../manifest/documents.js';
import type { CommandContext } from './context.js';

export interface SourcedObject {
  /** The file it came from, for messages (`error when creating "x.yaml"`). */
  source: string;
  item: ManifestObject;
}

export async function loadManifests(ctx: CommandContext, paths: readonly string[]): Promise<SourcedObject[]> {
  if (paths.length === 0) throw new CliError('must specify -f');
  const objects: SourcedObject[] = [];
  for (const path of paths) {
    const files = path === '-' ? ['-'] : await ctx.io.expandPath(path);
    for (const file of files) {
      const source = file === '-' ? 'STDIN' : file;
      let docs: unknown[];
      try {
        docs = parseManifestDocuments(await ctx.io.readFile(file));
      } catch (err) {
        if (err instanceof ManifestError) throw new CliError(`error parsing ${source}: ${err.message}`);
        throw new CliError(`the path "${file}" cannot be read: ${(err as Error).message}`);
      }
      for (const doc of docs) {
        let item: ManifestObject;
        try {
          item = objectFromManifest(doc, ctx.namespace);
        } catch (err) {
          if (err instanceof ManifestError) throw new CliError(`error validating "${source}": ${err.message}`);
          throw err;
        }
        const ns = item.object.metadata.namespace;
        if (ctx.namespaceExplicit && ns !== ctx.namespace) {
          throw new CliError(
            `the namespace from the provided object "${ns}" does not match the namespace "${ctx.namespace}". You must pass '--namespace=${ns}' to perform this operation.`,
          );
        }
        objects.push({ source, item });
      }
    }
  }
  if (objects.length === 0) throw new CliError('no objects passed to apply');
  return objects;
}
