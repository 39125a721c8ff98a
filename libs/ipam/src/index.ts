// Public API of @svcnet/ipam: named exports only.
export {};
