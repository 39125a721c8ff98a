import { invalidField } from '@svcnet/model';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/**
 * Validates an owner `<namespace>/<name>`: the namespace a DNS-1123 label,
 * the service name a DNS-1035 label, both at most 63 characters (Kubernetes' rules).
 */
export function validateOwner(owner: string, field = 'owner'): string {
  const parts = owner.split('/');
  const [namespace, name] = parts;
  const ok =
    parts.length === 2 &&
    namespace !== undefined &&
    name !== undefined &&
    namespace.length <= 63 &&
    name.length <= 63 &&
    DNS1123_LABEL.test(namespace) &&
    DNS1035_LABEL.test(name);
  if (!ok) {
    throw invalidField(
      field,
      owner,
      "must be '<namespace>/<name>' of a service: a lowercase RFC 1123 label, '/', and a lowercase RFC 1035 label (e.g. 'default/my-svc')",
    );
  }
  return owner;
}
