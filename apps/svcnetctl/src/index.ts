// Public API of @svcnet/svcnetctl: named exports only.
export {};
