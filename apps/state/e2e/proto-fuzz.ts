// Random protobuf messages for the gRPC fuzz test, generated from the API's own
// descriptor set (so every RPC of proto/svcnet/v1 is covered without a
// hand-written template), with values picked to hit validation edges.
import { create, createFileRegistry, toBinary, type DescField, type DescMessage, type FileRegistry } from '@bufbuild/protobuf';
import { fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { descriptorSetBase64 } from '@svcnet/api';

// The same seeded generator as the churn tests, so a failing run replays from its seed.
export { seededRandom } from '@svcnet/proxy-core/testing';

const NASTY_STRINGS = [
  '',
  'default',
  'web',
  'None',
  'a',
  '*',
  '>',
  'a.b',
  'a b',
  'A',
  '-x-',
  '\u0000',
  'ünïcödé',
  '../../etc/passwd',
  'services.default.web',
  '10.96.0.10',
  '10.96.0.999',
  '0.0.0.0',
  '127.0.0.1',
  '169.254.169.254',
  '224.0.0.1',
  '::',
  'fe80::1%eth0',
  'fd00::1',
  '10.244.1.5',
  '192.0.2.1',
  '30080',
  'http',
  'TCP',
  'app=web',
  'app in (a)',
  'k=v,k2',
  '18446744073709551615',
  '9007199254740993',
];

/** Plausible values: most of a message is these, so requests get past the first check and reach deeper ones. */
const NICE_STRINGS = ['default', 'web', 'db', 'a', 'http', 'app', 'node1', '10.96.0.7', '10.244.1.5', 'fd00:96::7', 'None', '', 'TCP'];
const NICE_INTS = [0, 1, 80, 443, 6379, 8080, 30080, 10800];
/** Plausible values per field name, so that nearly valid requests get all the way to the store and the allocator. */
const NICE_BY_FIELD: Record<string, readonly unknown[]> = {
  namespace: ['default', 'default', 'kube-system', ''],
  name: ['web', 'db', 'web-1', 'a', ''],
  owner: ['default/web', 'default/db', 'kube-system/dns'],
  ip: ['10.96.0.7', '10.244.1.5', '10.244.2.9'],
  requested_ip: ['', '10.96.0.7', '10.96.0.200'],
  cluster_ip: ['', '', '10.96.0.9', 'None'],
  cluster_ips: ['10.96.0.9', 'fd00:96::9'],
  external_ips: ['192.0.2.4'],
  node_name: ['node1', 'node2', ''],
  uid: [''],
  port: [80, 443, 6379, 8080],
  container_port: [8080, 6379],
  requested_port: [0, 30080, 30001],
  node_port: [0, 0, 30081],
  timeout_seconds: [0, 10800],
  label_selector: ['', 'app=web'],
  continue: [''],
  limit: [0, 2, 500],
};

export class ProtoFuzzer {
  private readonly registry: FileRegistry;
  /** Chance that one leaf value is hostile; drawn per message, so some are almost valid and some are all garbage. */
  private nastiness = 1;
  constructor(private readonly random: () => number) {
    const set = fromBinary(FileDescriptorSetSchema, Buffer.from(descriptorSetBase64, 'base64'));
    this.registry = createFileRegistry(set);
  }

  private pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.random() * xs.length)]!;
  }

  private chance(p: number): boolean {
    return this.random() < p;
  }

  private string(): string {
    if (!this.chance(this.nastiness)) return this.pick(NICE_STRINGS);
    const r = this.random();
    if (r < 0.6) return this.pick(NASTY_STRINGS);
    if (r < 0.75) return 'a'.repeat(this.pick([63, 64, 253, 254, 4096, 70_000]));
    if (r < 0.9) return this.pick(NASTY_STRINGS) + this.pick(NASTY_STRINGS);
    return Buffer.from(Array.from({ length: Math.floor(this.random() * 40) }, () => Math.floor(this.random() * 256))).toString('latin1');
  }

  private int32(): number {
    if (!this.chance(this.nastiness)) return this.pick(NICE_INTS);
    return this.pick([0, 1, -1, 80, 6379, 30080, 32767, 65535, 65536, 86400, 86401, 2 ** 31 - 1, -(2 ** 31)]);
  }

  private scalar(type: number): unknown {
    switch (type) {
      case 9: // string
        return this.string();
      case 8: // bool
        return this.chance(0.5);
      case 12: // bytes
        return new Uint8Array(Array.from({ length: Math.floor(this.random() * 16) }, () => Math.floor(this.random() * 256)));
      case 3: // int64
      case 4: // uint64
      case 6: // fixed64
      case 16: // sfixed64
      case 18: // sint64
        return this.pick([0n, 1n, 7n, 2n ** 53n + 1n, 2n ** 63n - 1n, ...(type === 4 || type === 6 ? [2n ** 64n - 1n] : [-1n])]);
      case 1: // double
      case 2: // float
        return this.pick([0, -1, 1.5, Number.MAX_VALUE]);
      case 13: // uint32
      case 7: // fixed32
        return this.pick([0, 1, 500, 5000, 2 ** 32 - 1]);
      default:
        return this.int32();
    }
  }

  private enumValue(values: readonly { number: number }[]): number {
    return !this.chance(this.nastiness) || this.chance(0.7) ? this.pick(values).number : this.pick([-1, 7, 99, 2 ** 31 - 1]);
  }

  private fieldValue(field: DescField, depth: number): unknown {
    const nice = NICE_BY_FIELD[field.name];
    if (nice && !this.chance(this.nastiness)) {
      if (field.fieldKind === 'scalar') return this.pick(nice);
      if (field.fieldKind === 'list' && field.listKind === 'scalar') return this.chance(0.5) ? [] : [this.pick(nice)];
    }
    switch (field.fieldKind) {
      case 'scalar':
        return this.scalar(field.scalar);
      case 'enum':
        return this.enumValue(field.enum.values);
      case 'message':
        return depth > 4 ? undefined : this.messageInit(field.message, depth + 1);
      case 'list': {
        const n = this.chance(this.nastiness) ? this.pick([0, 1, 1, 2, 3, 50]) : this.pick([0, 1, 1, 2]);
        return Array.from({ length: n }, () =>
          field.listKind === 'scalar'
            ? this.scalar(field.scalar)
            : field.listKind === 'enum'
              ? this.enumValue(field.enum.values)
              : this.messageInit(field.message, depth + 1),
        );
      }
      case 'map': {
        const n = this.chance(this.nastiness) ? this.pick([0, 1, 2, 40]) : this.pick([0, 1, 2]);
        const out: Record<string, unknown> = {};
        for (let i = 0; i < n; i++) {
          const value =
            field.mapKind === 'scalar'
              ? this.scalar(field.scalar)
              : field.mapKind === 'enum'
                ? this.enumValue(field.enum.values)
                : this.messageInit(field.message, depth + 1);
          out[this.chance(this.nastiness) ? `${this.string()}${i}` : `${this.pick(['app', 'tier', 'svcnet.io/x'])}${i}`] = value;
        }
        return out;
      }
    }
  }

  private messageInit(desc: DescMessage, depth: number): unknown {
    if (desc.typeName === 'google.protobuf.Timestamp') {
      return create(desc, { seconds: this.pick([0n, 1_700_000_000n, -1n, 2n ** 40n]), nanos: this.pick([0, 5, 999_999_999]) } as never);
    }
    const init: Record<string, unknown> = {};
    for (const member of desc.members) {
      if (member.kind === 'oneof') {
        if (this.chance(0.7)) {
          const f = this.pick(member.fields);
          const value = this.fieldValue(f, depth);
          if (value !== undefined) init[member.localName] = { case: f.localName, value };
        }
        continue;
      }
      if (this.chance(0.25)) continue; // left at its default
      const value = this.fieldValue(member, depth);
      if (value !== undefined) init[member.localName] = value;
    }
    return create(desc, init as never);
  }

  /** Every method of a service: its HTTP/2 path, request type and whether it streams responses. */
  methods(serviceName: string): { name: string; path: string; input: string; serverStreaming: boolean }[] {
    const svc = this.registry.getService(serviceName);
    if (!svc) throw new Error(`unknown service ${serviceName}`);
    return svc.methods.map((m) => ({
      name: m.name,
      path: `/${serviceName}/${m.name}`,
      input: m.input.typeName,
      serverStreaming: m.methodKind === 'server_streaming',
    }));
  }

  /** A random, well-formed encoding of the message type (e.g. `svcnet.v1.CreateServiceRequest`). */
  message(typeName: string): Uint8Array {
    const desc = this.registry.getMessage(typeName);
    if (!desc) throw new Error(`unknown message type ${typeName}`);
    this.nastiness = this.pick([0, 0.02, 0.05, 0.1, 0.3, 1]);
    return toBinary(desc, this.messageInit(desc, 0) as never);
  }

  /** Bytes that are mostly not a valid message at all. */
  bytes(): Uint8Array {
    const n = this.pick([0, 1, 2, 5, 30, 300, 3000]);
    return new Uint8Array(Array.from({ length: n }, () => Math.floor(this.random() * 256)));
  }
}
