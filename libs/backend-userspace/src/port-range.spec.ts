import { SvcnetError } from '@svcnet/model';
import { describe, expect, it } from 'vitest';
import { parseProxyPortRange } from './port-range.js';

describe('parseProxyPortRange', () => {
  const ok = [
    { name: 'undefined = ephemeral', value: undefined, want: undefined },
    { name: 'empty = ephemeral', value: '', want: undefined },
    { name: '"0" = ephemeral', value: '0', want: undefined },
    { name: '"0-0" = ephemeral', value: '0-0', want: undefined },
    { name: 'dash range', value: '30000-30100', want: { min: 30000, max: 30100 } },
    { name: 'plus range (kube-proxy style)', value: '40000+9', want: { min: 40000, max: 40009 } },
    { name: 'single port', value: '45000', want: { min: 45000, max: 45000 } },
    { name: 'object form', value: { min: 1, max: 2 }, want: { min: 1, max: 2 } },
  ];
  for (const c of ok) {
    it(c.name, () => expect(parseProxyPortRange(c.value)).toEqual(c.want));
  }

  const bad = [
    { name: 'reversed', value: '200-100' },
    { name: 'too large', value: '65000-70000' },
    { name: 'garbage', value: 'abc' },
    { name: 'negative-looking', value: '-5' },
    { name: 'object out of range', value: { min: 0, max: 10 } },
  ];
  for (const c of bad) {
    it(`rejects ${c.name}`, () => {
      const err = (() => {
        try {
          parseProxyPortRange(c.value);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(err).toBeInstanceOf(SvcnetError);
      expect((err as SvcnetError).field).toBe('proxyPortRange');
    });
  }
});
