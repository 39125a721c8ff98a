// Public API of @svcnet/cluster: named exports only.
export {};
