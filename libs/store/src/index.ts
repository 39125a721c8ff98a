// Public API of @svcnet/store: named exports only.
export {};
