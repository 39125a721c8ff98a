import { describe, expect, it } from 'vitest';
import { validateOwner } from './owner.js';

describe('validateOwner', () => {
  const cases = [
    { name: 'simple', owner: 'default/my-svc', ok: true },
    { name: 'digits in namespace', owner: '1ns/svc1', ok: true },
    { name: '63-char labels', owner: `${'a'.repeat(63)}/${'b'.repeat(63)}`, ok: true },
    { name: 'no slash', owner: 'my-svc', ok: false },
    { name: 'empty', owner: '', ok: false },
    { name: 'two slashes', owner: 'a/b/c', ok: false },
    { name: 'upper case', owner: 'Default/svc', ok: false },
    { name: 'name starts with a digit (DNS-1035)', owner: 'default/1svc', ok: false },
    { name: 'trailing dash', owner: 'default/svc-', ok: false },
    { name: 'label too long', owner: `default/${'b'.repeat(64)}`, ok: false },
    { name: 'dots', owner: 'default/my.svc', ok: false },
  ];
  it.each(cases)('$name', ({ owner, ok }) => {
    if (ok) expect(validateOwner(owner)).toBe(owner);
    else expect(() => validateOwner(owner)).toThrow(/owner: Invalid value.*<namespace>\/<name>/);
  });
});
