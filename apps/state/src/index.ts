// Public API of @svcnet/state: named exports only.
export {};
