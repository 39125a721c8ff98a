/**
 * `nft list table` text, comparable across histories: blocks sorted by name,
 * map/set elements sorted (their listing order follows insertion) with their
 * packet counters left out, affinity sets without their elements (those
 * carry expiry times).
 */
export function normalizeListing(text: string): string[] {
  const blocks = [...text.matchAll(/^\t(chain|map|set) (\S+) \{\n([\s\S]*?)^\t\}/gm)];
  return blocks
    .map(([, kind, name, body]) => {
      const elements = /elements = \{([\s\S]*?)\}\n/.exec(body!);
      const rest = body!.replace(/\s*elements = \{[\s\S]*?\}\n/, '\n').trim();
      const sorted =
        elements && !name!.startsWith('aff-')
          ? elements[1]!
              .split(',\n')
              .map((e) => e.trim().replace(/ counter packets \d+ bytes \d+/, ''))
              .sort()
          : [];
      return `${kind} ${name}\n${rest}\n${sorted.join('\n')}`;
    })
    .sort();
}
