import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAgentArgs } from './flags.js';
import { kubeProxyConfigArgv, kubeProxyConfigText } from './kube-proxy-config.js';

const detect = () => ['192.168.7.2'];
const head = 'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n';

describe('KubeProxyConfiguration for svcnet-agent', () => {
  const cases: { name: string; yaml: string; argv: string[] }[] = [
    { name: 'an empty configuration sets nothing', yaml: head, argv: [] },
    {
      name: 'the top-level fields',
      yaml: `${head}mode: nftables\nclusterCIDR: 10.244.0.0/16\nhostnameOverride: node7\nhealthzBindAddress: 0.0.0.0:10256\nmetricsBindAddress: 127.0.0.1:10249\nnodePortAddresses: [192.168.0.0/16, 10.0.0.0/8]\n`,
      argv: ['--proxy-mode=nftables', '--cluster-cidr=10.244.0.0/16', '--node-name=node7', '--healthz-bind-address=0.0.0.0:10256', '--metrics-bind-address=127.0.0.1:10249', '--nodeport-addresses=192.168.0.0/16,10.0.0.0/8'],
    },
    {
      name: 'the sync periods of the mode in use only',
      yaml: `${head}mode: ipvs\niptables:\n  syncPeriod: 1m\n  masqueradeAll: true\nipvs:\n  syncPeriod: 45s\n  minSyncPeriod: 2s\n  scheduler: lc\n  strictARP: true\n`,
      argv: ['--proxy-mode=ipvs', '--masquerade-all', '--sync-period=45s', '--min-sync-period=2s', '--ipvs-scheduler=lc', '--ipvs-strict-arp'],
    },
    {
      name: 'iptables.localhostNodePorts (kube-proxy default true) as --iptables-localhost-nodeports',
      yaml: `${head}iptables:\n  localhostNodePorts: false\n`,
      argv: ['--iptables-localhost-nodeports=false'],
    },
  ];
  for (const c of cases) it(c.name, () => expect(kubeProxyConfigArgv('kp.yaml', c.yaml)).toEqual(c.argv));

  const refused: { name: string; yaml: string; message: RegExp }[] = [
    { name: 'another kind', yaml: 'apiVersion: v1\nkind: ConfigMap\n', message: /apiVersion\/kind must be kubeproxy\.config\.k8s\.io\/v1alpha1\/KubeProxyConfiguration/ },
    { name: 'a field svcnet-agent does not support', yaml: `${head}conntrack:\n  maxPerCore: 32768\n`, message: /conntrack is a KubeProxyConfiguration field svcnet-agent does not support/ },
    { name: 'an unsupported field of a mode', yaml: `${head}ipvs:\n  tcpTimeout: 0s\n`, message: /ipvs\.tcpTimeout is not supported by svcnet-agent \(supported in ipvs: scheduler, strictARP/ },
    { name: 'a field kube-proxy does not have', yaml: `${head}modee: iptables\n`, message: /unknown field "modee"/ },
    { name: 'a value of the wrong type', yaml: `${head}iptables:\n  masqueradeAll: "yes"\n`, message: /iptables\.masqueradeAll must be true or false/ },
  ];
  for (const c of refused) it(`refuses ${c.name}`, () => expect(() => kubeProxyConfigArgv('kp.yaml', c.yaml)).toThrow(c.message));

  it('flags override the file, and the effective configuration reads back to the same options', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kp-'));
    writeFileSync(`${dir}/kp.yaml`, `${head}mode: nftables\nclusterCIDR: 10.244.0.0/16\nnftables:\n  syncPeriod: 10s\n`);
    const o = parseAgentArgs(['--config', `${dir}/kp.yaml`, '--sync-period', '20s', '--node-name', 'n1'], detect, {});
    expect(o).toMatchObject({ proxyMode: 'nftables', clusterCIDR: '10.244.0.0/16', syncPeriodMs: 20_000 });
    writeFileSync(`${dir}/effective.yaml`, kubeProxyConfigText(o));
    const again = parseAgentArgs(['--config', `${dir}/effective.yaml`, '--node-ip', '192.168.7.2'], detect, {});
    expect({ ...again, nats: undefined }).toEqual({ ...o, nats: undefined });
  });
});
