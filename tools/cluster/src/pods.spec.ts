import { describe, expect, it } from 'vitest';
import { parseLabels, parsePortSpec } from './pods.js';

describe('parsePortSpec', () => {
  const cases = [
    { name: 'bare port is TCP', spec: '8080', want: { port: 8080, protocol: 'TCP' } },
    { name: 'named port', spec: 'http:80', want: { name: 'http', port: 80, protocol: 'TCP' } },
    { name: 'UDP, case-insensitive', spec: 'dns:53/udp', want: { name: 'dns', port: 53, protocol: 'UDP' } },
    { name: 'SCTP', spec: '9/SCTP', want: { port: 9, protocol: 'SCTP' } },
  ];
  it.each(cases)('$name', ({ spec, want }) => {
    expect(parsePortSpec(spec)).toEqual(want);
  });
  const bad = ['0', '65536', 'http:', 'x:80/icmp', 'a b:80', ''];
  it.each(bad)('refuses %j', (spec) => {
    expect(() => parsePortSpec(spec)).toThrow(/bad --port/);
  });
});

describe('parseLabels', () => {
  const cases = [
    { name: 'empty', text: '', want: {} },
    { name: 'two labels with spaces', text: 'app=web, tier=front', want: { app: 'web', tier: 'front' } },
    { name: 'empty value', text: 'flag=', want: { flag: '' } },
  ];
  it.each(cases)('$name', ({ text, want }) => {
    expect(parseLabels(text)).toEqual(want);
  });
  it('refuses a label without =', () => {
    expect(() => parseLabels('app')).toThrow(/key=value/);
  });
});
